"""VGG (Simonyan & Zisserman 2014), configurations A, A-LRN, B, C, D and E of the paper's Table 1.

torchvision builds A, B, D and E (vgg11/13/16/19) exactly; A-LRN and C are built here from
the table below and share torchvision's VGG class, so their classifier and init are the same.
"""

from __future__ import annotations

import torchvision
from torch import nn
from torchvision.models.vgg import VGG

# The paper's Table 1 notation: "conv<k>-<n>" is a k x k convolution with n filters (stride 1,
# "same" padding) followed by ReLU, "LRN" local response normalisation, "M" 2x2 max pooling.
_CONFIGS: dict[str, list[str]] = {
    "A-LRN": ["conv3-64", "LRN", "M", "conv3-128", "M", "conv3-256", "conv3-256", "M",
              "conv3-512", "conv3-512", "M", "conv3-512", "conv3-512", "M"],
    "C": ["conv3-64", "conv3-64", "M", "conv3-128", "conv3-128", "M",
          "conv3-256", "conv3-256", "conv1-256", "M", "conv3-512", "conv3-512", "conv1-512", "M",
          "conv3-512", "conv3-512", "conv1-512", "M"],
}


def _features(config: list[str]) -> nn.Sequential:
    """The conv part of a Table 1 column, laid out like torchvision's ``features``."""
    layers: list[nn.Module] = []
    in_channels = 3
    for item in config:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        elif item == "LRN":
            # The paper uses AlexNet's LRN settings (sec. 2.3): n=5, alpha=1e-4, beta=0.75, k=2.
            layers.append(nn.LocalResponseNorm(size=5, alpha=1e-4, beta=0.75, k=2.0))
        else:
            kernel, width = (int(n) for n in item.removeprefix("conv").split("-"))
            layers += [nn.Conv2d(in_channels, width, kernel, padding=kernel // 2),
                       nn.ReLU(inplace=True)]
            in_channels = width
    return nn.Sequential(*layers)


def _torchvision_vgg(name: str, num_classes: int, batch_norm: bool) -> nn.Module:
    """torchvision's VGG ``name``, or its batch-norm variant (a later addition, not the paper's)."""
    return torchvision.models.get_model(f"{name}_bn" if batch_norm else name,
                                        num_classes=num_classes)


def vgg11(num_classes: int = 1000, batch_norm: bool = False) -> nn.Module:
    """Configuration A: torchvision's vgg11 (vgg11_bn with ``batch_norm=True``)."""
    return _torchvision_vgg("vgg11", num_classes, batch_norm)


def vgg11_lrn(num_classes: int = 1000) -> nn.Module:
    """Configuration A-LRN: A plus LRN after conv1. The paper found LRN does not help (sec. 4.1)."""
    return VGG(_features(_CONFIGS["A-LRN"]), num_classes=num_classes, init_weights=True)


def vgg13(num_classes: int = 1000, batch_norm: bool = False) -> nn.Module:
    """Configuration B: torchvision's vgg13 (vgg13_bn with ``batch_norm=True``)."""
    return _torchvision_vgg("vgg13", num_classes, batch_norm)


def vgg16_c(num_classes: int = 1000) -> nn.Module:
    """Configuration C: 16 layers whose last conv in stages 3-5 is 1x1 (torchvision lacks it).

    The paper's test of extra non-linearity without a larger receptive field: C beats B but
    loses to D, so spatial context matters.
    """
    return VGG(_features(_CONFIGS["C"]), num_classes=num_classes, init_weights=True)


def vgg16(num_classes: int = 1000, batch_norm: bool = False) -> nn.Module:
    """Configuration D: torchvision's vgg16 (vgg16_bn with ``batch_norm=True``)."""
    return _torchvision_vgg("vgg16", num_classes, batch_norm)


def vgg19(num_classes: int = 1000, batch_norm: bool = False) -> nn.Module:
    """Configuration E: torchvision's vgg19 (vgg19_bn with ``batch_norm=True``)."""
    return _torchvision_vgg("vgg19", num_classes, batch_norm)
