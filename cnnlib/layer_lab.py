"""The Layer lab: one layer at a time, and the slides' worked examples of what layers cost.

The dashboard's Layer lab page lets a student change N, F, S and P and watch the arithmetic
move, then compares the design tricks the classic networks are built from: Inception's 1x1
bottleneck, ResNet's bottleneck block and VGG's stacks of 3x3 convolutions. A page holds no
arithmetic, so this module answers those questions as plain data (frozen dataclasses, pandas
DataFrames, numpy arrays) that the page only renders.

Nothing here re-derives a formula. Single layers are built on the meta device (no weight
memory) and passed to the rules of :mod:`cnnlib.formulas`, the single source of per-layer
arithmetic, whose :func:`~cnnlib.formulas.explain` fills each formula in; stacks of layers go
through :func:`cnnlib.analysis.profile`, which also gives their receptive field. What is left
here is bookkeeping: where a filter sits on the grid, which columns it never reaches, and which
alternative is cheaper and by how much.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal, TypedDict

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from cnnlib import formulas
from cnnlib.analysis import Profile, profile
from cnnlib.errors import CnnlibError, InputTooSmallError
from cnnlib.formulas import Calc, EmptyOutputError, short

__all__ = [
    "CELL_KINDS", "COST_COLUMNS", "INCEPTION_EXAMPLES", "INPUT", "LAYER_COLUMNS", "PADDING",
    "SLIDES_POOL_INPUT", "UNCOVERED",
    "ConvArithmetic", "ConvGrid", "CostComparison", "FitReport", "MaxPoolExample", "OneByOne",
    "conv_arithmetic", "inception_cost", "max_pool_example", "one_by_one",
    "resnet_bottleneck_cost", "short", "stacked_3x3_cost",
]

#: What each code of :attr:`ConvGrid.cells` means, in code order (0, 1, 2).
CELL_KINDS = ("padding", "input", "input never covered")
PADDING, INPUT, UNCOVERED = range(3)

#: The slides' max-pooling example: 2x2 filters with stride 2 give [[6, 8], [3, 4]].
SLIDES_POOL_INPUT: tuple[tuple[int, ...], ...] = (
    (1, 1, 2, 4), (5, 6, 7, 8), (3, 2, 1, 0), (1, 2, 3, 4))

class InceptionExample(TypedDict):
    """:func:`inception_cost`'s sizes for one example."""

    h: int
    c_in: int
    c_out: int
    reduce: int


#: The slides' two Inception cost examples, as :func:`inception_cost` arguments.
INCEPTION_EXAMPLES: dict[str, InceptionExample] = {
    "28x28x192 -> 32": {"h": 28, "c_in": 192, "c_out": 32, "reduce": 16},
    "14x14x480 -> 48": {"h": 14, "c_in": 480, "c_out": 48, "reduce": 16},
}

#: Columns of :attr:`CostComparison.table` (one row per design) and of
#: :attr:`CostComparison.layers` (one row per layer of each design).
COST_COLUMNS = ["design", "layers", "output", "params", "macs", "receptive_field", "formula"]
LAYER_COLUMNS = ["design", "layer", "output", "params", "macs", "receptive_field", "formula"]


