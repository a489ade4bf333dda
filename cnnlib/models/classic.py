"""The pre-VGG classics: LeNet-5, AlexNet (torchvision's and the 2012 paper's), ZFNet and NiN.

Each hand-written net is one flat ``nn.Sequential`` whose layer names follow the paper
(``c1``/``s2`` for LeNet, ``conv1``/``norm1``/``pool1``/``fc6`` for AlexNet and ZFNet), so a
layer table reads like the paper's figure.
"""

from __future__ import annotations

from collections import OrderedDict

import torchvision
from torch import nn

from cnnlib.errors import ModelOptionError


def _lrn() -> nn.LocalResponseNorm:
    """AlexNet's local response normalisation (sec. 3.3): n=5, alpha=1e-4, beta=0.75, k=2."""
    return nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0)


def lenet5(num_classes: int = 10, style: str = "classic") -> nn.Module:
    """LeNet-5 on a 1x32x32 image: C1-S2-C3-S4-C5 then F6 and the output layer (61,706 params).

    ``style="classic"`` uses tanh and average pooling (the paper's subsampling layers, minus
    their trainable scale and bias); ``style="modern"`` uses ReLU and max pooling, as most
    courses do today. C3 connects to all six S2 maps rather than the paper's sparse table.
    """
    styles = {"classic": (nn.Tanh, nn.AvgPool2d), "modern": (nn.ReLU, nn.MaxPool2d)}
    if style not in styles:
        raise ModelOptionError(
            f"lenet5 style must be 'classic' (tanh, average pooling) or 'modern' (ReLU, max "
            f"pooling), not {style!r}."
        )
    act, pool = styles[style]
    return nn.Sequential(OrderedDict([
        ("c1", nn.Conv2d(1, 6, kernel_size=5)), ("act1", act()),
        ("s2", pool(kernel_size=2, stride=2)),
        ("c3", nn.Conv2d(6, 16, kernel_size=5)), ("act3", act()),
        ("s4", pool(kernel_size=2, stride=2)),
        ("c5", nn.Conv2d(16, 120, kernel_size=5)), ("act5", act()),
        ("flatten", nn.Flatten()),
        ("f6", nn.Linear(120, 84)), ("act6", act()),
        ("output", nn.Linear(84, num_classes)),
    ]))


def alexnet(num_classes: int = 1000, dropout: float = 0.5) -> nn.Module:
    """torchvision's AlexNet: the 2014 "one weird trick" single-GPU variant (64-192-384-256-256).

    It has no LRN and fewer filters in conv1/conv2 than the 2012 paper; see alexnet_original.
    """
    return torchvision.models.alexnet(num_classes=num_classes, dropout=dropout)


def alexnet_original(num_classes: int = 1000, groups: int = 2) -> nn.Module:
    """AlexNet as in Krizhevsky et al. 2012 on a 3x227x227 image (60,965,224 params).

    The paper split the net over two GPUs: conv2, conv4 and conv5 only see the maps on their
    own GPU, which ``groups=2`` reproduces; conv3 and the fc layers connect across both.
    ``groups=1`` joins the halves (62,378,344 params). LRN comes before max pooling, as in the
    paper (Caffe's CaffeNet swaps the two).
    """
    if groups not in (1, 2):
        raise ModelOptionError(
            f"alexnet_original groups must be 2 (the paper's two GPUs) or 1 (one GPU), "
            f"not {groups!r}."
        )
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(3, 96, kernel_size=11, stride=4)), ("relu1", nn.ReLU(inplace=True)),
        ("norm1", _lrn()), ("pool1", nn.MaxPool2d(kernel_size=3, stride=2)),
        ("conv2", nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=groups)),
        ("relu2", nn.ReLU(inplace=True)),
        ("norm2", _lrn()), ("pool2", nn.MaxPool2d(kernel_size=3, stride=2)),
        ("conv3", nn.Conv2d(256, 384, kernel_size=3, padding=1)), ("relu3", nn.ReLU(inplace=True)),
        ("conv4", nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=groups)),
        ("relu4", nn.ReLU(inplace=True)),
        ("conv5", nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=groups)),
        ("relu5", nn.ReLU(inplace=True)),
        ("pool5", nn.MaxPool2d(kernel_size=3, stride=2)),
        ("flatten", nn.Flatten()),
        ("dropout6", nn.Dropout(0.5)), ("fc6", nn.Linear(256 * 6 * 6, 4096)),
        ("relu6", nn.ReLU(inplace=True)),
        ("dropout7", nn.Dropout(0.5)), ("fc7", nn.Linear(4096, 4096)),
        ("relu7", nn.ReLU(inplace=True)),
        ("fc8", nn.Linear(4096, num_classes)),
    ]))


