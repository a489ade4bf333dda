"""GoogLeNet (Inception v1, Szegedy et al. 2014): the paper's net and torchvision's.

torchvision's GoogLeNet is a later re-implementation: batch norm after every conv, no LRN and
a 3x3 conv in the "5x5" branch. ``googlenet`` here follows the paper's Table 1 instead.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torchvision
from torch import Tensor, nn


def _conv_relu(name: str, in_channels: int, out_channels: int, kernel_size: int,
               stride: int = 1) -> list[tuple[str, nn.Module]]:
    """A "same"-padded conv and its ReLU, named ``name`` and ``name_relu``."""
    return [(name, nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2)),
            (f"{name}_relu", nn.ReLU(inplace=True))]


def _lrn() -> nn.LocalResponseNorm:
    """The LocalRespNorm of the paper's Fig. 3, with Caffe's bvlc_googlenet settings."""
    return nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=1.0)


class Inception(nn.Module):
    """Four parallel branches (1x1; 1x1 then 3x3; 1x1 then 5x5; 3x3 max pool then 1x1),
    concatenated along channels. The 1x1 "reduce" convs keep the 3x3 and 5x5 convs cheap.
    """

    def __init__(self, in_channels: int, n1x1: int, n3x3red: int, n3x3: int, n5x5red: int,
                 n5x5: int, pool_proj: int) -> None:
        super().__init__()
        self.branch1 = nn.Sequential(OrderedDict(_conv_relu("conv1x1", in_channels, n1x1, 1)))
        self.branch2 = nn.Sequential(OrderedDict(
            _conv_relu("reduce", in_channels, n3x3red, 1) + _conv_relu("conv3x3", n3x3red, n3x3, 3)
        ))
        self.branch3 = nn.Sequential(OrderedDict(
            _conv_relu("reduce", in_channels, n5x5red, 1) + _conv_relu("conv5x5", n5x5red, n5x5, 5)
        ))
        self.branch4 = nn.Sequential(OrderedDict(
            [("pool", nn.MaxPool2d(kernel_size=3, stride=1, padding=1)),
             *_conv_relu("proj", in_channels, pool_proj, 1)]
        ))

    def forward(self, x: Tensor) -> Tensor:
        branches = (self.branch1, self.branch2, self.branch3, self.branch4)
        return torch.cat([branch(x) for branch in branches], dim=1)


# Table 1: in_channels, #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj.
_INCEPTIONS = {
    "3a": (192, 64, 96, 128, 16, 32, 32),
    "3b": (256, 128, 128, 192, 32, 96, 64),
    "4a": (480, 192, 96, 208, 16, 48, 64),
    "4b": (512, 160, 112, 224, 24, 64, 64),
    "4c": (512, 128, 128, 256, 24, 64, 64),
    "4d": (512, 112, 144, 288, 32, 64, 64),
    "4e": (528, 256, 160, 320, 32, 128, 128),
    "5a": (832, 256, 160, 320, 32, 128, 128),
    "5b": (832, 384, 192, 384, 48, 128, 128),
}


def _pool(name: str) -> tuple[str, nn.Module]:
    """The paper's 3x3 stride-2 max pool, rounding up as Caffe does: 112 -> 56 -> 28 -> 14 -> 7."""
    return name, nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)


def _inceptions(stage: str) -> list[tuple[str, nn.Module]]:
    return [(f"inception{key}", Inception(*cfg)) for key, cfg in _INCEPTIONS.items()
            if key.startswith(stage)]


def googlenet(num_classes: int = 1000, dropout: float = 0.4) -> nn.Module:
    """GoogLeNet as in the paper's Table 1 on a 3x224x224 image: no batch norm, real 5x5 convs.

    The two auxiliary classifiers are left out: they only add to the training loss and are
    discarded at inference. The head is a fixed 7x7 average pool, dropout 0.4 and one linear
    layer, so unlike torchvision's adaptive pool it expects 224x224 inputs.
    """
    return nn.Sequential(OrderedDict([
        *_conv_relu("conv1", 3, 64, 7, stride=2),
        _pool("pool1"), ("norm1", _lrn()),
        *_conv_relu("conv2_reduce", 64, 64, 1),
        *_conv_relu("conv2", 64, 192, 3),
        ("norm2", _lrn()), _pool("pool2"),
        *_inceptions("3"), _pool("pool3"),
        *_inceptions("4"), _pool("pool4"),
        *_inceptions("5"),
        ("avgpool", nn.AvgPool2d(kernel_size=7, stride=1)),
        ("flatten", nn.Flatten()),
        ("dropout", nn.Dropout(dropout)),
        ("fc", nn.Linear(1024, num_classes)),
    ]))


def googlenet_tv(num_classes: int = 1000) -> nn.Module:
    """torchvision's GoogLeNet without its auxiliary classifiers (6,624,904 params).

    ``init_weights=True`` asks for torchvision's truncated-normal init explicitly (it warns
    otherwise) and ``transform_input=False`` keeps the input as given.
    """
    return torchvision.models.googlenet(num_classes=num_classes, aux_logits=False,
                                        init_weights=True, transform_input=False)
