"""The CIFAR-10 ResNets and plain nets of He et al. 2015, sec. 4.2 (6n+2 layers, 32x32 input).

torchvision has no CIFAR ResNets. The paper's CIFAR nets use shortcut option A (identity, and
zero-padding where the channels grow), so a residual net and its plain twin have the very
same parameters and differ only in the additions.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from cnnlib.errors import ModelOptionError


class ShortcutA(nn.Module):
    """Option A shortcut: keep every ``stride``-th pixel and zero-pad the new channels.

    It has no parameters. The padding is fixed at build time from the channel counts (half
    the new channels on each side, as in common CIFAR ResNet code), so tracing needs no shapes.
    """

    def __init__(self, in_planes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        extra = planes - in_planes
        self.pad = (0, 0, 0, 0, extra // 2, extra - extra // 2)  # (W, H, C) pairs for F.pad

    def forward(self, x: Tensor) -> Tensor:
        return torch.nn.functional.pad(x[:, :, :: self.stride, :: self.stride], self.pad)


class CifarBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN, plus the shortcut when ``residual``, then ReLU."""

    def __init__(self, in_planes: int, planes: int, stride: int, residual: bool) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut: nn.Module | None = None
        if residual:
            changes = stride != 1 or in_planes != planes
            self.shortcut = ShortcutA(in_planes, planes, stride) if changes else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return self.relu(out)


class CifarResNet(nn.Module):
    """A 3x3 conv with 16 filters, three stages of ``n`` blocks (16, 32, 64 filters; stages 2
    and 3 halve the map, 32 -> 16 -> 8), global average pooling and a linear classifier.
    """

    def __init__(self, n: int, residual: bool, num_classes: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU(inplace=True)
        stages = []
        in_planes = 16
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = [CifarBlock(in_planes, planes, stride, residual)]
            blocks += [CifarBlock(planes, planes, 1, residual) for _ in range(n - 1)]
            stages.append(nn.Sequential(*blocks))
            in_planes = planes
        self.layer1, self.layer2, self.layer3 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                # He init (the paper's ref. [13]): std sqrt(2 / fan_in) for convs before ReLU.
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.flatten(self.avgpool(x)))


def cifar_resnet(depth: int, residual: bool = True, num_classes: int = 10) -> nn.Module:
    """A CIFAR net of ``depth`` = 6n+2 weighted layers; ``residual=False`` gives the plain net."""
    n, rest = divmod(depth - 2, 6)
    if rest or n < 1:
        raise ModelOptionError(
            f"A CIFAR ResNet has 6n+2 layers (20, 32, 44, 56, 110...), so depth {depth} is not one."
        )
    return CifarResNet(n, residual, num_classes)


def cifar_resnet20(num_classes: int = 10) -> nn.Module:
    """ResNet-20 (n=3), 0.27M params."""
    return cifar_resnet(20, num_classes=num_classes)


def cifar_resnet32(num_classes: int = 10) -> nn.Module:
    """ResNet-32 (n=5), 0.46M params."""
    return cifar_resnet(32, num_classes=num_classes)


def cifar_resnet44(num_classes: int = 10) -> nn.Module:
    """ResNet-44 (n=7), 0.66M params."""
    return cifar_resnet(44, num_classes=num_classes)


def cifar_resnet56(num_classes: int = 10) -> nn.Module:
    """ResNet-56 (n=9), 0.85M params."""
    return cifar_resnet(56, num_classes=num_classes)


def cifar_resnet110(num_classes: int = 10) -> nn.Module:
    """ResNet-110 (n=18), 1.7M params."""
    return cifar_resnet(110, num_classes=num_classes)


def cifar_plain20(num_classes: int = 10) -> nn.Module:
    """Plain-20: cifar_resnet20 without the shortcuts."""
    return cifar_resnet(20, residual=False, num_classes=num_classes)


def cifar_plain32(num_classes: int = 10) -> nn.Module:
    """Plain-32: cifar_resnet32 without the shortcuts."""
    return cifar_resnet(32, residual=False, num_classes=num_classes)


def cifar_plain44(num_classes: int = 10) -> nn.Module:
    """Plain-44: cifar_resnet44 without the shortcuts."""
    return cifar_resnet(44, residual=False, num_classes=num_classes)


def cifar_plain56(num_classes: int = 10) -> nn.Module:
    """Plain-56: cifar_resnet56 without shortcuts; it trains worse than Plain-20 (Fig. 1)."""
    return cifar_resnet(56, residual=False, num_classes=num_classes)


def cifar_plain110(num_classes: int = 10) -> nn.Module:
    """Plain-110: cifar_resnet110 without the shortcuts."""
    return cifar_resnet(110, residual=False, num_classes=num_classes)