def _whole(name: str, value: int, low: int) -> int:
    """A hyper-parameter must be a whole number >= low: a sentence for the user otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise CnnlibError(f"{name} must be a whole number of at least {low}, not {value!r}.")
    return int(value)


# ---------------------------------------------------------------- convolution arithmetic


@dataclass(frozen=True)
class FitReport:
    """Whether stride S tiles the padded input, and what to do when it does not.

    The slides' (7 - 3)/3 + 1 = 2.33 is the point: PyTorch floors it to 2 without a word and
    the last input column is never seen, so the lab says so and names the settings that fit.
    """

    fits: bool  # (N - F + 2P)/S + 1 is a whole number
    exact: Fraction  # that quotient before flooring (7/3 for the slides' example)
    starts: tuple[int, ...]  # first column (= row) of each filter position, padded coordinates
    uncovered: tuple[int, ...]  # input columns (0-based, unpadded) that no position covers
    uncovered_padding: int  # padding columns past the last position (lopsided padding)
    paddings: tuple[tuple[int, int], ...]  # (P, output size) for P < F that fit with this S
    strides: tuple[tuple[int, int], ...]  # (S, output size) for S <= F that fit with this P
    text: str  # the explanation, one paragraph


@dataclass(frozen=True)
class ConvGrid:
    """The padded input grid with the filter positions, ready to draw.

    ``cells`` is padded x padded, codes as :data:`CELL_KINDS` (padding, input, input never
    covered). ``windows`` has one row per output position, in reading order: ``out_row``,
    ``out_col``, ``label`` (1-based), ``top``/``left`` (its first padded row and column), and
    for a drawing where cell (r, c) is centred on (r, c): its edges ``y0``/``x0``/``y1``/``x1``
    and its centre ``centre_y``/``centre_x``.
    """

    padded: int
    padding: int
    cells: np.ndarray
    windows: pd.DataFrame


@dataclass(frozen=True)
class ConvArithmetic:
    """One convolution, K filters of F x F x D with stride S and padding P on an N x N x D input.

    Every number comes from :func:`cnnlib.formulas.conv`; ``explain`` is
    :func:`cnnlib.formulas.explain` of that Calc (keys output_size, params, memory, macs and
    warning when the stride does not fit).
    """

    n: int
    f: int
    s: int
    p: int
    k: int
    d: int
    bias: bool
    padded: int  # N + 2P, the side of the grid the filter slides over
    out: int  # the output side, floored as PyTorch does
    out_shape: tuple[int, int, int]  # (K, out, out)
    params: int
    macs: int
    explain: dict[str, str]
    fit: FitReport
    positions: tuple[tuple[int, int], ...]  # (row, col) top-left of each position, padded coords

    @property
    def fits(self) -> bool:
        return self.fit.fits

    def grid(self) -> ConvGrid:
        """The padded grid and every filter position, for a drawing (no arithmetic in pages)."""
        cells = np.full((self.padded, self.padded), PADDING, dtype=np.int8)
        inside = slice(self.p, self.p + self.n)
        cells[inside, inside] = INPUT
        never = [c + self.p for c in self.fit.uncovered]
        cells[never, inside] = UNCOVERED
        cells[inside, never] = UNCOVERED
        side = len(self.fit.starts)
        rows = []
        for i, (top, left) in enumerate(self.positions):
            # cell c is drawn centred on c, so a window over cells a..a+F-1 spans a-0.5..a+F-0.5
            y0, x0 = top - 0.5, left - 0.5
            y1, x1 = y0 + self.f, x0 + self.f
            rows.append((i // side, i % side, str(i + 1), top, left, y0, x0, y1, x1,
                         (y0 + y1) / 2, (x0 + x1) / 2))
        windows = pd.DataFrame(rows, columns=["out_row", "out_col", "label", "top", "left", "y0",
                                              "x0", "y1", "x1", "centre_y", "centre_x"])
        return ConvGrid(self.padded, self.p, cells, windows)


def _chw(out: tuple[int, ...]) -> tuple[int, int, int]:
    """A conv's output shape (1, C, H, W) without the batch."""
    _, c, h, w = out
    return c, h, w


def _conv_calc(n: int, f: int, s: int, p: int, k: int, d: int, bias: bool = True) -> Calc:
    """formulas.conv on a meta-device Conv2d: the numbers without allocating any weights."""
    layer = nn.Conv2d(d, k, f, stride=s, padding=p, bias=bias, device="meta")
    return formulas.conv(layer, (1, d, n, n))


def _fits(calc: Calc) -> bool:
    return all(w.exact.denominator == 1 for w in calc.windows)


def _spans(starts: tuple[int, ...], f: int, limit: int = 6) -> str:
    """"0-2 and 3-5", or "0-2, 3-5, ..., 21-23" when there are many positions."""
    spans = [f"{a}-{a + f - 1}" if f > 1 else str(a) for a in starts]
    if len(spans) > limit:
        spans = [*spans[:2], "...", spans[-1]]
    return spans[0] if len(spans) == 1 else f"{', '.join(spans[:-1])} and {spans[-1]}"


def _columns(uncovered: tuple[int, ...], p: int) -> str:
    """Input columns named as on the drawing, which numbers the padded grid."""
    padded = tuple(u + p for u in uncovered)
    return f"column(s) {_spans(padded, 1)}{' of the padded grid' if p else ''}"