def zfnet(num_classes: int = 1000, conv345: tuple[int, int, int] = (384, 384, 256)) -> nn.Module:
    """ZFNet (Zeiler & Fergus 2013) on a 3x224x224 image.

    Visualising AlexNet's first layers showed dead and aliased filters, so conv1 became 7x7
    stride 2 (110x110 maps) and conv2 stride 2; the net runs on one GPU, so no groups. Pooling
    comes before normalisation here (the paper's Fig. 3). ``conv345`` sets the filters of
    conv3-5: the paper's Table 2 also tried (512, 1024, 512).
    """
    c3, c4, c5 = conv345
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(3, 96, kernel_size=7, stride=2, padding=1)),
        ("relu1", nn.ReLU(inplace=True)),
        ("pool1", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)), ("norm1", _lrn()),
        ("conv2", nn.Conv2d(96, 256, kernel_size=5, stride=2)), ("relu2", nn.ReLU(inplace=True)),
        ("pool2", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)), ("norm2", _lrn()),
        ("conv3", nn.Conv2d(256, c3, kernel_size=3, padding=1)), ("relu3", nn.ReLU(inplace=True)),
        ("conv4", nn.Conv2d(c3, c4, kernel_size=3, padding=1)), ("relu4", nn.ReLU(inplace=True)),
        ("conv5", nn.Conv2d(c4, c5, kernel_size=3, padding=1)), ("relu5", nn.ReLU(inplace=True)),
        ("pool5", nn.MaxPool2d(kernel_size=3, stride=2)),
        ("flatten", nn.Flatten()),
        ("dropout6", nn.Dropout(0.5)), ("fc6", nn.Linear(c5 * 6 * 6, 4096)),
        ("relu6", nn.ReLU(inplace=True)),
        ("dropout7", nn.Dropout(0.5)), ("fc7", nn.Linear(4096, 4096)),
        ("relu7", nn.ReLU(inplace=True)),
        ("fc8", nn.Linear(4096, num_classes)),
    ]))


def _mlpconv(in_channels: int, out_channels: int, kernel_size: int, stride: int,
             padding: int) -> nn.Sequential:
    """NiN's mlpconv block: a conv then two 1x1 convs, a tiny MLP slid over every position."""
    return nn.Sequential(OrderedDict([
        ("conv", nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding)),
        ("relu", nn.ReLU(inplace=True)),
        ("mlp1", nn.Conv2d(out_channels, out_channels, kernel_size=1)),
        ("mlp1_relu", nn.ReLU(inplace=True)),
        ("mlp2", nn.Conv2d(out_channels, out_channels, kernel_size=1)),
        ("mlp2_relu", nn.ReLU(inplace=True)),
    ]))


def nin(num_classes: int = 1000) -> nn.Module:
    """Network in Network, ImageNet variant (as in d2l.ai), on a 3x224x224 image.

    The last mlpconv emits one map per class and global average pooling turns each map into
    its class score: no fully connected layers, so 7.4M params against AlexNet's 61M.
    """
    return nn.Sequential(OrderedDict([
        ("mlpconv1", _mlpconv(3, 96, kernel_size=11, stride=4, padding=0)),
        ("pool1", nn.MaxPool2d(kernel_size=3, stride=2)),
        ("mlpconv2", _mlpconv(96, 256, kernel_size=5, stride=1, padding=2)),
        ("pool2", nn.MaxPool2d(kernel_size=3, stride=2)),
        ("mlpconv3", _mlpconv(256, 384, kernel_size=3, stride=1, padding=1)),
        ("pool3", nn.MaxPool2d(kernel_size=3, stride=2)),
        ("dropout", nn.Dropout(0.5)),
        ("mlpconv4", _mlpconv(384, num_classes, kernel_size=3, stride=1, padding=1)),
        ("avgpool", nn.AdaptiveAvgPool2d(1)),
        ("flatten", nn.Flatten()),
    ]))
