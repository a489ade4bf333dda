"""The families the course leads to after ResNet, exactly as torchvision builds them.

MobileNet v2/v3, EfficientNet, RegNet, ConvNeXt, ViT and Swin are torchvision's own
definitions, built by torchvision's builders without weights: the zoo only names them, so
the Compare page can take their published accuracies from torchvision's weights metadata
(which belongs to exactly these architectures) and no layer is rewritten here.
"""

from __future__ import annotations

import torchvision
from torch import nn


def _torchvision(name: str, num_classes: int) -> nn.Module:
    return torchvision.models.get_model(name, weights=None, num_classes=num_classes)


def mobilenet_v2(num_classes: int = 1000) -> nn.Module:
    """MobileNetV2 (Sandler et al. 2018), width 1.0: torchvision's ``mobilenet_v2``."""
    return _torchvision("mobilenet_v2", num_classes)


def mobilenet_v3_large(num_classes: int = 1000) -> nn.Module:
    """MobileNetV3-Large (Howard et al. 2019): torchvision's ``mobilenet_v3_large``."""
    return _torchvision("mobilenet_v3_large", num_classes)


def mobilenet_v3_small(num_classes: int = 1000) -> nn.Module:
    """MobileNetV3-Small (Howard et al. 2019): torchvision's ``mobilenet_v3_small``."""
    return _torchvision("mobilenet_v3_small", num_classes)


def efficientnet_b0(num_classes: int = 1000) -> nn.Module:
    """EfficientNet-B0 (Tan, Le 2019): torchvision's ``efficientnet_b0``."""
    return _torchvision("efficientnet_b0", num_classes)


def regnet_y_400mf(num_classes: int = 1000) -> nn.Module:
    """RegNetY-400MF (Radosavovic et al. 2020): torchvision's ``regnet_y_400mf``. Its builder
    computes the stage widths with ``torch.arange(...).tolist()``; the meta build keeps such
    value constructors real (cnnlib.meta), so it builds there as it is."""
    return _torchvision("regnet_y_400mf", num_classes)


def vit_b_16(num_classes: int = 1000) -> nn.Module:
    """ViT-B/16 (Dosovitskiy et al. 2020) for 224x224 inputs: torchvision's ``vit_b_16``."""
    return _torchvision("vit_b_16", num_classes)


def swin_t(num_classes: int = 1000) -> nn.Module:
    """Swin-T (Liu et al. 2021): torchvision's ``swin_t``."""
    return _torchvision("swin_t", num_classes)


def convnext_tiny(num_classes: int = 1000) -> nn.Module:
    """ConvNeXt-T (Liu et al. 2022): torchvision's ``convnext_tiny``."""
    return _torchvision("convnext_tiny", num_classes)
