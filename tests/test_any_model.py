"""Any model, counted right: every torchvision classification model against independent
oracles, and one small hand-written module for each way a model used to be miscounted.

The oracles: ``sum(p.numel())`` for parameters (used + unused = all), a forward with hooks
for every torch.nn layer's output shape (on meta tensors, which run torch's own shape
functions; and a real CPU forward where the model is small), and
``torch.utils.flop_counter.FlopCounterMode`` for the multiply-adds of convolutions, linear
layers, matrix products and attention. Models are built on the meta device, so even
RegNet-Y-128GF (645M parameters) costs no memory; one thread keeps the suite's time in check.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import fx, nn
from torch.utils.flop_counter import FlopCounterMode

import cnnlib
from cnnlib import analysis
from cnnlib.errors import AnalysisError, CnnlibError

#: Row types whose multiply-adds are matrix products, which is all FlopCounterMode counts.
MATRIX_TYPES = {"Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
                "ConvTranspose3d", "Linear", "linear", "conv1d", "conv2d", "conv3d",
                "conv_transpose2d", "matmul", "einsum", "attention", "MultiheadAttention"}
#: A real CPU forward as well, for models this small at inputs this small (seconds in all).
REAL_PARAMS, REAL_SIDE = 8_000_000, 128


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def matrix_macs(result: analysis.Profile) -> int:
    """Conv/linear/matmul/attention MACs, plus those a layer without a formula had counted by
    FlopCounterMode itself (the fallback's note says so)."""
    return sum(r.calc.macs for r in result.rows
               if r.calc.type in MATRIX_TYPES or r.calc.note.startswith("counted by torch"))


def _first_tensor(value: object) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        return next((t for t in map(_first_tensor, value) if t is not None), None)
    return None


def hooked_forward(model: nn.Module, x: torch.Tensor
                   ) -> tuple[list[tuple[str, tuple[int, ...]]], int, torch.Tensor]:
    """One forward: every torch.nn leaf's (first) output shape in call order, and the FLOPs
    FlopCounterMode counts."""
    seen: list[tuple[str, tuple[int, ...]]] = []
    names = {m: n for n, m in model.named_modules()}

    def hook(m: nn.Module, _: object, out: object) -> None:
        t = _first_tensor(out)
        if t is not None:
            seen.append((names[m], tuple(t.shape[1:])))
    hooks = [m.register_forward_hook(hook) for m in model.modules()
             if not list(m.children()) and type(m).__module__.startswith("torch.nn")]
    counter = FlopCounterMode(display=False)
    try:
        with counter, torch.no_grad():
            out = model(x)
    finally:
        for h in hooks:
            h.remove()
    return seen, counter.get_total_flops(), out


def module_rows(result: analysis.Profile, model: nn.Module) -> list[tuple[str, tuple]]:
    modules = dict(model.named_modules())
    rows = []
    for name, shape in zip(result.layers["name"], result.layers["output_shape"], strict=True):
        base = name.split("#")[0]
        m = modules.get(base)
        if m is not None and not list(m.children()) and type(m).__module__.startswith(
                "torch.nn"):
            rows.append((base, tuple(int(d) for d in shape.split("x") if d)))
    return rows


class _NodeShapes(fx.Interpreter):
    """Runs a traced graph node by node (here on meta tensors: torch's own shape functions)
    and keeps every node's (first) output shape, for comparing every row, functions too."""

    def __init__(self, module: fx.GraphModule) -> None:
        super().__init__(module)
        self.shapes: dict[str, tuple[int, ...]] = {}

    def run_node(self, n: fx.Node) -> object:
        out = super().run_node(n)
        t = _first_tensor(out)
        if t is not None:
            self.shapes[n.name] = tuple(t.shape)
        return out


@pytest.mark.parametrize("name", analysis.torchvision_names())
def test_every_torchvision_classifier(name: str) -> None:
    """Params exact (used + unused = all), every layer's shape as a hooked forward's and every
    row's (functions too) as torch's node by node, conv/linear/matmul/attention MACs x 2 =
    FlopCounterMode's count, the output shape; a real forward too for the small ones."""
    size = analysis.torchvision_input_size(name)
    result = analysis.profile_torchvision(name)
    model = analysis.traced_torchvision(name).root
    total = sum(p.numel() for p in model.parameters())
    assert result.totals["params"] + result.totals["unused_params"] == total
    assert bool(result.totals["unused_params"]) == (name in {"googlenet", "inception_v3"})
    seen, flops, out = hooked_forward(model, torch.empty(1, *size, device="meta"))
    assert module_rows(result, model) == seen
    traced = analysis.traced_torchvision(name)
    nodes = _NodeShapes(fx.GraphModule(traced.root, traced.graph))
    with torch.no_grad():
        nodes.run(torch.empty(1, *size, device="meta"))
    assert [tuple(r.calc.out) for r in result.rows] == [nodes.shapes[r.node]
                                                         for r in result.rows]
    assert 2 * matrix_macs(result) == flops
    assert result.totals["output_shape"] == "x".join(map(str, out.shape[1:]))
    if total <= REAL_PARAMS:  # and a real forward, for the small ones at a capped size
        side = min(size[1], REAL_SIDE) if not hasattr(model, "image_size") else size[1]
        torch.manual_seed(0)
        real = torchvision.models.get_model(name, weights=None).eval()
        real_seen, real_flops, _ = hooked_forward(real, torch.randn(1, 3, side, side))
        small = cnnlib.profile(real, (3, side, side))
        assert module_rows(small, real) == real_seen
        assert 2 * matrix_macs(small) == real_flops


def test_torchvision_unknown_name_suggests() -> None:
    with pytest.raises(CnnlibError, match="Did you mean vit_b_16"):
        analysis.profile_torchvision("vit_b_61")


# ---------------------------------------------------------------- one module per failure class


def check(model: nn.Module, size: tuple[int, ...]) -> analysis.Profile:
    """Profile ``model`` and hold it to the oracles: parameters, leaf shapes (a real
    forward), MACs (FlopCounterMode on a meta copy: on a CPU, attention runs fused kernels
    that FlopCounterMode does not count)."""
    result = cnnlib.profile(model, size)
    total = sum(p.numel() for p in model.parameters())
    assert result.totals["params"] + result.totals["unused_params"] == total
    seen, _, _ = hooked_forward(model, torch.randn(1, *size))
    assert module_rows(result, model) == seen
    meta = copy.deepcopy(model).to("meta")
    _, flops, _ = hooked_forward(meta, torch.empty(1, *size, device="meta"))
    assert 2 * matrix_macs(result) == flops
    return result


class TupleOut(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.conv(x)
        return y, y.mean((2, 3))


class UsesTuple(nn.Module):
    """A submodule whose output is a tuple, unpacked and used: its parameters count."""

    def __init__(self) -> None:
        super().__init__()
        self.pair = TupleOut()
        self.fc = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps, pooled = self.pair(x)
        return self.fc(pooled) + maps.sum()


def test_a_tuple_output_keeps_its_rows_and_params() -> None:
    result = check(UsesTuple(), (3, 10, 10))
    assert result.totals["params"] == 3 * 8 * 9 + 8 + 8 * 4 + 4


class Attention(nn.Module):
    def __init__(self, batch_first: bool = True, need_weights: bool = False) -> None:
        super().__init__()
        self.proj = nn.Conv2d(3, 16, 4, stride=4)
        self.attn = nn.MultiheadAttention(16, 4, batch_first=batch_first)
        self.batch_first, self.need_weights = batch_first, need_weights

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.proj(x).flatten(2).transpose(1, 2)
        if not self.batch_first:
            tokens = tokens.transpose(0, 1)
        out, weights = self.attn(tokens, tokens, tokens, need_weights=self.need_weights)
        return out + weights.sum() if self.need_weights else out


@pytest.mark.parametrize("batch_first,need_weights", [(True, False), (False, True)])
def test_multihead_attention_has_a_row_params_and_macs(batch_first: bool,
                                                       need_weights: bool) -> None:
    result = check(Attention(batch_first, need_weights), (3, 16, 16))
    row = result.layers.set_index("name").loc["attn"]
    assert row["params"] == sum(p.numel() for p in Attention().attn.parameters())
    e, tokens = 16, 16
    assert row["macs"] == 3 * tokens * e * e + 2 * tokens * tokens * e + tokens * e * e


class Recurrent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(8, 12, batch_first=True)
        self.head = nn.Linear(12, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seq, (h, c) = self.lstm(x.flatten(1, 2))  # (1, C, H, W) -> (1, C*H, W)
        return self.head(seq[:, -1] + h[0] + c[0])


def test_lstm_has_a_row_and_its_params() -> None:
    """An LSTM has no formula: its MACs are FlopCounterMode's on the meta run, where torch
    runs it step by step (a real CPU forward runs a fused kernel FlopCounterMode cannot see,
    so the oracle here is the arithmetic: 4 gates of H*(I + H) per step)."""
    model = Recurrent()
    result = cnnlib.profile(model, (2, 5, 8))
    assert result.totals["params"] == sum(p.numel() for p in model.parameters())
    row = result.layers.set_index("name").loc["lstm"]
    assert row["params"] == sum(p.numel() for p in nn.LSTM(8, 12).parameters())
    assert row["output_shape"] == "10x12"
    assert row["macs"] == 10 * 4 * 12 * (8 + 12)


class Scripted(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = torch.jit.script(nn.Sequential(nn.Conv2d(3, 6, 3), nn.ReLU()))
        self.head = nn.Conv2d(6, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def test_a_torchscript_submodule_counts() -> None:
    model = Scripted()
    result = cnnlib.profile(model, (3, 8, 8))
    assert result.totals["params"] == sum(p.numel() for p in model.parameters())
    assert result.totals["macs"] == 6 * 6 * 6 * 3 * 9 + 2 * 6 * 6 * 6
    assert list(result.layers["output_shape"]) == ["6x6x6", "2x6x6"]


class KeywordsAndIndices(nn.Module):
    """ConvNeXt's functional layer norm (tensors by keyword), Swin's relative position bias
    (an integer buffer indexing a table), a bool mask buffer."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(4))
        self.bias = nn.Parameter(torch.zeros(4))
        self.table = nn.Parameter(torch.zeros(9, 2))
        self.register_buffer("index", torch.arange(16) % 9)
        self.register_buffer("mask", torch.eye(4, dtype=torch.bool))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.layer_norm(x.permute(0, 2, 3, 1), (4,), weight=self.weight, bias=self.bias)
        bias = self.table[self.index].view(4, 4, 2).permute(2, 0, 1)
        return y.permute(0, 3, 1, 2).masked_fill(self.mask, 0.0)[:, :2] + bias


def test_keyword_tensors_integer_buffers_and_index_ops() -> None:
    result = check(KeywordsAndIndices(), (4, 4, 4))
    assert result.totals["output_shape"] == "2x4x4"
    norm = result.layers[result.layers["type"] == "norm"]
    assert list(norm["macs"]) == [4 * 4 * 4]


def test_transposed_and_dilated_convolutions() -> None:
    model = nn.Sequential(nn.Conv2d(3, 8, 3, dilation=2, padding=2),
                          nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1),
                          nn.ConvTranspose2d(4, 2, 2, stride=2, groups=2))
    result = check(model, (3, 9, 9))
    assert list(result.layers["output_shape"]) == ["8x9x9", "4x18x18", "2x36x36"]
    assert list(result.layers["macs"]) == [8 * 81 * 3 * 9, 8 * 81 * 4 * 9, 4 * 18 * 18 * 1 * 4]


class PoolWithIndices(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(2, return_indices=True)
        self.unpool = nn.MaxUnpool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, idx = self.pool(x)
        z, _ = F.max_pool2d(x, 2, return_indices=True)
        return self.unpool(y + z, idx)


def test_max_pool_returning_indices() -> None:
    result = check(PoolWithIndices(), (3, 8, 8))
    assert list(result.layers["output_shape"])[:2] == ["3x4x4", "3x4x4"]
    assert result.totals["output_shape"] == "3x8x8"


@pytest.mark.parametrize("layer,size", [(nn.Conv2d(3, 16, 3, stride=2), (3, 32, 32)),
                                        (nn.Linear(10, 5), (1, 2, 10)),
                                        (nn.ConvTranspose2d(3, 2, 2, 2), (3, 5, 5))])
def test_a_bare_layer_as_the_whole_model(layer: nn.Module, size: tuple[int, ...]) -> None:
    result = cnnlib.profile(layer, size)
    assert len(result.layers) == 1
    assert result.layers["type"][0] == type(layer).__name__
    assert result.totals["params"] == sum(p.numel() for p in layer.parameters())
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        layer(torch.randn(1, *size))
    assert 2 * result.totals["macs"] == counter.get_total_flops()


class FunctionalPools(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(F.max_pool2d(x, 3, 1, 1), 3, 2, 1)


def test_functional_pooling_grows_the_receptive_field() -> None:
    result = cnnlib.profile(FunctionalPools(), (1, 16, 16))
    assert list(result.layers["receptive_field"]) == [3, 5]
    assert list(result.layers["jump"]) == [1, 2]
    assert list(result.layers["output_shape"]) == ["1x16x16", "1x8x8"]
    assert list(result.layers["macs"]) == [16 * 16 * 9, 8 * 8 * 9]


class InPlace(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        y.relu_()
        y.mul_(2)
        y += x
        y *= x
        return y


def test_in_place_ops_allocate_nothing() -> None:
    result = check(InPlace(), (3, 8, 8))
    assert result.totals["activations"] == 3 * 8 * 8  # the conv's output only
    mul = result.layers[result.layers["type"] == "mul"]
    assert list(mul["macs"]) == [3 * 8 * 8, 3 * 8 * 8]  # mul_ as mul: 1 per element


def test_in_place_residual_adds_in_torchvision_resnets() -> None:
    """torchvision's ``out += identity``: in place, so no activation memory of its own."""
    result = cnnlib.profile("resnet18")
    adds = result.layers[result.layers["type"] == "add"]
    assert len(adds) == 8
    rows = [r for r in result.rows if r.calc.type == "add"]
    assert all(r.calc.inplace for r in rows)


class WithAux(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Conv2d(3, 4, 3)
        self.aux = nn.Sequential(nn.Flatten(), nn.Linear(4 * 6 * 6, 10))
        self.spare = nn.Parameter(torch.zeros(7))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        if self.training:
            return self.aux(y)
        return y


def test_unused_parameters_are_named_not_dropped() -> None:
    model = WithAux().eval()
    result = check(model, (3, 8, 8))
    assert result.totals["params"] == 3 * 4 * 9 + 4
    assert result.totals["unused_params"] == 144 * 10 + 10 + 7
    assert result.totals["unused_modules"] == ("aux", "spare")


def test_googlenet_auxiliary_classifiers_are_unused_params() -> None:
    totals = analysis.profile_torchvision("googlenet").totals
    assert (totals["params"], totals["unused_params"]) == (6_624_904, 6_379_984)
    assert totals["unused_modules"] == ("aux1", "aux2")


class NoMeta(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nonzero(self.conv(x))


def test_an_op_that_cannot_run_on_meta_names_itself_and_the_reason() -> None:
    with pytest.raises(AnalysisError) as info:
        cnnlib.profile(NoMeta(), (3, 4, 4))
    message = str(info.value)
    assert "nonzero" in message and "no formula and cannot run on meta tensors" in message
    assert "does not fit" not in message
    assert re.search(r"NotImplementedError", message)


def test_cli_summary_of_a_torchvision_model(capsys: pytest.CaptureFixture[str]) -> None:
    from cnnlib.__main__ import main

    assert main(["summary", "--torchvision", "googlenet"]) == 0
    out = capsys.readouterr().out
    assert "unused: 6,379,984 more parameters (aux1, aux2) are never read" in out
    assert "13,004,888 in all" in out
    assert main(["summary", "--torchvision", "vit_b_16", "--format", "csv"]) == 0
    assert "encoder.layers.encoder_layer_0.self_attention,MultiheadAttention" in \
        capsys.readouterr().out
    assert main(["summary", "--torchvision", "resnet5"]) == 2
    assert "Did you mean resnet50" in capsys.readouterr().err


def test_meta_build_of_builders_that_compute_with_tensors() -> None:
    """RegNet's builder reads ``torch.arange(...).tolist()``; Swin registers index tables:
    value constructors stay real while building, and buffers still land on meta."""
    from cnnlib.meta import MetaBuild

    for name in ("regnet_x_400mf", "swin_v2_t"):
        with MetaBuild():
            model = torchvision.models.get_model(name, weights=None)
        assert all(t.is_meta for t in (*model.parameters(), *model.buffers())), name


def test_explore_totals_say_unused_params_in_one_line() -> None:
    """network.totals (Explore's and Build's headline) prints cnnlib's sentence as it is."""
    from streamlit.testing.v1 import AppTest

    def page() -> None:  # run by AppTest as a script of its own
        from torch import Tensor, nn

        import cnnlib
        from app import network

        class WithAux(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.body = nn.Conv2d(3, 4, 3)
                self.aux = nn.Linear(4, 10)

            def forward(self, x: Tensor) -> Tensor:
                return self.body(x)
        network.totals(cnnlib.profile(WithAux(), (3, 8, 8)))

    at = AppTest.from_function(page, default_timeout=60).run()
    assert not at.exception
    assert [c.value for c in at.caption] == [analysis.unused_note(
        {"unused_params": 50, "unused_modules": ("aux",), "params": 112})]
    assert "50 more parameters (aux) are never read" in at.caption[0].value


class Products(nn.Module):
    """Attention and matrix products written as functions, and multi-output tensor ops."""

    def __init__(self) -> None:
        super().__init__()
        self.qkv = nn.Conv2d(4, 24, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x).flatten(2).transpose(1, 2).split(8, dim=2)  # (1, 16, 8) each
        heads = q.reshape(1, 16, 2, 4).transpose(1, 2)  # (1, 2, 16, 4)
        att = F.scaled_dot_product_attention(heads, heads, heads)
        scores = torch.einsum("bhqd,bhkd->bhqk", heads, heads)
        mixed = torch.bmm(q.transpose(1, 2), k) @ v.transpose(1, 2)  # (1, 8, 16)
        best = torch.max(scores, dim=-1)  # a named tuple: values, indices
        norm = F.group_norm(mixed.unsqueeze(-1), 2)
        return (att.sum() + best.values.sum() + best.indices.sum() + norm.sum()
                + torch.matmul(v[0], k[0].T).sum())


def test_attention_and_matrix_products_written_as_functions() -> None:
    result = check(Products(), (4, 4, 4))
    macs = dict(zip(result.layers["type"], result.layers["macs"], strict=False))
    assert macs["attention"] == 2 * 16 * 16 * (4 + 4)
    assert macs["einsum"] == 2 * 16 * 16 * 4
    assert list(result.layers[result.layers["type"] == "matmul"]["macs"]) == [
        8 * 8 * 16, 8 * 16 * 8, 16 * 16 * 8]
    assert macs["norm"] == 8 * 16
    assert "max" in set(result.layers["type"])


def test_weights_read_by_functions_are_params_not_activations() -> None:
    result = analysis.profile_torchvision("vit_b_16")
    rows = result.layers.set_index("name")
    assert rows.loc["encoder.pos_embedding", "output_shape"] == "1x197x768"
    assert rows.loc["encoder.pos_embedding", ["params", "activations"]].tolist() == [151296, 0]
    assert result.explain("class_token")["memory"].startswith("0 B")


def test_a_size_a_torchvision_model_refuses_is_the_input_s_fault() -> None:
    """ViT asserts its image size while tracing: the message says so, without fx's names."""
    from cnnlib.errors import InputSizeError

    with pytest.raises(InputSizeError) as info:
        analysis.profile_torchvision("vit_b_16", "3x256x256")
    assert str(info.value) == (
        "Input 3x256x256 does not fit vit_b_16: Operation assert fails: Wrong image height! "
        "Expected 224 but got another value. vit_b_16 is built for 3x224x224 inputs.")
