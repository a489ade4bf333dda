"""ResNets for ImageNet (He et al. 2015), their plain baselines, and ResNeXt-50.

Everything is torchvision's ResNet class. resnet18/34 are torchvision's nets as they are; the
bottleneck nets are the paper's v1 (see ``_stride_in_first_conv``), with torchvision's v1.5
alongside; plain18/34 swap in a block without the shortcut.
"""

from __future__ import annotations

from typing import Any

import torchvision
from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock, ResNet


def _stride_in_first_conv(model: ResNet) -> ResNet:
    """Turn torchvision's ResNet v1.5 into the paper's v1; the parameters stay the same.

    In the paper (and its Caffe models) the first bottleneck of conv3_x, conv4_x and conv5_x
    downsamples with a stride-2 1x1 conv, which skips three of every four input positions.
    torchvision follows "v1.5" (fb.resnet.torch, NVIDIA), whose stride sits in the 3x3 conv
    instead: about 0.5% better top-1 at slightly more compute. The shortcut is the same in both.
    """
    for layer in (model.layer2, model.layer3, model.layer4):
        layer[0].conv1.stride = (2, 2)
        layer[0].conv2.stride = (1, 1)
    return model


def resnet18(num_classes: int = 1000) -> nn.Module:
    """ResNet-18: torchvision's, identical to the paper (basic blocks, projection shortcuts)."""
    return torchvision.models.resnet18(num_classes=num_classes)


def resnet34(num_classes: int = 1000) -> nn.Module:
    """ResNet-34: torchvision's, identical to the paper (basic blocks, projection shortcuts)."""
    return torchvision.models.resnet34(num_classes=num_classes)


def resnet50(num_classes: int = 1000) -> nn.Module:
    """ResNet-50 v1, as in the paper: downsampling bottlenecks stride in their first 1x1 conv."""
    return _stride_in_first_conv(torchvision.models.resnet50(num_classes=num_classes))


def resnet101(num_classes: int = 1000) -> nn.Module:
    """ResNet-101 v1, as in the paper: downsampling bottlenecks stride in their first 1x1 conv."""
    return _stride_in_first_conv(torchvision.models.resnet101(num_classes=num_classes))


def resnet152(num_classes: int = 1000) -> nn.Module:
    """ResNet-152 v1, as in the paper: downsampling bottlenecks stride in their first 1x1 conv."""
    return _stride_in_first_conv(torchvision.models.resnet152(num_classes=num_classes))


def resnet50_v1_5(num_classes: int = 1000) -> nn.Module:
    """ResNet-50 v1.5: torchvision's resnet50, striding in the 3x3 conv."""
    return torchvision.models.resnet50(num_classes=num_classes)


def resnet101_v1_5(num_classes: int = 1000) -> nn.Module:
    """ResNet-101 v1.5: torchvision's resnet101, striding in the 3x3 conv."""
    return torchvision.models.resnet101(num_classes=num_classes)


def resnet152_v1_5(num_classes: int = 1000) -> nn.Module:
    """ResNet-152 v1.5: torchvision's resnet152, striding in the 3x3 conv."""
    return torchvision.models.resnet152(num_classes=num_classes)


class PlainBlock(BasicBlock):
    """A BasicBlock without its shortcut: two 3x3 conv-BN layers and ReLUs, nothing added.

    torchvision's ResNet hands the first block of a stage a ``downsample`` projection; it is
    dropped, so a plain net has exactly the weighted layers of its ResNet minus the shortcuts.
    """

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(inplanes, planes, stride, None, *args, **kwargs)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)))


def plain18(num_classes: int = 1000) -> nn.Module:
    """Plain-18, the paper's baseline (sec. 4.1): resnet18's layers with no shortcuts."""
    return ResNet(PlainBlock, [2, 2, 2, 2], num_classes=num_classes)


def plain34(num_classes: int = 1000) -> nn.Module:
    """Plain-34: deeper than plain18 yet trains to a higher error, the degradation problem."""
    return ResNet(PlainBlock, [3, 4, 6, 3], num_classes=num_classes)


def resnext50_32x4d(num_classes: int = 1000) -> nn.Module:
    """ResNeXt-50 32x4d: torchvision's (3x3 convs in 32 groups of 4 channels, v1.5 stride)."""
    return torchvision.models.resnext50_32x4d(num_classes=num_classes)
