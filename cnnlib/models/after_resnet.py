"""The families the course leads to after ResNet, exactly as torchvision builds them.

MobileNet v2/v3, EfficientNet, RegNet, ConvNeXt, ViT and Swin are torchvision's own
definitions, built by torchvision's builders without weights: the zoo only names them, so
the Compare page can take their published accuracies from torchvision's weights metadata
(which belongs to exactly these architectures) and no layer is rewritten here.
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn
from torchvision.models import regnet


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
    """RegNetY-400MF (Radosavovic et al. 2020): torchvision's ``regnet_y_400mf``.

    torchvision's builder computes the stage widths with torch tensors and ``.tolist()``,
    which fails on the meta device that analyses build on. So the widths are computed here
    on the CPU, with the builder's own settings and function, outside any device mode, and
    the net is made by the builder's own ``_regnet``: the same net (the tests hold its
    parameters and state-dict layout to torchvision's).
    """
    with torch._C.DisableTorchFunction():  # the widths, as numbers, not meta tensors
        params = regnet.BlockParams.from_init_params(depth=16, w_0=48, w_a=27.89, w_m=2.09,
                                                     group_width=8, se_ratio=0.25)
    return regnet._regnet(params, None, False, num_classes=num_classes)


def vit_b_16(num_classes: int = 1000) -> nn.Module:
    """ViT-B/16 (Dosovitskiy et al. 2020) for 224x224 inputs: torchvision's ``vit_b_16``."""
    return _torchvision("vit_b_16", num_classes)


def swin_t(num_classes: int = 1000) -> nn.Module:
    """Swin-T (Liu et al. 2021): torchvision's ``swin_t``."""
    return _torchvision("swin_t", num_classes)


def convnext_tiny(num_classes: int = 1000) -> nn.Module:
    """ConvNeXt-T (Liu et al. 2022): torchvision's ``convnext_tiny``."""
    return _torchvision("convnext_tiny", num_classes)