def _listing(items: list[str], word: str = "or") -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {word} {items[-1]}"


def _fit_report(n: int, f: int, s: int, p: int, calc: Calc) -> FitReport:
    window = calc.windows[0]
    starts = tuple(i * window.stride for i in range(window.out))
    uncovered = window.unread()
    after_last = [c for c in range(starts[-1] + f, n + 2 * p) if c >= p + n]
    fits = _fits(calc)
    paddings, strides = [], []
    if not fits:
        for q in range(f):
            try:
                other = _conv_calc(n, f, s, q, 1, 1)
            except EmptyOutputError:  # less padding than asked: the filter may not fit
                continue
            if _fits(other):
                paddings.append((q, other.windows[0].out))
        for t in range(1, f + 1):
            other = _conv_calc(n, f, t, p, 1, 1)
            if _fits(other):
                strides.append((t, other.windows[0].out))
    text = _fit_text(n, f, s, p, window, starts, uncovered, after_last, fits, paddings, strides)
    return FitReport(fits, window.exact, starts, uncovered, len(after_last), tuple(paddings),
                     tuple(strides), text)


def _fit_text(n: int, f: int, s: int, p: int, window: formulas.Window, starts: tuple[int, ...],
              uncovered: tuple[int, ...], after_last: list[int], fits: bool,
              paddings: list[tuple[int, int]], strides: list[tuple[int, int]]) -> str:
    where = (f"The {f}x{f} filter fits at {len(starts)} position(s) per row: columns "
             f"{_spans(starts, f)} of the {'padded ' if p else ''}input.")
    lost = tuple(u for u in uncovered if u + p >= starts[-1] + f)
    gaps = tuple(u for u in uncovered if u not in lost)
    if fits:
        text = f"Stride {s} fits: {window.formula()} is a whole number. {where}"
    else:
        text = (f"Stride {s} does not fit: {window.formula()}, and a filter cannot stop at "
                f"{float(window.exact):.2f} positions. {where}")
    if gaps:
        text += (f" Stride {s} is wider than the filter, so input {_columns(gaps, p)} "
                 "between positions are never covered.")
    if fits:
        return text
    if lost:
        text += (f" Input {_columns(lost, p)} (and the same rows) are never covered: "
                 f"PyTorch silently drops them by flooring to {window.out}.")
    elif after_last:
        text += (f" Only {len(after_last)} padding column(s) on the right are left over, so no "
                 "input pixel is lost, but the padding is lopsided (more used on the left).")
    fixes = []
    if paddings:
        fixes.append("padding " + _listing([f"P = {q} (output {o})" for q, o in paddings]))
    else:
        fixes.append(f"no padding below {f} fits with stride {s}")
    if strides:
        fixes.append(f"with P = {p}, stride "
                     + _listing([f"S = {t} (output {o})" for t, o in strides]))
    return f"{text} What fits instead: {'; '.join(fixes)}."


def conv_arithmetic(n: int, f: int, s: int = 1, p: int = 0, k: int = 1, d: int = 1,
                    bias: bool = True) -> ConvArithmetic:
    """Output size, parameters and MACs of K F x F filters (stride S, padding P) on N x N x D.

    A stride that does not tile the padded input is reported in ``fit`` (not silently floored
    as PyTorch does), with the positions that fit, the input columns left uncovered and the
    paddings/strides that would fit. A filter larger than the padded input raises
    :class:`~cnnlib.errors.InputTooSmallError`; a non-positive setting, :class:`CnnlibError`.
    """
    n, f, s, k, d = (_whole(name, v, 1) for name, v in
                     (("N (input size)", n), ("F (filter size)", f), ("S (stride)", s),
                      ("K (number of filters)", k), ("D (input depth)", d)))
    p = _whole("P (padding)", p, 0)
    try:
        calc = _conv_calc(n, f, s, p, k, d, bias)
    except EmptyOutputError as exc:
        raise InputTooSmallError(
            f"The {f}x{f} filter does not fit the {n}x{n} input with padding {p} "
            f"({exc.detail}). Use a filter of at most {n + 2 * p}, or more padding.") from None
    fit = _fit_report(n, f, s, p, calc)
    positions = tuple((r, c) for r in fit.starts for c in fit.starts)
    return ConvArithmetic(n, f, s, p, k, d, bias, n + 2 * p, calc.windows[0].out,
                          _chw(calc.out), calc.params, calc.macs,
                          formulas.explain(calc), fit, positions)


