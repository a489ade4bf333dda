"""The ``stage`` column is the image grid a layer works on, whatever the tensor's layout.

Transformers and ConvNeXt work on channels-last maps (N, H, W, C) and on tokens (N, L, C);
reading a stage off the last dims of those gave '768' and '56x96' stages. The grids expected
here are the papers': ViT-B/16 at 224 (Dosovitskiy et al. 2021) cuts 14x14 patches and adds a
class token (197 tokens); Swin-T (Liu et al. 2021, Table 7) and ConvNeXt-T (Liu et al. 2022)
work at 56x56, 28x28, 14x14 and 7x7.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import cnnlib
from cnnlib import analysis, graph, insights


def stages(model: str | nn.Module, size: str | None = None) -> list[str]:
    """The distinct stages, in network order."""
    return list(dict.fromkeys(cnnlib.profile(model, size).layers["stage"]))


def test_stage_text_names_maps_tokens_and_head() -> None:
    assert analysis.stage_text((56, 56)) == "56x56"
    assert analysis.stage_text((197,)) == "197 tokens"
    assert analysis.stage_text(()) == "head"


def test_vit_works_on_its_14x14_patches_then_197_tokens() -> None:
    p = cnnlib.profile("vit_b_16")
    assert stages("vit_b_16") == ["14x14", "197 tokens", "head"]
    layers = p.layers.set_index("name")
    assert layers.loc["reshape", "stage"] == "14x14"  # 196 tokens: still the grid
    assert layers.loc["cat", "stage"] == "197 tokens"  # a class token joined: a count
    assert layers.loc["class_token", "stage"] == "197 tokens"  # a weight: where it is read
    assert layers.loc["heads.head", "stage"] == "head"
    text = " ".join(insights.sentences(p))
    assert "on 197 tokens" in text and "768" not in text and "tokens maps" not in text
    assert "at 197 tokens" in graph.to_dot(p, "stages")


@pytest.mark.parametrize("model", ["swin_t", "convnext_tiny"])
def test_channels_last_nets_work_on_the_papers_grids(model: str) -> None:
    p = cnnlib.profile(model)
    assert stages(model) == ["56x56", "28x28", "14x14", "7x7", "1x1", "head"]
    text = " ".join(insights.sentences(p))
    assert "56x96" not in text and "14x384" not in text and "56x56" in text
    dot = graph.to_dot(p, "stages")
    assert all(f"at {s}x{s}" in dot for s in (56, 28, 14, 7))


class ChannelsLast(nn.Module):
    """A conv, then channels-last work: a norm and a linear on C, Swin's patch merging (slices
    of every other row and column, concatenated on C), back to NCHW."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 4, stride=4)
        self.norm = nn.LayerNorm(8)
        self.fc = nn.Linear(32, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.conv(x).permute(0, 2, 3, 1))
        x = torch.cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :],
                       x[..., 0::2, 1::2, :], x[..., 1::2, 1::2, :]], -1)
        x = self.fc(x)
        return torch.movedim(x, -1, 1).mean((2, 3))


def test_channels_last_slicing_and_moving_dims() -> None:
    layers = cnnlib.profile(ChannelsLast(), "3x32x24").layers.set_index("name")
    assert layers.loc["conv", "stage"] == "8x6"
    assert layers.loc["permute", "stage"] == "8x6"
    assert layers.loc["norm", "stage"] == "8x6"
    assert layers.loc["getitem", "stage"] == "4x3"
    assert layers.loc["cat", "stage"] == "4x3"
    assert layers.loc["fc", "stage"] == "4x3"
    assert layers.loc["movedim", "stage"] == "4x3"
    assert layers.loc["mean", "stage"] == "head"


class Tokens(nn.Module):
    """Patches flattened to tokens, transposed, a class token concatenated, one token kept."""

    def __init__(self) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, 8, 8, stride=8)
        self.cls = nn.Parameter(torch.zeros(1, 1, 8))
        self.fc = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = self.fc(x)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1)
        return x[:, 0]


def test_tokens_keep_their_grid_until_a_class_token_joins() -> None:
    layers = cnnlib.profile(Tokens(), "3x32x16").layers.set_index("name")
    assert layers.loc["patch", "stage"] == "4x2"
    assert layers.loc["flatten", "stage"] == "4x2"  # 8 tokens: the 4x2 grid
    assert layers.loc["transpose", "stage"] == "4x2"
    assert layers.loc["fc", "stage"] == "4x2"
    assert layers.loc["cat", "stage"] == "9 tokens"
    assert layers.loc["getitem", "stage"] == "head"


class Unflattened(nn.Module):
    """Tokens reshaped back into their grid: maps again."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        t = x.reshape(n, c, h * w).permute(0, 2, 1)
        return t.reshape(n, h, w, c) * 2


def test_tokens_reshaped_back_into_the_grid() -> None:
    layers = cnnlib.profile(Unflattened(), "3x6x4").layers
    assert list(layers["stage"]) == ["6x4", "6x4", "6x4", "6x4"]


def test_nchw_nets_keep_their_stages() -> None:
    assert stages("resnet50") == ["112x112", "56x56", "28x28", "14x14", "7x7", "1x1", "head"]
    assert stages("vgg16") == ["224x224", "112x112", "56x56", "28x28", "14x14", "7x7", "head"]
