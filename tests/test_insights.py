"""Sentences read off the charts, and training memory: the saved-for-backward rule against what
autograd really keeps (saved_tensors_hooks on a real CPU forward)."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

import cnnlib
from cnnlib import insights
from cnnlib.formulas import human_bytes
from cnnlib.models import registry


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.0f}%"


def test_vgg16_sentences_are_computed() -> None:
    p = cnnlib.profile("vgg16")
    layers = p.layers
    fc = layers[layers["type"] == "Linear"]
    fc_params = _pct(fc["params"].sum(), p.totals["params"])
    # The first two stages, each with the pool that closes it: rows 0-9 of the table.
    early = layers.iloc[:10]
    early_memory = _pct(early.loc[early["type"] != "ReLU", "activations"].sum(),
                        p.totals["activations"])
    at_56 = layers[(layers["type"] == "Conv2d") & (layers["output_shape"].str.endswith("56x56"))]
    assert [fc_params, early_memory, _pct(at_56["macs"].sum(), p.totals["macs"])] == \
        ["89%", "72%", "30%"]
    assert insights.sentences(p) == [
        "89% of the parameters are in the 3 fully connected layers, which do 0.8% of the "
        "multiply-adds.",
        "72% of the activation memory is in the layers working on 224x224 and 112x112 maps, "
        "among them the first 4 of the 13 conv layers.",
        "The 3x3 convs on 56x56 maps do 30% of the multiply-adds, as many as those on 28x28 "
        "maps.",
    ]


def test_resnet152_memory_sits_where_the_blocks_are() -> None:
    """Not front-loaded: the sentence names the one resolution that holds the most."""
    memory = insights.sentences(cnnlib.profile("resnet152"))[1]
    assert memory.startswith("The layers working on 14x14 maps hold the most activation memory")


def _hygiene(sentences: list[str]) -> None:
    assert 1 <= len(sentences) <= 4
    for s in sentences:
        assert not s[0].islower() and s.endswith("."), s
        assert not re.search(r"\b(nan|inf|None)\b|the 0 |the 1 | 0 (conv|fully)|100%", s), s


@pytest.mark.parametrize("name", registry.names())
def test_sentences_read_well_for_every_zoo_model(name: str) -> None:
    sentences = insights.sentences(cnnlib.profile(name))
    _hygiene(sentences)
    assert len(sentences) >= 2


@pytest.mark.parametrize("module,size", [
    (nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 10)),
     "3x8x8"),
    (nn.Sequential(nn.Flatten(), nn.Linear(192, 10)), "3x8x8"),
    (nn.Sequential(nn.MaxPool2d(2)), "3x8x8"),
    (nn.Sequential(nn.ReLU(inplace=True)), "3x8x8"),
    (nn.Sequential(nn.Conv2d(3, 4, 1, bias=False)), "3x8x8"),
])
def test_sentences_for_any_sequential(module: nn.Module, size: str) -> None:
    _hygiene(insights.sentences(cnnlib.profile(module, size)))


# ---------------------------------------------------------------- training memory


def test_training_memory_rows() -> None:
    p = cnnlib.profile("vgg16")
    params = p.totals["params"]
    for optimizer, state in (("sgd", 0), ("sgd_momentum", 1), ("adam", 2)):
        frame = insights.training_memory(p, 8, optimizer).set_index("part")
        assert frame.loc["weights", "bytes"] == frame.loc["gradients", "bytes"] == 4 * params
        assert frame.loc["optimizer state", "bytes"] == state * 4 * params
        assert frame.loc["activations (forward)", "bytes"] == 8 * p.totals["memory_bytes"]
        kept = insights.saved_for_backward(p, 8)
        assert frame.loc["activations kept for backward", "bytes"] == kept
        assert frame.loc["total", "bytes"] == (2 + state) * 4 * params + kept
        assert (frame["readable"] == frame["bytes"].map(human_bytes)).all()
    half = insights.training_memory(p, 8, bytes_per_element=2).set_index("part")["bytes"]
    assert half["weights"] == 2 * params
    with pytest.raises(ValueError, match="adam"):
        insights.training_memory(p, 8, "rmsprop")
    with pytest.raises(ValueError):
        insights.training_memory(p, 0)


def test_kept_activations_grow_with_the_batch() -> None:
    """Linear in the batch, except batch norm's per-channel statistics."""
    lenet = cnnlib.profile("lenet5")
    assert insights.saved_for_backward(lenet, 4) == 4 * insights.saved_for_backward(lenet, 1)
    resnet = cnnlib.profile("cifar_resnet20")
    stats = 2 * 4 * sum(int(s.split("x")[0]) for s in
                        resnet.layers.loc[resnet.layers["type"] == "BatchNorm2d", "output_shape"])
    one, four = (insights.saved_for_backward(resnet, b) for b in (1, 4))
    assert four - stats == 4 * (one - stats)


def _saved_by_autograd(model: nn.Module, x: torch.Tensor) -> int:
    """Bytes of the distinct storages autograd saves during a training forward, weights and
    buffers left out (they are not activations)."""
    weights = {t.untyped_storage().data_ptr() for t in (*model.parameters(), *model.buffers())}
    kept: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        if storage.data_ptr() not in weights and storage.nbytes():
            kept[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x)
    return sum(kept.values())


@pytest.mark.parametrize("name,options,size,batch", [
    ("lenet5", {}, None, 2),  # tanh, average pooling
    ("lenet5", {"style": "modern"}, None, 2),  # ReLU, max pooling (int64 indices)
    ("cifar_resnet20", {}, None, 2),  # batch norm, in-place ReLU, option-A shortcut views
    ("alexnet", {}, (3, 96, 96), 2),  # dropout, a non-global adaptive pool, flatten
    ("alexnet_original", {}, None, 1),  # LRN and its temporaries
    ("resnet18", {}, (3, 64, 64), 2),  # in-place residual add
    ("googlenet_tv", {}, (3, 64, 64), 2),  # concat, functional ReLU, global pool
    ("mobilenet_v2", {}, (3, 64, 64), 2),  # in-place ReLU6 (hardtanh_ copies its input)
    ("efficientnet_b0", {}, (3, 64, 64), 2),  # in-place SiLU, squeeze-excitation, stoch. depth
    ("convnext_tiny", {}, (3, 64, 64), 2),  # layer norm's statistics, GELU, layer scale
    ("vit_b_16", {}, None, 1),  # multi-head attention (SDPA's flash kernel), dropout p = 0
    ("swin_t", {}, (3, 160, 160), 1),  # window attention's internals, padded windows (40x40)
])
def test_saved_for_backward_equals_autograd(name: str, options: dict, size: tuple | None,
                                            batch: int) -> None:
    torch.manual_seed(0)
    model = registry.build(name, **options).train()
    size = size or registry.get(name).input_size
    real = _saved_by_autograd(model, torch.randn(batch, *size))
    assert insights.saved_for_backward(cnnlib.profile(model, size), batch) == real