# ---------------------------------------------------------------- max pooling


@dataclass(frozen=True)
class MaxPoolExample:
    """Max pooling computed by torch, with which input cell won each window.

    ``winners[i, j]`` is the (row, col) in the input of output (i, j)'s maximum and
    ``output_index[i, j]`` its reading-order index. Input-shaped: ``winner_of``, the first
    output cell (reading order) that the input cell won, or -1; ``window_of``, the first window
    that covers the cell, or -1 (for colouring windows). ``winner_window[i, j]`` is
    ``winner_of`` at output (i, j)'s winner: its own index unless overlapping windows share
    the winner, so an output and its winner can share a colour. ``explain`` is
    formulas.explain of the pooling rule (output size, and MACs counted the slides' way).
    """

    input: np.ndarray
    output: np.ndarray
    winners: np.ndarray
    output_index: np.ndarray
    winner_of: np.ndarray
    winner_window: np.ndarray
    window_of: np.ndarray
    kernel: int
    stride: int
    explain: dict[str, str]


def max_pool_example(x: tuple[tuple[int, ...], ...] | np.ndarray = SLIDES_POOL_INPUT,
                     kernel: int = 2, stride: int = 2) -> MaxPoolExample:
    """``F.max_pool2d`` on a small 2-D array, keeping the index of each window's maximum.

    The values are computed by torch, not by hand, so the page shows what a network does;
    ties go to the first maximum in reading order, as in PyTorch.
    """
    kernel, stride = _whole("The pooling window", kernel, 1), _whole("The stride", stride, 1)
    values = np.asarray(x)
    if values.ndim != 2 or values.size == 0 or not np.issubdtype(values.dtype, np.number):
        raise CnnlibError("Max pooling here takes a non-empty 2-D array of numbers.")
    try:
        calc = formulas.pool(nn.MaxPool2d(kernel, stride), (1, 1, *values.shape))
        assert isinstance(calc, formulas.Calc)  # one output: the pool returns no indices
    except EmptyOutputError as exc:
        raise InputTooSmallError(f"A {kernel}x{kernel} pooling window does not fit the "
                                 f"{values.shape[0]}x{values.shape[1]} input "
                                 f"({exc.detail}).") from None
    tensor = torch.as_tensor(values, dtype=torch.float64)[None, None]
    pooled, index = F.max_pool2d(tensor, kernel, stride, return_indices=True)
    output = pooled[0, 0].numpy().astype(values.dtype)
    flat = index[0, 0].numpy()
    winners = np.stack(np.unravel_index(flat, values.shape), axis=-1)
    winner_of = np.full(values.shape, -1, dtype=int)
    for i, cell in reversed(list(enumerate(flat.ravel()))):  # first window wins a shared cell
        winner_of.flat[cell] = i
    window_of = np.full(values.shape, -1, dtype=int)
    rows, cols = calc.windows[0], calc.windows[1]
    for i in reversed(range(rows.out * cols.out)):
        top, left = (i // cols.out) * rows.stride, (i % cols.out) * cols.stride
        window_of[top:top + kernel, left:left + kernel] = i
    output_index = np.arange(output.size).reshape(output.shape)
    winner_window = winner_of.flat[flat]
    return MaxPoolExample(values, output, winners, output_index, winner_of, winner_window,
                          window_of, kernel, stride,
                          formulas.explain(calc))


# ---------------------------------------------------------------- 1x1 convolution


@dataclass(frozen=True)
class OneByOne:
    """A 1x1 convolution on H x H x C_in with K filters, and the linear layer it equals."""

    h: int
    c_in: int
    k: int
    out_shape: tuple[int, int, int]  # (K, H, H)
    positions: int  # H*H: where the fully connected layer is applied
    params: int
    macs: int
    explain: dict[str, str]  # formulas.explain of the 1x1 conv
    linear_params: int  # nn.Linear(C_in, K) applied at every position: the same numbers
    linear_macs: int
    linear_explain: dict[str, str]
    sentence: str


def one_by_one(h: int = 6, c_in: int = 32, k: int = 16, bias: bool = True) -> OneByOne:
    """The slides' 6x6x32 -> 6x6xK 1x1 convolution, and why it is a fully connected layer.

    Each 1x1 filter takes the C_in numbers at one position and returns their weighted sum:
    exactly ``nn.Linear(C_in, K)`` applied at each of the H*H positions. The linear rule is
    run on those positions, so the equal counts are shown, not asserted.
    """
    h, c_in, k = _whole("H", h, 1), _whole("C_in", c_in, 1), _whole("K", k, 1)
    calc = _conv_calc(h, 1, 1, 0, k, c_in, bias)
    positions = formulas.prod(calc.out[2:])
    linear = formulas.linear(nn.Linear(c_in, k, bias=bias, device="meta"),
                             (1, positions, c_in))
    sentence = (f"A 1x1 convolution with {k} filter(s) is a fully connected layer from the "
                f"{c_in} channels to {k} outputs, applied at each of the {positions} positions "
                f"with the same weights: it mixes channels, never neighbouring pixels. Each "
                f"filter is {c_in} weights{' + 1 bias' if bias else ''}; followed by a ReLU it "
                "is a small network in every pixel (Network in Network), and with fewer "
                "filters than channels it shrinks the depth cheaply, as Inception and ResNet "
                "do before their expensive convolutions.")
    return OneByOne(h, c_in, k, _chw(calc.out), positions, calc.params, calc.macs,
                    formulas.explain(calc), linear.params, linear.macs,
                    formulas.explain(linear), sentence)


# ---------------------------------------------------------------- cost calculators


@dataclass(frozen=True)
class CostComparison:
    """Two designs of the same layer, side by side.

    ``table`` has one row per design (:data:`COST_COLUMNS`), ``layers`` one row per layer of
    each design (:data:`LAYER_COLUMNS`, for a stacked bar chart); ``quantity`` is the column
    the slides compare ("macs" or "params"), ``ratio`` the first design's over the second's.
    """

    table: pd.DataFrame
    layers: pd.DataFrame
    quantity: Literal["macs", "params"]
    ratio: float
    headline: str


def _design(name: str, modules: list[nn.Conv2d], size: tuple[int, int, int],
            quantity: str) -> tuple[dict, list[dict], Profile]:
    """Profile one design: its row, its layers' rows, and the Profile itself.

    ``formula`` is the compared quantity's formula from formulas.explain, one term per layer.
    """
    result = profile(nn.Sequential(*modules), size)
    layer_rows = []
    for i, (module, (_, row)) in enumerate(zip(modules, result.layers.iterrows(), strict=True)):
        layer_rows.append({
            "design": name,
            "layer": f"{row['kernel']} conv, {module.in_channels}->{module.out_channels}",
            "output": row["output_shape"], "params": int(row["params"]),
            "macs": int(row["macs"]), "receptive_field": int(row["receptive_field"]),
            "formula": result.explain(i)[quantity]})
    total = result.totals[quantity]
    formula = " + ".join(r["formula"] for r in layer_rows)
    if len(layer_rows) > 1:
        formula += f"; total {total:,}"
    design = {"design": name, "layers": result.totals["weight_layers"],
              "output": result.totals["output_shape"], "params": result.totals["params"],
              "macs": result.totals["macs"],
              "receptive_field": int(result.layers["receptive_field"].iloc[-1]),
              "formula": formula}
    return design, layer_rows, result


def _compare(designs: list[tuple[str, list[nn.Conv2d]]], size: tuple[int, int, int],
             quantity: Literal["macs", "params"], noun: str) -> CostComparison:
    rows, layer_rows = [], []
    for name, modules in designs:
        row, layers, _ = _design(name, modules, size, quantity)
        rows.append(row)
        layer_rows += layers
    table = pd.DataFrame(rows, columns=COST_COLUMNS)
    first, second = (int(v) for v in table[quantity])
    ratio = first / second
    headline = (f"{short(first)} vs {short(second)} {noun}: the second design needs "
                f"{ratio:.1f}x fewer ({first:,} vs {second:,}).")
    return CostComparison(table, pd.DataFrame(layer_rows, columns=LAYER_COLUMNS), quantity,
                          ratio, headline)


def _conv(c_in: int, c_out: int, kernel: int, bias: bool) -> nn.Conv2d:
    """A 'same' convolution (odd kernel, padding K//2) on the meta device."""
    return nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=bias, device="meta")


