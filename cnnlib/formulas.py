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
  - convolution: `C_out*H'*W' * (C_in/groups)*K*K`
  - linear: `C_in*C_out`
  - max/average pooling: `C*H'*W'*K*K`, one operation per window element, as the slides'
    "0.4 MFLOP" for AlexNet's pool1
  - batch norm (and group/layer norm): 1 per element (a scale and a shift)
  - local response normalisation: `size` per element (the sum of squares)
  - element-wise multiply: 1 per element
  - ReLU and other activations, dropout, residual additions, concatenation, flatten: 0,
    because nothing is multiplied
  - biases are not MACs
  - a layer with no formula gets its shape from running it on meta tensors, and 0 MACs

  `flops=True` / `--flops` reports FLOPs = 2 x MACs, the convention of
  `torch.utils.flop_counter`.
- **Params** include biases. Batch-norm running statistics are buffers, not parameters.
- **Memory** is the output's elements x 4 bytes (fp32); KB = 1024 bytes. The totals count
  each tensor that a layer allocates. In-place layers (`ReLU(inplace=True)`, `+=`) write into
  their input and add nothing. The input image is counted separately
  (`totals["input_activations"]`).
- **Output size** is `(W - K + 2P)/S + 1`, with `K = D*(K-1)+1` for dilation `D`, floored
  (ceiled for `ceil_mode` pools). When a convolution's stride does not tile its padded input,
  the layer gets a warning that gives the fraction (the slides' `(7 - 3)/3 + 1 = 2.33`).
  Pooling floors silently, which is the slides' convention for pooling.
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
               "dropout", "identity", "reshape", "add", "concat", "mul", "other"]
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
    n = len(x) - 2
    ks = _tuple(m.kernel_size, n)
    if isinstance(m.padding, str):  # "valid" or "same" (stride 1 only, torch enforces it)
        pads = tuple(0 if m.padding == "valid" else d * (k - 1) // 2
                     for k, d in zip(ks, _tuple(m.dilation, n), strict=True))
    else:
        pads = _tuple(m.padding, n)
    windows, spatial = _sliding(x, ks, m.stride, pads, m.dilation, False)
    if m.padding == "same":  # asymmetric padding when d*(k-1) is odd: output = input
        windows = tuple(Window(w.size, w.kernel, 1, w.padding, w.dilation, False, w.size)
                        for w in windows)
        spatial = tuple(x[2:])
    c_in_g = m.in_channels // m.groups
    weight = (m.out_channels, c_in_g, *ks)
    params_terms = (weight, (m.out_channels,)) if m.bias is not None else (weight,)
    macs_terms = ((m.out_channels, *spatial, c_in_g, *ks),)
    calc = Calc(type(m).__name__, (x[0], m.out_channels, *spatial),
                params=_terms_value(params_terms), macs=_terms_value(macs_terms),
                params_terms=params_terms, macs_terms=macs_terms, weight_layer=True, kind="conv")
    _window_labels(calc, windows)
    calc.warning = _unread_warning(windows)
    if m.groups > 1:
        calc.note = f"{m.groups} groups: each output sees C_in/groups = {c_in_g} input maps"
    return calc


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
    return Calc("Linear", (*x[:-1], m.out_features), params=_terms_value(params_terms),
                macs=_terms_value(macs_terms), params_terms=params_terms,
                macs_terms=macs_terms, rf=RF_GLOBAL, weight_layer=True, kind="fc")


def pool(m: nn.Module, x: Shape) -> Calc:
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
    return calc


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


def adaptive_pool(m: nn.Module, x: Shape) -> Calc:
    """Adaptive pooling: windows chosen so the output has a fixed size."""
    kind: Kind = ("max_pool" if isinstance(m, nn.modules.pooling._AdaptiveMaxPoolNd)
                  else "avg_pool")
    return _adaptive(type(m).__name__, x, m.output_size, kind)


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
    calc.kind = "dropout"
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


MODULE_RULES: dict[type, Callable[[Any, Shape], Calc]] = {
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
}


def module_rule(m: nn.Module) -> Callable[[Any, Shape], Calc] | None:
    """The rule for a module (its class's nearest base with one), or None for the fallback."""
    if getattr(m, "transposed", False):
        return None  # transposed convolutions have no formula yet: meta fallback
    cls: type = type(m)
    return _rule_for_class(cls)


@functools.cache
def _rule_for_class(cls: type) -> Callable[[Any, Shape], Calc] | None:
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


def fn_dropout(x: Shape, *args: Any, inplace: bool = False, **kwargs: Any) -> Calc:
    calc = fn_activation(x, inplace=inplace)
    calc.kind = "dropout"
    return calc


def fn_adaptive_avg_pool(x: Shape, output_size: Any) -> Calc:
    return _adaptive("adaptive_avg_pool", x, output_size, "avg_pool")


FUNCTION_RULES: dict[Any, Callable[..., Calc]] = {
    operator.add: fn_add, torch.add: fn_add, "add": fn_add,
    operator.iadd: fn_iadd, "add_": fn_iadd,
    operator.mul: fn_mul, torch.mul: fn_mul, "mul": fn_mul,
    torch.cat: fn_cat, torch.concat: fn_cat,
    torch.flatten: fn_flatten, "flatten": fn_flatten,
    F.relu: fn_activation, torch.relu: fn_activation, "relu": fn_activation,
    F.dropout: fn_dropout, torch.sigmoid: fn_activation, torch.tanh: fn_activation,
    F.adaptive_avg_pool2d: fn_adaptive_avg_pool, F.adaptive_avg_pool1d: fn_adaptive_avg_pool,
}
#: Friendly names for the ``type`` column of function rows.
FUNCTION_TYPES = {fn_add: "add", fn_iadd: "add", fn_cat: "concat", fn_flatten: "flatten",
                  fn_mul: "mul"}


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
    if calc.macs_terms:
        macs = f"{_sum_of_products(calc.macs_terms)} = {calc.macs:,}"
    else:
        macs = "0 (nothing multiplied)"
    lines["macs"] = f"{macs}; {calc.note}" if calc.note else macs
    if calc.warning:
        lines["warning"] = calc.warning
    return lines
