"""Per-layer-type formulas: output size, parameters, multiply-adds and receptive field.

These are the sums the course notes do by hand, and they are the single source of every
number cnnlib reports. A rule takes a layer (its hyper-parameters) and the shape of its input
and returns a :class:`Calc`: the numbers, plus the factors they were multiplied from, so that
:func:`explain` can print any row's arithmetic filled in ("64*56*56*4 B = 784 KB") from the
very values that produced it.

How multiply-adds, parameters, memory, output sizes and depth are counted is
:data:`CONVENTIONS`: one text, which the dashboard shows and the README's "Counting
conventions" section repeats word for word (a test holds the two equal).
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal, get_args

import torch
import torch.nn.functional as F
from torch import nn

Shape = tuple[int, ...]

#: The counting conventions, in markdown: shown on the Explore and Build pages, and the body
#: of the README's "Counting conventions" section (tests/test_conventions.py holds them equal).
CONVENTIONS = """\
These follow the course notes, summarised in `cnnlib/reference/README.md`:

- **MACs**, which the slides call "flops" or "ops", count multiply-accumulates:
  - convolution: `C_out*H'*W' * (C_in/groups)*K*K` (dilated ones too; `nn.Conv*d` and
    `F.conv*d`)
  - transposed convolution: `C_in*H*W * (C_out/groups)*K*K`, counted on its input
  - linear: `C_in*C_out` per position (`nn.Linear`, `F.linear`)
  - matrix products (`matmul`, `@`, `mm`, `bmm`, `addmm`, `einsum`): one per output element
    per inner index
  - attention: `F.scaled_dot_product_attention` `L*S*(E + E_v)` per head (Q*K^T and the
    weighted sum of V); `nn.MultiheadAttention` adds its q, k, v and output projections
  - max/average pooling (modules and `F.*_pool*d`): `C*H'*W'*K*K`, one operation per window
    element, as the slides' "0.4 MFLOP" for AlexNet's pool1
  - batch norm (and group/layer/instance norm, modules and functions): 1 per element (a scale
    and a shift)
  - local response normalisation: `size` per element (the sum of squares)
  - element-wise multiply (`*`, `*=`, `mul_`): 1 per element
  - ReLU and other activations, dropout, residual additions, concatenation, flatten, views
    and indexing: 0, because nothing is multiplied
  - biases are not MACs
  - a layer with no formula gets its shape and dtype from running it on meta tensors, and
    0 MACs; a module with none (`nn.LSTM`, a TorchScript submodule) or a function from outside
    torch (torchvision's `shifted_window_attention`) is run under
    `torch.utils.flop_counter` there and gets half the FLOPs it counts (its convolutions and
    matrix products). An op that cannot run on meta tensors stops the analysis with an error
    that names the op, its module and torch's reason.

  `flops=True` / `--flops` reports FLOPs = 2 x MACs, the convention of
  `torch.utils.flop_counter`.
- **Params** include biases, and count the parameters the forward reads. Those it never
  reads (GoogLeNet's auxiliary classifiers in eval mode) are `totals["unused_params"]`, held
  by `totals["unused_modules"]`; the two add up to every parameter of the model. Batch-norm
  running statistics are buffers, not parameters.
- **Memory** is the output's elements x 4 bytes (fp32); KB = 1024 bytes. The totals count
  each tensor that a layer allocates. In-place layers and ops (`ReLU(inplace=True)`, `+=`,
  `*=`, `relu_()`, `mul_()`) write into their input and add nothing, and neither do views
  of an input. A layer with several outputs (a tuple) is one row, showing and counting its
  first. The input image is counted separately (`totals["input_activations"]`).
- **Output size** is `(W - K + 2P)/S + 1`, with `K = D*(K-1)+1` for dilation `D`, floored
  (ceiled for `ceil_mode` pools); `(W - 1)*S - 2P + D*(K-1) + output_padding + 1` for a
  transposed convolution. When a convolution's stride does not tile its padded input,
  the layer gets a warning that gives the fraction (the slides' `(7 - 3)/3 + 1 = 2.33`).
  Pooling floors silently, which is the slides' convention for pooling.
- **Receptive field** grows through every sliding window (convolutions and pools, functional
  ones too); attention, matrix products and a linear layer on a flat `(N, C)` input see the
  whole input (on tokens or channels-last maps a linear layer leaves it as it is); a
  transposed convolution leaves it as it is.
- **Depth** counts weight layers on the longest path from input to output, as the papers do:
  AlexNet 8, VGG-19 19, GoogLeNet 22, ResNet-152 152. ResNet projection shortcuts run
  parallel to the main path, so they do not add to it.
"""


class TShape(tuple):
    """The shape of a tensor argument, told apart from plain tuple arguments (output_size)."""

#: How a layer changes the receptive field: "window" (a sliding window with the Calc's
#: kernel/stride/dilation), "global" (every output sees the whole input), "same" (unchanged).
RF_WINDOW, RF_GLOBAL, RF_SAME = "window", "global", "same"

#: What a layer is, the one home of that fact: each rule sets its Calc's kind, and the graph,
#: the sentences, the training-memory estimate, the paper check and the design hints read it
#: instead of guessing from type names. Fine enough for what they tell apart (a max pool keeps
#: indices for backward, a residual add is a shortcut's end); a layer with no rule (the meta
#: fallback) is "other".
Kind = Literal["conv", "fc", "max_pool", "avg_pool", "batch_norm", "norm", "lrn", "activation",
               "dropout", "identity", "reshape", "add", "concat", "mul", "matmul", "attention",
               "other"]
KINDS: tuple[Kind, ...] = get_args(Kind)


class EmptyOutputError(Exception):
    """A window does not fit its input: the layer's output would have no elements."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ShapeMismatchError(Exception):
    """The input does not have the channels/features the layer was built for."""


@dataclass(frozen=True, slots=True)
class Window:
    """One spatial dimension of a sliding window: the output-size formula's terms."""

    size: int  # W, the input size along this dimension
    kernel: int
    stride: int
    padding: int
    dilation: int
    ceil: bool
    out: int

    @property
    def exact(self) -> Fraction:
        """(W - K_eff + 2P)/S + 1 before flooring: 2.33 for the slides' misfit example."""
        k_eff = self.dilation * (self.kernel - 1) + 1
        return Fraction(self.size - k_eff + 2 * self.padding, self.stride) + 1

    def formula(self) -> str:
        k = str(self.kernel) if self.dilation == 1 else f"({self.dilation}*{self.kernel - 1}+1)"
        text = f"({self.size} - {k} + 2*{self.padding})/{self.stride} + 1"
        exact = self.exact
        if exact.denominator == 1:
            return f"{text} = {self.out}"
        rounding = "ceil" if self.ceil else "floor"
        return f"{text} = {float(exact):.2f} -> {rounding} {self.out}"

    def unread(self) -> tuple[int, ...]:
        """Input positions (0-based, unpadded) that no output position reads: the gaps a
        stride wider than the (dilated) filter leaves between positions, and what lies past
        the last position when the stride does not tile. The one home of this fact: the
        layer's remark and Layer lab's drawing both read it."""
        read = {i * self.stride + self.dilation * j
                for i in range(self.out) for j in range(self.kernel)}
        return tuple(c for c in range(self.size) if c + self.padding not in read)


@dataclass(slots=True)
class Calc:
    """What a rule computes for one layer on one input shape (shapes include batch 1)."""

    type: str
    out: Shape
    params: int = 0
    macs: int = 0
    params_terms: tuple[tuple[int, ...], ...] = ()  # params = sum of products of these
    macs_terms: tuple[tuple[int, ...], ...] = ()  # macs = sum of products of these
    windows: tuple[Window, ...] = ()  # the sliding window per spatial dim, if the layer has one
    rf: str = RF_SAME
    weight_layer: bool = False  # counts towards depth (conv, linear)
    inplace: bool = False  # writes into its input: allocates no new activation memory
    warning: str | None = None
    note: str = ""  # how the MACs are counted, for explain()
    kind: Kind = "other"  # what the layer is, set by its rule (see Kind)
    # Two facts the memory kept for backward depends on (insights.saved_for_backward): a
    # dropout's probability (at 0 it returns its input and keeps no mask) and an attention's
    # head count (it keeps a log-sum-exp per head and query).
    drop: float | None = None
    heads: int = 0

    # The window's numbers as integers, one per spatial dim (empty without a window); the
    # table's text ("3x3", "2", "global") is made from them by kernel_text & co. where shown.
    @property
    def kernel(self) -> tuple[int, ...]:
        return tuple(w.kernel for w in self.windows)

    @property
    def stride(self) -> tuple[int, ...]:
        return tuple(w.stride for w in self.windows)

    @property
    def padding(self) -> tuple[int, ...]:
        return tuple(w.padding for w in self.windows)


@dataclass(slots=True)
class Outputs:
    """A rule's answer for a layer with several outputs (a tuple): the row's numbers (its
    ``out`` is the first output, the one the table shows) and every output's shape and
    dtype in order, None where the layer returns None (``need_weights=False``); a dtype of
    None means the input's."""

    calc: Calc
    outputs: tuple[tuple[Shape, torch.dtype | None] | None, ...]


def prod(values: Sequence[int]) -> int:
    return math.prod(values)


def _terms_value(terms: tuple[tuple[int, ...], ...]) -> int:
    return sum(prod(t) for t in terms)


def _fmt_dims(values: Sequence[int], square_as_one: bool) -> str:
    if square_as_one and len(set(values)) == 1:
        return str(values[0])
    return "x".join(str(v) for v in values)


def is_global_pool(calc: Calc) -> bool:
    """A pool over the whole map (adaptive to 1x1): it has no single window to print."""
    return (calc.kind in ("max_pool", "avg_pool") and not calc.windows
            and all(d == 1 for d in calc.out[2:]))


def kernel_text(calc: Calc) -> str:
    """The kernel column: "3x3"; for a pool without a single window "global" (1x1 output) or
    "adaptive" (uneven windows); "" for a layer without a window."""
    if calc.windows:
        return _fmt_dims(calc.kernel, False)
    if calc.kind in ("max_pool", "avg_pool"):
        return "global" if is_global_pool(calc) else "adaptive"
    return ""


def stride_text(calc: Calc) -> str:
    """The stride column: "2", or "2x1" where the dimensions differ; "" without a window."""
    return _fmt_dims(calc.stride, True) if calc.windows else ""


def padding_text(calc: Calc) -> str:
    """The padding column, written as the stride is."""
    return _fmt_dims(calc.padding, True) if calc.windows else ""


def _tuple(value: int | Sequence[int], n: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, Sequence) else (int(value),) * n


def _window(size: int, kernel: int, stride: int, padding: int, dilation: int, ceil: bool) -> Window:
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    if span < 0:
        k_eff = dilation * (kernel - 1) + 1
        raise EmptyOutputError(
            f"a {k_eff}-wide window does not fit in {size} (+2*{padding} padding)")
    out = (-(-span // stride) if ceil else span // stride) + 1
    if ceil and (out - 1) * stride >= size + padding:
        out -= 1  # PyTorch: the last window must start inside the input or left padding
    return Window(size, kernel, stride, padding, dilation, ceil, out)


def _sliding(
    x: Shape, kernel: Any, stride: Any, padding: Any, dilation: Any, ceil: bool
) -> tuple[tuple[Window, ...], Shape]:
    n = len(x) - 2
    ks, ss, ps, ds = (_tuple(v, n) for v in (kernel, stride, padding, dilation))
    windows = tuple(_window(x[2 + i], ks[i], ss[i], ps[i], ds[i], ceil) for i in range(n))
    return windows, tuple(w.out for w in windows)


def _window_labels(calc: Calc, windows: tuple[Window, ...]) -> None:
    calc.windows = windows
    calc.rf = RF_WINDOW


# ---------------------------------------------------------------- module rules


def conv(m: nn.modules.conv._ConvNd, x: Shape) -> Calc:
    """Convolution: C_out*H'*W' outputs, each (C_in/groups)*K*K multiply-adds."""
    if x[1] != m.in_channels:
        raise ShapeMismatchError(f"expects {m.in_channels} input channels but gets {x[1]}")
    if m.transposed:
        return _conv_transpose(type(m).__name__, x, m.in_channels, m.out_channels, m.groups,
                               m.kernel_size, m.stride, m.padding, m.output_padding,
                               m.dilation, m.bias is not None)
    return _conv(type(m).__name__, x, m.out_channels, m.groups, m.kernel_size, m.stride,
                 m.padding, m.dilation, m.bias is not None)


def _conv(calc_type: str, x: Shape, c_out: int, groups: int, kernel: Any, stride: Any,
          padding: Any, dilation: Any, bias: bool) -> Calc:
    """The convolution's arithmetic, shared by ``nn.Conv*d`` and ``F.conv*d``."""
    n = len(x) - 2
    ks = _tuple(kernel, n)
    if isinstance(padding, str):  # "valid" or "same" (stride 1 only, torch enforces it)
        pads = tuple(0 if padding == "valid" else d * (k - 1) // 2
                     for k, d in zip(ks, _tuple(dilation, n), strict=True))
    else:
        pads = _tuple(padding, n)
    windows, spatial = _sliding(x, ks, stride, pads, dilation, False)
    if padding == "same":  # asymmetric padding when d*(k-1) is odd: output = input
        windows = tuple(Window(w.size, w.kernel, 1, w.padding, w.dilation, False, w.size)
                        for w in windows)
        spatial = tuple(x[2:])
    c_in_g = x[1] // groups
    weight = (c_out, c_in_g, *ks)
    params_terms = (weight, (c_out,)) if bias else (weight,)
    macs_terms = ((c_out, *spatial, c_in_g, *ks),)
    calc = Calc(calc_type, (x[0], c_out, *spatial),
                params=_terms_value(params_terms), macs=_terms_value(macs_terms),
                params_terms=params_terms, macs_terms=macs_terms, weight_layer=True, kind="conv")
    _window_labels(calc, windows)
    calc.warning = _unread_warning(windows)
    if groups > 1:
        calc.note = f"{groups} groups: each output sees C_in/groups = {c_in_g} input maps"
    return calc


def _conv_transpose(calc_type: str, x: Shape, c_in: int, c_out: int, groups: int, kernel: Any,
                    stride: Any, padding: Any, output_padding: Any, dilation: Any,
                    bias: bool) -> Calc:
    """Transposed convolution: every input element is multiplied into a K*K patch of
    C_out/groups maps, so C_in*H*W * (C_out/groups)*K*K multiply-adds (counted on the input,
    as torch.utils.flop_counter does); output (W - 1)*S - 2P + D*(K - 1) + output_padding + 1.
    The receptive field is left as it is (an upsampling has no window over its input)."""
    n = len(x) - 2
    ks, ss, ps, ops, ds = (_tuple(v, n) for v in (kernel, stride, padding, output_padding,
                                                   dilation))
    spatial = tuple((x[2 + i] - 1) * ss[i] - 2 * ps[i] + ds[i] * (ks[i] - 1) + ops[i] + 1
                    for i in range(n))
    if min(spatial, default=1) <= 0:
        raise EmptyOutputError(f"a transposed convolution of {x[2:]} gives {spatial}")
    c_out_g = c_out // groups
    weight = (c_in, c_out_g, *ks)
    params_terms = (weight, (c_out,)) if bias else (weight,)
    macs_terms = ((c_in, *x[2:], c_out_g, *ks),)
    return Calc(calc_type, (x[0], c_out, *spatial), params=_terms_value(params_terms),
                macs=_terms_value(macs_terms), params_terms=params_terms,
                macs_terms=macs_terms, weight_layer=True, kind="conv",
                note=f"transposed, kernel {'x'.join(map(str, ks))}, stride "
                f"{_fmt_dims(ss, True)}, padding {_fmt_dims(ps, True)}: C_in*H*W inputs, each "
                "spread over (C_out/groups)*K*K outputs")


def _unread_warning(windows: Sequence[Window]) -> str:
    """The remark for a window that leaves input unread or a stride that does not tile.

    A stride wider than the filter (ResNet v1's 1x1 stride-2 convs) skips rows and columns:
    the remark gives the fraction of the input never read (3/4 for 1x1/2), not only the
    last row. Where only padding is left over, it says that.
    """
    unread = [w.unread() for w in windows]
    if any(unread):
        w, u = next((w, u) for w, u in zip(windows, unread, strict=True) if u)
        read = Fraction(math.prod(v.size - len(g) for v, g in zip(windows, unread, strict=True)),
                        math.prod(v.size for v in windows))
        why = ("does not tile the input" if w.exact.denominator != 1
               else f"is wider than the {w.kernel}-wide filter")
        return (f"stride {w.stride} {why}: {w.formula()}; it reads {w.size - len(u)} of "
                f"{w.size} input rows/columns, so {1 - read} of the input "
                f"({float(1 - read):.0%}) is never read")
    misfit = [w for w in windows if w.exact.denominator != 1]
    if misfit:
        w = misfit[0]
        covered = (w.out - 1) * w.stride + w.dilation * (w.kernel - 1) + 1
        return (f"stride {w.stride} does not tile the input: {w.formula()}; the last "
                f"{w.size + 2 * w.padding - covered} padded row(s)/column(s) are never "
                "covered")
    return ""


def linear(m: nn.Linear, x: Shape) -> Calc:
    """Fully connected: C_in*C_out multiply-adds per input vector."""
    if x[-1] != m.in_features:
        raise ShapeMismatchError(f"expects {m.in_features} input features but gets {x[-1]}")
    params_terms: tuple[tuple[int, ...], ...] = ((m.in_features, m.out_features),)
    if m.bias is not None:
        params_terms += ((m.out_features,),)
    vectors = x[1:-1]  # leading dims beyond the batch (none for a classifier)
    macs_terms = ((*vectors, m.in_features, m.out_features),)
    # A classifier's (N, C) input: every output sees the whole image. On (N, ..., C) (tokens,
    # ConvNeXt's channels-last maps) it mixes features at one position only.
    return Calc("Linear", (*x[:-1], m.out_features), params=_terms_value(params_terms),
                macs=_terms_value(macs_terms), params_terms=params_terms,
                macs_terms=macs_terms, rf=RF_GLOBAL if len(x) == 2 else RF_SAME,
                weight_layer=True, kind="fc")


def pool(m: nn.Module, x: Shape) -> Calc | Outputs:
    """Max/average pooling: C*H'*W' windows of K*K elements each (the slides' count)."""
    dilation = getattr(m, "dilation", 1)
    stride = m.stride if m.stride is not None else m.kernel_size
    windows, spatial = _sliding(x, m.kernel_size, stride, m.padding, dilation,
                                bool(m.ceil_mode))
    ks = tuple(w.kernel for w in windows)
    macs_terms = ((x[1], *spatial, *ks),)
    kind: Kind = "max_pool" if isinstance(m, nn.modules.pooling._MaxPoolNd) else "avg_pool"
    calc = Calc(type(m).__name__, (x[0], x[1], *spatial), macs=_terms_value(macs_terms),
                macs_terms=macs_terms, kind=kind)
    _window_labels(calc, windows)
    return _with_indices(calc) if getattr(m, "return_indices", False) else calc


def _with_indices(calc: Calc) -> Outputs:
    """A max pool asked for ``return_indices``: (values, int64 indices of the same shape)."""
    return Outputs(calc, ((calc.out, None), (calc.out, torch.int64)))


def _adaptive(calc_type: str, x: Shape, output_size: Any, kind: Kind) -> Calc:
    n = len(x) - 2
    sizes = tuple(x[2 + i] if o is None else int(o) for i, o in enumerate(_tuple(output_size, n)))
    per_dim = []  # total window elements along each dim (windows may overlap or vary)
    for size, out in zip(x[2:], sizes, strict=True):
        if size == 0:
            raise EmptyOutputError("an adaptive pool has an empty input")
        per_dim.append(sum(-(-(i + 1) * size // out) - (i * size // out) for i in range(out)))
    macs_terms = ((x[1], *per_dim),)
    calc = Calc(calc_type, (x[0], x[1], *sizes), macs=_terms_value(macs_terms),
                macs_terms=macs_terms, kind=kind)
    if all(o == 1 for o in sizes):
        calc.rf = RF_GLOBAL  # kernel_text: "global"
    elif all(s % o == 0 for s, o in zip(x[2:], sizes, strict=True)):
        ks = [s // o for s, o in zip(x[2:], sizes, strict=True)]
        windows = tuple(Window(s, k, k, 0, 1, False, o)
                        for s, k, o in zip(x[2:], ks, sizes, strict=True))
        _window_labels(calc, windows)
    else:
        calc.rf = RF_GLOBAL  # uneven windows, no single K and S (kernel_text: "adaptive")
    calc.note = "adaptive: window elements summed over the actual (possibly uneven) windows"
    return calc


def adaptive_pool(m: nn.Module, x: Shape) -> Calc | Outputs:
    """Adaptive pooling: windows chosen so the output has a fixed size."""
    kind: Kind = ("max_pool" if isinstance(m, nn.modules.pooling._AdaptiveMaxPoolNd)
                  else "avg_pool")
    calc = _adaptive(type(m).__name__, x, m.output_size, kind)
    return _with_indices(calc) if getattr(m, "return_indices", False) else calc


def _elementwise(calc_type: str, x: Shape, params: int = 0, per_element: int = 0,
                 inplace: bool = False, note: str = "", kind: Kind = "other") -> Calc:
    macs_terms = ((*x[1:], per_element),) if per_element else ()
    return Calc(calc_type, x, params=params, macs=_terms_value(macs_terms),
                macs_terms=macs_terms, inplace=inplace, note=note, kind=kind)


def _params_of(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def norm(m: nn.Module, x: Shape) -> Calc:
    """Batch/group/layer/instance norm: a scale and a shift per element, 2*C parameters."""
    expected = getattr(m, "num_features", None) or getattr(m, "num_channels", None)
    if expected is not None and x[1] != expected:
        raise ShapeMismatchError(f"expects {expected} channels but gets {x[1]}")
    kind: Kind = "batch_norm" if isinstance(m, nn.modules.batchnorm._BatchNorm) else "norm"
    calc = _elementwise(type(m).__name__, x, per_element=1,
                        note="1 MAC per element: y = scale*x + shift", kind=kind)
    calc.params_terms = tuple((p.numel(),) for p in m._parameters.values() if p is not None)
    calc.params = _terms_value(calc.params_terms)
    return calc


def lrn(m: nn.LocalResponseNorm | nn.CrossMapLRN2d, x: Shape) -> Calc:
    """Local response normalisation: a sum of squares over ``size`` neighbouring maps."""
    return _elementwise(type(m).__name__, x, per_element=int(m.size),
                        note=f"{m.size} MACs per element: squares summed over {m.size} maps",
                        kind="lrn")


def activation(m: nn.Module, x: Shape) -> Calc:
    """Activations, dropout, identity: same shape, nothing multiplied (PReLU has params)."""
    calc = _elementwise(type(m).__name__, x, inplace=bool(getattr(m, "inplace", False)),
                        kind="activation")
    params = _params_of(m)
    if params:
        calc.params, calc.params_terms = params, ((params,),)
    return calc


def dropout(m: nn.Module, x: Shape) -> Calc:
    """Dropout: an activation's numbers, but its own kind (backward keeps its mask)."""
    calc = activation(m, x)
    calc.kind, calc.drop = "dropout", float(getattr(m, "p", 0.5))
    return calc


def identity(m: nn.Identity, x: Shape) -> Calc:
    """Identity returns its input itself: a row in the table, but no new memory."""
    return Calc("Identity", x, inplace=True, kind="identity")


def _flatten_shape(x: Shape, start: int, end: int) -> Shape:
    n = len(x)
    start, end = start % n, end % n
    return (*x[:start], prod(x[start:end + 1]), *x[end + 1:])


def flatten(m: nn.Flatten, x: Shape) -> Calc:
    """Flatten: a view, but the slides count its output as memory (AlexNet's 36 KB row)."""
    return _flatten_calc(x, m.start_dim, m.end_dim)


def _flatten_calc(x: Shape, start: int, end: int) -> Calc:
    out = _flatten_shape(x, start, end)
    return Calc("Flatten", out, rf=RF_GLOBAL if len(out) < len(x) and len(x) > 2 else RF_SAME,
                kind="reshape")


def multihead_attention(m: nn.MultiheadAttention, query: Shape, key: Shape | None = None,
                        value: Shape | None = None, key_padding_mask: Any = None,
                        need_weights: bool = True, attn_mask: Any = None,
                        average_attn_weights: bool = True, is_causal: bool = False) -> Outputs:
    """Multi-head attention: the q/k/v projections, the scores Q*K^T (Lq*Lk*E), the weighted
    sum of V (Lq*Lk*E) and the output projection, per batch element; returns
    (output, attention weights or None) as the module does."""
    key, value = key or query, value or key or query
    e, heads = m.embed_dim, m.num_heads
    batched = len(query) == 3
    first = getattr(m, "batch_first", False)
    if batched:
        n, lq = (query[0], query[1]) if first else (query[1], query[0])
        lk = key[1] if first else key[0]
    else:
        n, lq, lk = 1, query[0], key[0]
    if query[-1] != e:
        raise ShapeMismatchError(f"expects {e} features but gets {query[-1]}")
    macs_terms = ((n, lq, query[-1], e), (n, lk, key[-1], e), (n, lk, value[-1], e),
                  (n, lq, lk, e), (n, lq, lk, e), (n, lq, e, e))
    params_terms = tuple((p.numel(),) for p in m.parameters())
    calc = Calc(type(m).__name__, query, params=_terms_value(params_terms),
                macs=_terms_value(macs_terms), params_terms=params_terms,
                macs_terms=macs_terms, rf=RF_GLOBAL, weight_layer=True, kind="attention",
                note=f"{heads} heads: q, k, v projections + Q*K^T + weights*V + out projection",
                heads=heads)
    weights = None
    if need_weights:
        per_head = () if average_attn_weights else (heads,)
        weights = ((n, *per_head, lq, lk) if batched else (*per_head, lq, lk), None)
    return Outputs(calc, ((query, None), weights))


MODULE_RULES: dict[type, Callable[..., Calc | Outputs]] = {
    nn.modules.conv._ConvNd: conv,
    nn.Linear: linear,
    nn.modules.pooling._MaxPoolNd: pool,
    nn.modules.pooling._AvgPoolNd: pool,
    nn.modules.pooling._AdaptiveAvgPoolNd: adaptive_pool,
    nn.modules.pooling._AdaptiveMaxPoolNd: adaptive_pool,
    nn.modules.batchnorm._NormBase: norm,
    nn.GroupNorm: norm,
    nn.LayerNorm: norm,
    nn.LocalResponseNorm: lrn,
    nn.CrossMapLRN2d: lrn,
    nn.Flatten: flatten,
    nn.Identity: identity,
    nn.modules.dropout._DropoutNd: dropout,
    nn.ReLU: activation, nn.ReLU6: activation, nn.LeakyReLU: activation, nn.PReLU: activation,
    nn.ELU: activation, nn.SELU: activation, nn.GELU: activation, nn.SiLU: activation,
    nn.Sigmoid: activation, nn.Tanh: activation, nn.Hardswish: activation,
    nn.Hardsigmoid: activation, nn.Mish: activation, nn.Softmax: activation,
    nn.LogSoftmax: activation,
    nn.MultiheadAttention: multihead_attention,
}
#: Module rules that take the module's call as it is (several inputs, keywords); the others
#: take one input tensor and apply only when the module is called with exactly that.
MODULE_RULES_WITH_ARGS = {multihead_attention}


def module_rule(m: nn.Module) -> Callable[..., Calc | Outputs] | None:
    """The rule for a module (its class's nearest base with one), or None for the fallback."""
    cls: type = type(m)
    return _rule_for_class(cls)


@functools.cache
def _rule_for_class(cls: type) -> Callable[..., Calc | Outputs] | None:
    return next((MODULE_RULES[c] for c in cls.__mro__ if c in MODULE_RULES), None)


# ---------------------------------------------------------------- function rules
# A function rule gets the node's arguments with tensors replaced by their shapes.


def _broadcast(*shapes: Shape) -> Shape:
    if all(s == shapes[0] for s in shapes):  # the usual residual add: no work to do
        return shapes[0]
    return tuple(torch.broadcast_shapes(*shapes))


def fn_add(*args: Any, **kwargs: Any) -> Calc:
    shapes = [a for a in args if isinstance(a, TShape)]
    return Calc("add", _broadcast(*shapes), kind="add")


def fn_iadd(*args: Any, **kwargs: Any) -> Calc:
    calc = fn_add(*args)
    calc.inplace = True
    return calc


def fn_mul(*args: Any, **kwargs: Any) -> Calc:
    shapes = [a for a in args if isinstance(a, TShape)]
    return _elementwise("mul", _broadcast(*shapes), per_element=1, note="1 MAC per element",
                        kind="mul")


def fn_cat(tensors: Sequence[Shape], dim: int = 0, **kwargs: Any) -> Calc:
    dim = kwargs.get("dim", dim) % len(tensors[0])
    out = list(tensors[0])
    out[dim] = sum(t[dim] for t in tensors)
    return Calc("concat", tuple(out), kind="concat")


def fn_flatten(x: Shape, start_dim: int = 0, end_dim: int = -1) -> Calc:
    return _flatten_calc(x, start_dim, end_dim)


def fn_activation(x: Shape, *args: Any, inplace: bool = False, **kwargs: Any) -> Calc:
    return Calc("activation", x, inplace=bool(inplace), kind="activation")


def fn_dropout(x: Shape, p: float = 0.5, *args: Any, inplace: bool = False,
               **kwargs: Any) -> Calc:
    calc = fn_activation(x, inplace=inplace)
    calc.kind, calc.drop = "dropout", float(p)
    return calc


def fn_adaptive_avg_pool(x: Shape, output_size: Any) -> Calc:
    return _adaptive("adaptive_avg_pool", x, output_size, "avg_pool")


def fn_imul(*args: Any, **kwargs: Any) -> Calc:
    """``x *= y`` / ``x.mul_(y)``: a multiply per element, written into ``x``."""
    calc = fn_mul(*args)
    calc.inplace = True
    return calc


def fn_linear(x: Shape, weight: Shape, bias: Shape | None = None) -> Calc:
    """``F.linear``: as nn.Linear; its weights are counted where they are read (get_attr)."""
    if x[-1] != weight[-1]:
        raise ShapeMismatchError(f"expects {weight[-1]} input features but gets {x[-1]}")
    macs_terms = ((*x[1:-1], weight[-1], weight[0]),)
    return Calc("linear", (*x[:-1], weight[0]), macs=_terms_value(macs_terms),
                macs_terms=macs_terms, rf=RF_GLOBAL if len(x) == 2 else RF_SAME,
                weight_layer=True, kind="fc")


def _fn_conv(x: Shape, weight: Shape, bias: Shape | None = None, stride: Any = 1,
             padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Calc:
    """``F.conv1d/2d/3d``: as nn.Conv*d, weights counted where they are read."""
    if x[1] != weight[1] * groups:
        raise ShapeMismatchError(f"expects {weight[1] * groups} input channels but gets {x[1]}")
    calc = _conv(f"conv{len(x) - 2}d", x, weight[0], groups, weight[2:], stride, padding,
                 dilation, False)
    calc.params, calc.params_terms = 0, ()
    return calc


def _fn_conv_transpose(x: Shape, weight: Shape, bias: Shape | None = None, stride: Any = 1,
                       padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                       dilation: Any = 1) -> Calc:
    calc = _conv_transpose(f"conv_transpose{len(x) - 2}d", x, weight[0], weight[1] * groups,
                           groups, weight[2:], stride, padding, output_padding, dilation, False)
    calc.params, calc.params_terms = 0, ()
    return calc


def _max_pool(x: Shape, kernel_size: Any, stride: Any = None, padding: Any = 0,
              dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False
              ) -> Calc | Outputs:
    """``F.max_pool*d``: as the modules (windows, receptive field, MACs)."""
    windows, spatial = _sliding(x, kernel_size, stride or kernel_size, padding, dilation,
                                ceil_mode)
    macs_terms = ((x[1], *spatial, *(w.kernel for w in windows)),)
    calc = Calc("max_pool", (x[0], x[1], *spatial), macs=_terms_value(macs_terms),
                macs_terms=macs_terms, kind="max_pool")
    _window_labels(calc, windows)
    return _with_indices(calc) if return_indices else calc


def _max_pool_with_indices(*args: Any, **kwargs: Any) -> Calc | Outputs:
    return _max_pool(*args, **{**kwargs, "return_indices": True})


def _avg_pool(x: Shape, kernel_size: Any, stride: Any = None, padding: Any = 0,
              ceil_mode: bool = False, count_include_pad: bool = True,
              divisor_override: Any = None) -> Calc:
    calc = _max_pool(x, kernel_size, stride, padding, 1, ceil_mode)
    assert isinstance(calc, Calc)
    calc.type, calc.kind = "avg_pool", "avg_pool"
    return calc


def _adaptive_max_pool(x: Shape, output_size: Any, return_indices: bool = False
                       ) -> Calc | Outputs:
    calc = _adaptive("adaptive_max_pool", x, output_size, "max_pool")
    return _with_indices(calc) if return_indices else calc


def _fn_norm(x: Shape, *args: Any, **kwargs: Any) -> Calc:
    """``F.layer_norm``, ``F.group_norm``, ``F.batch_norm``...: 1 MAC per element, as the
    modules; their weights are counted where they are read."""
    return _elementwise("norm", x, per_element=1, note="1 MAC per element: y = scale*x + shift",
                        kind="norm")


def fn_matmul(a: Shape, b: Shape, *args: Any, **kwargs: Any) -> Calc:
    """Matrix products (matmul, @, mm, bmm): one MAC per output element per inner index.
    Every output mixes a whole row, so the receptive field is taken as the whole input."""
    a2 = a if len(a) > 1 else (1, a[0])
    b2 = b if len(b) > 1 else (b[0], 1)
    if a2[-1] != b2[-2]:
        raise ShapeMismatchError(f"cannot multiply {tuple(a)} by {tuple(b)}")
    batch = tuple(torch.broadcast_shapes(a2[:-2], b2[:-2]))
    out = (*batch, *((a2[-2],) if len(a) > 1 else ()), *((b2[-1],) if len(b) > 1 else ()))
    macs_terms = ((*batch, a2[-2], b2[-1], a2[-1]),)
    return Calc("matmul", out, macs=_terms_value(macs_terms), macs_terms=macs_terms,
                rf=RF_GLOBAL, note="output elements x the inner dimension", kind="matmul")


def fn_addmm(bias: Shape, a: Shape, b: Shape, *args: Any, **kwargs: Any) -> Calc:
    """``addmm``/``baddbmm``: the product's MACs; the added bias is not a MAC."""
    return fn_matmul(a, b)


def fn_einsum(equation: str, *operands: Any) -> Calc:
    """``torch.einsum`` of two operands: one MAC per combination of all the indices (the
    product of every distinct index's size), as a batched matrix product computes it.
    One operand (a sum or a transpose) multiplies nothing; three or more are counted as one
    product over all their indices."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)) \
            and not isinstance(operands[0], TShape):
        operands = tuple(operands[0])
    out = torch.einsum(equation, *(torch.empty(o, device="meta") for o in operands)).shape
    macs = 0
    if len(operands) >= 2:
        sizes: dict[str, int] = {}
        ellipses = []
        for spec, shape in zip(equation.replace(" ", "").partition("->")[0].split(","),
                               operands, strict=True):
            head, dots, tail = spec.partition("...")
            n_ell = len(shape) - len(head) - len(tail) if dots else 0
            if dots:
                ellipses.append(tuple(shape[len(head):len(head) + n_ell]))
            for ch, d in zip(head + tail, (*shape[:len(head)], *shape[len(head) + n_ell:]),
                             strict=True):
                sizes[ch] = max(sizes.get(ch, 1), d)
        batch = torch.broadcast_shapes(*ellipses) if ellipses else ()
        macs = prod(list(sizes.values())) * prod(batch)
    return Calc("einsum", tuple(out), macs=macs, macs_terms=((macs,),) if macs else (),
                rf=RF_GLOBAL, note=f"'{equation}': the product of every index's size",
                kind="matmul")


def fn_sdpa(q: Shape, k: Shape, v: Shape, *args: Any, **kwargs: Any) -> Calc:
    """``F.scaled_dot_product_attention``: Q*K^T (L*S*E) and weights*V (L*S*Ev) per head."""
    lead = q[:-2]
    macs_terms = ((*lead, q[-2], k[-2], q[-1]), (*lead, q[-2], k[-2], v[-1]))
    return Calc("attention", (*q[:-1], v[-1]), macs=_terms_value(macs_terms),
                macs_terms=macs_terms, rf=RF_GLOBAL, kind="attention",
                note="Q*K^T + weights*V, per head (softmax and scale not counted)")


FUNCTION_RULES: dict[Any, Callable[..., Calc | Outputs]] = {
    operator.add: fn_add, torch.add: fn_add, "add": fn_add,
    operator.iadd: fn_iadd, "add_": fn_iadd,
    operator.mul: fn_mul, torch.mul: fn_mul, "mul": fn_mul,
    torch.cat: fn_cat, torch.concat: fn_cat,
    torch.flatten: fn_flatten, "flatten": fn_flatten,
    F.relu: fn_activation, torch.relu: fn_activation, "relu": fn_activation,
    F.dropout: fn_dropout, torch.sigmoid: fn_activation, torch.tanh: fn_activation,
    F.adaptive_avg_pool2d: fn_adaptive_avg_pool, F.adaptive_avg_pool1d: fn_adaptive_avg_pool,
    F.adaptive_avg_pool3d: fn_adaptive_avg_pool,
    operator.imul: fn_imul, "mul_": fn_imul,
    F.linear: fn_linear,
    F.conv1d: _fn_conv, F.conv2d: _fn_conv, F.conv3d: _fn_conv,
    F.conv_transpose1d: _fn_conv_transpose, F.conv_transpose2d: _fn_conv_transpose,
    F.conv_transpose3d: _fn_conv_transpose,
    F.max_pool1d: _max_pool, F.max_pool2d: _max_pool, F.max_pool3d: _max_pool,
    F.max_pool1d_with_indices: _max_pool_with_indices,
    F.max_pool2d_with_indices: _max_pool_with_indices,
    F.max_pool3d_with_indices: _max_pool_with_indices,
    F.avg_pool1d: _avg_pool, F.avg_pool2d: _avg_pool, F.avg_pool3d: _avg_pool,
    F.adaptive_max_pool1d: _adaptive_max_pool, F.adaptive_max_pool2d: _adaptive_max_pool,
    F.adaptive_max_pool3d: _adaptive_max_pool,
    F.layer_norm: _fn_norm, F.group_norm: _fn_norm, F.batch_norm: _fn_norm,
    F.instance_norm: _fn_norm, F.rms_norm: _fn_norm,
    torch.matmul: fn_matmul, operator.matmul: fn_matmul, "matmul": fn_matmul,
    torch.mm: fn_matmul, "mm": fn_matmul, torch.bmm: fn_matmul, "bmm": fn_matmul,
    torch.addmm: fn_addmm, torch.baddbmm: fn_addmm,
    torch.einsum: fn_einsum,
    F.scaled_dot_product_attention: fn_sdpa,
}
#: Friendly names for the ``type`` column of function rows.
FUNCTION_TYPES = {fn_add: "add", fn_iadd: "add", fn_cat: "concat", fn_flatten: "flatten",
                  fn_mul: "mul", fn_imul: "mul", fn_linear: "linear", fn_matmul: "matmul",
                  fn_addmm: "matmul", fn_einsum: "einsum", fn_sdpa: "attention",
                  _max_pool: "max_pool", _max_pool_with_indices: "max_pool",
                  _avg_pool: "avg_pool", _adaptive_max_pool: "adaptive_max_pool",
                  _fn_norm: "norm"}


# ---------------------------------------------------------------- explanations


def short(n: float) -> str:
    """A count as the slides round it: 120,422,400 -> "120.4M", 69,632 -> "69.6K".

    Decimal units (K = 1000), one decimal, because the slides' "120M", "12.4M", "1.5M + 3.8M"
    are counts of multiplies, not bytes (:func:`human_bytes` is for bytes).
    """
    for unit, scale in (("G", 10**9), ("M", 10**6), ("K", 10**3)):
        if abs(n) >= scale:
            return f"{n / scale:,.1f}{unit}"
    return f"{n:,}" if isinstance(n, int) else f"{n:,.1f}"


def human_bytes(n: int) -> str:
    """Bytes with the course's units: KB = 1024 bytes, MB = 1024 KB, GB = 1024 MB."""
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= scale:
            value = n / scale
            return f"{value:,.0f} {unit}" if value >= 100 else f"{value:,.3g} {unit}"
    return f"{n} B"


def _sum_of_products(terms: tuple[tuple[int, ...], ...]) -> str:
    return " + ".join("*".join(str(v) for v in t) for t in terms)


def explain(calc: Calc, bytes_per_element: int = 4) -> dict[str, str]:
    """The row's arithmetic with its own numbers filled in, one formula per quantity."""
    out_dims = calc.out[1:]
    elements = prod(out_dims)
    lines = {}
    if calc.windows:
        sizes = {w.formula() for w in calc.windows}
        lines["output_size"] = " and ".join(sorted(sizes))
    lines["params"] = (f"{_sum_of_products(calc.params_terms)} = {calc.params:,}"
                       if calc.params_terms else "0 (no weights)")
    mem = elements * bytes_per_element
    lines["memory"] = f"{'*'.join(str(d) for d in out_dims)}*{bytes_per_element} B = {mem:,} B"
    if mem >= 1024:  # under a KB the human form would repeat the bytes
        lines["memory"] += f" = {human_bytes(mem)}"
    if calc.type == "parameter":  # a weight a function reads (F.layer_norm's, a class token)
        lines["memory"] = "0 B: a weight, counted in params, not an activation"
    if calc.macs_terms:
        macs = f"{_sum_of_products(calc.macs_terms)} = {calc.macs:,}"
    else:
        macs = "0 (nothing multiplied)"
    lines["macs"] = f"{macs}; {calc.note}" if calc.note else macs
    if calc.warning:
        lines["warning"] = calc.warning
    return lines