def inception_cost(h: int = 28, c_in: int = 192, c_out: int = 32, reduce: int = 16,
                   kernel: int = 5, bias: bool = False) -> CostComparison:
    """A 5x5 conv on H x H x C_in -> C_out, against a 1x1 reduction to ``reduce`` channels first.

    The slides' examples: 28x28x192 -> 32 costs 120,422,400 multiplies ("120M") directly and
    2,408,448 + 10,035,200 = 12,443,648 ("12.4M") through 16 channels; 14x14x480 -> 48 costs
    112.9M against 1.5M + 3.8M = 5.3M. The comparison is on MACs (the slides' multiplies);
    biases are left out of params by default, as the slides count weights.
    """
    h, c_in, c_out, reduce = (_whole(name, v, 1) for name, v in
                              (("H", h), ("C_in", c_in), ("C_out", c_out), ("reduce", reduce)))
    kernel = _odd(kernel)
    k = f"{kernel}x{kernel}"
    return _compare([
        (f"{k} conv directly", [_conv(c_in, c_out, kernel, bias)]),
        (f"1x1 to {reduce}, then {k}", [_conv(c_in, reduce, 1, bias),
                                         _conv(reduce, c_out, kernel, bias)]),
    ], (c_in, h, h), "macs", "multiply-adds")


