"""DenseNet-121 (Huang et al. 2016), as torchvision builds it."""

from __future__ import annotations

import torchvision
from torch import nn


def densenet121(num_classes: int = 1000) -> nn.Module:
    """DenseNet-121: torchvision's DenseNet-BC (growth 32, blocks 6-12-24-16, compression 0.5).

    torchvision matches the paper's ImageNet net, so nothing is rebuilt here.
    """
    return torchvision.models.densenet121(num_classes=num_classes)