def resnet_bottleneck_cost(channels: int = 256, width: int = 64, h: int = 56,
                           bias: bool = False) -> CostComparison:
    """A 3x3 conv on ``channels`` maps against ResNet's bottleneck (1x1 down to ``width``,
    3x3, 1x1 back up).

    The slides: 256*256*3*3 = 589,824 (~600K) weights against 16,384 + 36,864 + 16,384 =
    69,632 (~70K), no biases. Compared on parameters; MACs are at H x H (56: ResNet-50's first
    stage, where these blocks sit).
    """
    channels, width, h = (_whole(name, v, 1) for name, v in
                          (("Channels", channels), ("Bottleneck width", width), ("H", h)))
    return _compare([
        (f"3x3 conv, {channels}->{channels}", [_conv(channels, channels, 3, bias)]),
        (f"bottleneck {channels}->{width}->{width}->{channels}",
         [_conv(channels, width, 1, bias), _conv(width, width, 3, bias),
          _conv(width, channels, 1, bias)]),
    ], (channels, h, h), "params", "parameters")


def stacked_3x3_cost(channels: int = 64, n: int = 3, h: int = 56,
                     bias: bool = False) -> CostComparison:
    """One big convolution against ``n`` stacked 3x3 ones (VGG's argument), C maps in and out.

    The single conv's kernel is the stack's receptive field as :func:`cnnlib.profile` computes
    it (2n + 1: 7 for three 3x3), so both see the same patch: 49C^2 weights against 27C^2 for
    n = 3, and the stack has n - 1 more non-linearities. Compared on parameters, no biases.
    """
    channels, n, h = (_whole(name, v, 1) for name, v in
                      (("Channels", channels), ("n (stacked convs)", n), ("H", h)))
    stack = [_conv(channels, channels, 3, bias) for _ in range(n)]
    _, _, stacked = _design("", stack, (channels, h, h), "params")
    big = int(stacked.layers["receptive_field"].iloc[-1])
    result = _compare([
        (f"one {big}x{big} conv", [_conv(channels, channels, big, bias)]),
        (f"{n} stacked 3x3 conv{'s' if n > 1 else ''}", stack),
    ], (channels, h, h), "params", "parameters")
    if not bias:  # the slides' 49C^2 and 27C^2: the count divided by C^2 (exact without biases)
        per_c2 = [f" = {int(v) // channels**2}C^2 (C = {channels})"
                  for v in result.table["params"]]
        result.table["formula"] = result.table["formula"] + per_c2
    return result


def _odd(kernel: int) -> int:
    kernel = _whole("The kernel size", kernel, 1)
    if kernel % 2 == 0:
        raise CnnlibError(f"The kernel size must be odd to keep the map's size, not {kernel}.")
    return kernel
