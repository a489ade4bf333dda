"""The course notes' network notation: type ``conv3-64 relu maxpool fc10``, get a network.

Why a notation: the notes write networks this way (VGG's Table 1 columns read
``conv3-64 conv3-64 maxpool ...``, and the rule of thumb is ``[(CONV-RELU)*N-POOL?]*M-(FC-RELU)*K,
SOFTMAX``), so a student can type what the slide says and at once see its shapes, parameters,
memory, MACs and receptive field through :func:`cnnlib.profile`, with every mistake pointed at.

Grammar (case-insensitive; whitespace, commas and newlines separate tokens; ``#`` starts a
comment that runs to the end of the line)::

    spec := item+
    item := atom ("*" COUNT)*          # repeat the atom COUNT times (*2*3 repeats 6 times)
    atom := LAYER | "[" item+ "]" | "(" item+ ")"    # both bracket kinds group

Layers (K kernel size, N filters or features, S stride, P padding):

- ``convK-N`` a KxK convolution, stride 1, "same" padding K//2; ``convK-N/S`` stride S and
  padding 0 (``conv11-96/4``); ``pP`` sets the padding (``conv5-256/1p2``, ``conv5-6p0``).
  A conv directly followed by ``bn`` has no bias: the batch norm's shift replaces it, as in
  ResNet. (torchvision's ``vgg16_bn`` keeps the redundant bias: 64 more params per such conv.)
- ``maxpool`` / ``avgpool``: 2x2 windows, stride 2; ``maxpoolK`` KxK windows, stride K;
  ``maxpoolK/S``, ``avgpool7/1``; ``pP`` pads, at most K//2 (as torch requires). Pools floor
  their output size (GoogLeNet's ceil-mode pools cannot be written).
- ``lrn`` AlexNet's LocalResponseNorm(5, 1e-4, 0.75, 2); ``bn`` batch norm of the current
  channels (of the features once flat); ``relu``, ``tanh``, ``sigmoid``, ``softmax``;
  ``dropout`` / ``dropout0.5``; ``flatten``; ``fcN`` a Linear whose input size is computed from
  the current shape (an fc after a feature map flattens it first); ``gap`` global average
  pooling, AdaptiveAvgPool2d(1) + Flatten.
- ``res3-N`` / ``res3-N/S``: torchvision's BasicBlock, conv3x3-BN-ReLU-conv3x3-BN plus the
  shortcut, then ReLU. The shortcut is the identity when the shape is unchanged, else a 1x1
  conv + BN projection (the paper's option B). ``resA3-N/S``: the CIFAR nets' option A
  shortcut instead (identity, zero-padding the new channels: no parameters; it cannot shrink).
- ``bottleneck-M-N`` / ``bottleneck-M-N/S``: torchvision's Bottleneck, 1x1 M - 3x3 M - 1x1 N
  with BN and ReLU plus the shortcut (as for ``res``); S strides in the 3x3 (ResNet v1.5).
  torchvision's block expands by 4, so N must be 4*M (``bottleneck-64-256``).
- ``inception(a,b,c,d,e,f)``: GoogLeNet's module (the zoo's class: real 5x5 convs, ReLUs,
  concatenated), its six numbers in the paper's Table 1 column order: #1x1, #3x3 reduce,
  #3x3, #5x5 reduce, #5x5, pool proj.

``relu`` runs in place (as in torchvision's nets, so the memory totals match the zoo's) right
after a conv, fc, bn, lrn or pool, whose outputs nothing else needs; elsewhere (after tanh,
sigmoid, another ReLU or a residual block, whose backward reads its output) it allocates, so
training a spec never trips autograd.

Safety, for a dashboard that parses anyone's text: the parser is a hand-written tokenizer and
recursive descent, it never evaluates code. Every limit is checked before anything is built:
at most :data:`MAX_LAYERS` layers after expanding the repetitions (counted arithmetically as
the parser goes, so ``[conv3-64]*1000000000`` fails at once), :data:`MAX_CHANNELS` channels or
features, :data:`MAX_SIDE` pixels a side. The network is then assembled on the meta device
(:class:`cnnlib.meta.MetaBuild`) and analysed there, so no spec allocates real memory unless
asked to: ``build_from_spec(..., device="cpu")`` (the default) builds real weights after the
checks pass, at most :data:`MAX_BUILD_PARAMS` of them; ``device="meta"`` and
:func:`profile_spec` never allocate any.
Every problem is a :class:`~cnnlib.errors.SpecError` naming the token and its position.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torchvision.models import resnet as tv_resnet

from cnnlib import analysis
from cnnlib.errors import CnnlibError, InputTooSmallError, SpecError
from cnnlib.meta import MetaBuild
from cnnlib.models import googlenet
from cnnlib.models.cifar import CifarBlock
from cnnlib.models.classic import _lrn

#: Layers after expanding repetitions; these limits keep a shared server responsive.
MAX_LAYERS = 1000
MAX_CHANNELS = analysis.MAX_CHANNELS
MAX_SIDE = 4096
#: Bracket nesting, so a pathological spec cannot exhaust the parser's recursion.
MAX_NESTING = 32
#: Parameters that build_from_spec allocates for real: 1 GB in fp32, 7x VGG-16.
MAX_BUILD_PARAMS = 250_000_000
#: Features an fc may take: the largest input, flattened (keeps weight shapes within int64).
MAX_FEATURES = MAX_CHANNELS * MAX_SIDE * MAX_SIDE
DEFAULT_INPUT = (3, 224, 224)
_LIMIT_WHY = "a limit that keeps the explorer responsive for everyone"


# ---------------------------------------------------------------- the syntax tree


@dataclass(frozen=True)
class Layer:
    """One layer token of a spec: what was typed, and where (0-based character offset)."""

    token: str
    position: int


@dataclass(frozen=True)
class Conv(Layer):
    """``convK-N``, ``convK-N/S``, ``convK-N/SpP``, ``convK-NpP``: a KxK convolution."""

    kernel: int
    filters: int
    stride: int
    padding: int


@dataclass(frozen=True)
class Pool(Layer):
    """``maxpool``, ``avgpoolK``, ``maxpoolK/S``, ``avgpoolK/SpP``: a pooling window."""

    kind: str  # "max" or "avg"
    kernel: int
    stride: int
    padding: int


@dataclass(frozen=True)
class LocalResponseNorm(Layer):
    """``lrn``: AlexNet's local response normalisation."""


@dataclass(frozen=True)
class BatchNorm(Layer):
    """``bn``: batch norm of the current channels (of the features once flat)."""


@dataclass(frozen=True)
class Activation(Layer):
    """``relu``, ``tanh``, ``sigmoid`` or ``softmax`` (over the channels)."""

    function: str  # "relu", "tanh", "sigmoid" or "softmax"


@dataclass(frozen=True)
class Dropout(Layer):
    """``dropout`` (p = 0.5) or ``dropoutP``."""

    p: float


@dataclass(frozen=True)
class Flatten(Layer):
    """``flatten``: the feature map becomes a vector."""


@dataclass(frozen=True)
class Linear(Layer):
    """``fcN``: a fully connected layer of N outputs; it flattens a feature map first."""

    features: int


@dataclass(frozen=True)
class GlobalAvgPool(Layer):
    """``gap``: one average per channel, flattened."""


@dataclass(frozen=True)
class Residual(Layer):
    """``res3-N[/S]`` (projection shortcut) or ``resA3-N[/S]`` (option A): a basic block."""

    channels: int
    stride: int
    option_a: bool  # zero-padding shortcut (the CIFAR nets') instead of a projection


@dataclass(frozen=True)
class Bottleneck(Layer):
    """``bottleneck-M-N[/S]``: 1x1 M, 3x3 M (stride S), 1x1 N, plus the shortcut."""

    width: int
    channels: int
    stride: int


@dataclass(frozen=True)
class Inception(Layer):
    """``inception(#1x1,#3x3 reduce,#3x3,#5x5 reduce,#5x5,pool proj)``: GoogLeNet's."""

    n1x1: int
    n3x3_reduce: int
    n3x3: int
    n5x5_reduce: int
    n5x5: int
    pool_proj: int


#: Layers that need a feature map: they cannot follow a flatten, an fc or gap.
_NEEDS_MAP = (Conv, Pool, LocalResponseNorm, GlobalAvgPool, Residual, Bottleneck, Inception)


# ---------------------------------------------------------------- tokens


def _show(token: str) -> str:
    """A token quoted for a message as a markdown code span, cut short so a pasted essay does
    not flood the line. The fence is one backtick longer than any run of backticks in the
    token (CommonMark's rule), so a typed backtick cannot close the span early and turn the
    rest of the message into markup."""
    token = token if len(token) <= 40 else f"{token[:37]}..."
    fence = "`" * (max(map(len, re.findall("`+", token)), default=0) + 1)
    pad = " " if token.startswith("`") or token.endswith("`") else ""
    return f"{fence}{pad}{token}{pad}{fence}"


def _error(token: str, position: int, problem: str) -> SpecError:
    return SpecError(f"{_show(token)} at {position}: {problem}", token, position)


# A word is anything up to a separator, a comment or a bracket; ``inception(...)`` keeps its
# parenthesised numbers (their commas are not separators). Every character matches one branch.
_SCAN = re.compile(r"""
    (?P<space>[\s,]+)
  | (?P<comment>\#[^\n]*)
  | (?P<call>inception\s*\([^()\[\]\#*\n]*\)?)
  | (?P<punct>[\[\]()*])
  | (?P<word>[^\s,\#\[\]()*]+)
""", re.VERBOSE | re.IGNORECASE)
_CLOSER = {"[": "]", "(": ")"}
_WHOLE = re.compile(r"-?[0-9]+")


def _tokens(text: str) -> Iterator[tuple[str, int]]:
    """(token, position) pairs, lazily: an over-long spec fails at its 1,001st layer."""
    for m in _SCAN.finditer(text):
        if m.lastgroup not in ("space", "comment"):
            yield m.group(), m.start()


def _bounded(text: str, noun: str, low: int, high: int, fail: Callable[[str], SpecError]) -> int:
    """``text`` (digits, maybe a minus) as an int within [low, high], or a message saying why."""
    if len(text.lstrip("-")) > 12:  # beyond every limit; spares int() a pasted wall of digits
        value = -(10**12) if text.startswith("-") else 10**12
    else:
        value = int(text)
    if value < low:
        raise fail(f"the {noun} must be at least {low}, not {text}")
    if value > high:
        shown = text if len(text) <= 12 else f"{text[:12]}..."
        raise fail(f"the {noun} must be at most {high:,}, not {shown} ({_LIMIT_WHY})")
    return value


class _Reader:
    """Reads one layer token left to right, so an error can say exactly what is missing."""

    def __init__(self, token: str, position: int, kind: str, example: str) -> None:
        self.token, self.position, self.example = token, position, example
        self.kind = kind.lower()  # ASCII letters: the same length as typed
        self.rest = token[len(kind):].lower()

    def fail(self, problem: str) -> SpecError:
        return _error(self.token, self.position, problem)

    def take(self, prefix: str) -> bool:
        if self.rest.startswith(prefix):
            self.rest = self.rest[len(prefix):]
            return True
        return False

    def number(self, noun: str, where: str, low: int = 1, high: int = MAX_SIDE) -> int:
        m = _WHOLE.match(self.rest)
        if not m:
            raise self.fail(f"expected a {noun} {where}, e.g. {self.example}")
        self.rest = self.rest[m.end():]
        return _bounded(m.group(), noun, low, high, self.fail)

    def optional_number(self, noun: str, where: str, default: int) -> int:
        return self.number(noun, where) if _WHOLE.match(self.rest) else default

    def stride(self, default: int) -> int:
        return self.number("stride", "after the slash") if self.take("/") else default

    def padding(self, default: int) -> int:
        return self.number("padding", "after p", low=0) if self.take("p") else default

    def done(self) -> None:
        if self.rest:
            read = self.token[:len(self.token) - len(self.rest)]
            raise self.fail(f"unexpected {_show(self.rest)} after {_show(read)} (separate layers "
                            f"with spaces or commas), e.g. {self.example}")


def _kernel_and_filters(r: _Reader) -> tuple[int, int]:
    """The ``K-N`` of ``convK-N`` and ``resK-N``."""
    kernel = r.number("kernel size", f"after {r.kind}")
    if not r.take("-"):
        raise r.fail(f"expected a dash and a filter count after the kernel size, e.g. {r.example}")
    return kernel, r.number("filter count", "after the dash", high=MAX_CHANNELS)


def _conv(r: _Reader) -> Layer:
    kernel, filters = _kernel_and_filters(r)
    slash = r.rest.startswith("/")
    stride = r.stride(1)
    padding = r.padding(0 if slash else kernel // 2)
    return Conv(r.token, r.position, kernel, filters, stride, padding)


def _pool(r: _Reader) -> Layer:
    kernel = r.optional_number("window size", f"after {r.kind}", 2)
    stride = r.stride(kernel)
    padding = r.padding(0)
    if padding > kernel // 2:
        raise r.fail(f"a pool's padding can be at most half its window ({kernel // 2} for "
                     f"{kernel}), as torch requires, not {padding}")
    return Pool(r.token, r.position, r.kind[:3], kernel, stride, padding)


def _residual(r: _Reader) -> Layer:
    kernel, channels = _kernel_and_filters(r)
    stride = r.stride(1)
    if kernel != 3:
        raise r.fail(f"a residual block's convs are 3x3 (torchvision's BasicBlock), so write "
                     f"{r.token[:len(r.kind)]}3-{channels}")
    return Residual(r.token, r.position, channels, stride, option_a=r.kind == "resa")


def _bottleneck(r: _Reader) -> Layer:
    if not r.take("-"):
        raise r.fail(f"expected a dash and the bottleneck width, e.g. {r.example}")
    width = r.number("bottleneck width", "after the dash", high=MAX_CHANNELS)
    if not r.take("-"):
        raise r.fail(f"expected a dash and the output width after the bottleneck width, "
                     f"e.g. {r.example}")
    channels = r.number("output width", "after the second dash", high=MAX_CHANNELS)
    stride = r.stride(1)
    if channels != 4 * width:
        raise r.fail(f"the output width must be 4 times the bottleneck width (torchvision's "
                     f"Bottleneck expands by 4): bottleneck-{width}-{4 * width}")
    return Bottleneck(r.token, r.position, width, channels, stride)


def _inception(r: _Reader) -> Layer:
    inside = r.rest.strip()
    if not (inside.startswith("(") and inside.endswith(")")):
        raise r.fail(f"expected six numbers in parentheses after inception, e.g. {r.example}")
    parts = [p.strip() for p in inside[1:-1].split(",")]
    if len(parts) != 6:
        raise r.fail(f"expected six numbers (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, "
                     f"pool proj), not {len(parts)}, e.g. {r.example}")
    for part in parts:
        if not _WHOLE.fullmatch(part):
            raise r.fail(f"expected a whole number, not {_show(part)}, e.g. {r.example}")
    widths = [_bounded(p, "filter count", 1, MAX_CHANNELS, r.fail) for p in parts]
    r.rest = ""
    out = widths[0] + widths[2] + widths[4] + widths[5]
    if out > MAX_CHANNELS:
        raise r.fail(f"its branches concatenate to {out:,} channels, more than {MAX_CHANNELS:,} "
                     f"({_LIMIT_WHY})")
    return Inception(r.token, r.position, *widths)


def _dropout(r: _Reader) -> Layer:
    if not r.rest:
        return Dropout(r.token, r.position, 0.5)
    if not re.fullmatch(r"[0-9]*\.?[0-9]+", r.rest) or float(r.rest) > 1:
        raise r.fail(f"expected a probability from 0 to 1 after dropout, e.g. {r.example}")
    p, r.rest = float(r.rest), ""
    return Dropout(r.token, r.position, p)


def _linear(r: _Reader) -> Layer:
    return Linear(r.token, r.position, r.number("feature count", "after fc", high=MAX_CHANNELS))


def _activation(r: _Reader) -> Layer:
    return Activation(r.token, r.position, r.kind)


#: Every layer name: how to read its numbers, and an example for messages and suggestions.
_KINDS: dict[str, tuple[Callable[[_Reader], Layer], str]] = {
    "conv": (_conv, "conv3-64"),
    "maxpool": (_pool, "maxpool3/2"),
    "avgpool": (_pool, "avgpool2"),
    "lrn": (lambda r: LocalResponseNorm(r.token, r.position), "lrn"),
    "bn": (lambda r: BatchNorm(r.token, r.position), "bn"),
    "relu": (_activation, "relu"),
    "tanh": (_activation, "tanh"),
    "sigmoid": (_activation, "sigmoid"),
    "softmax": (_activation, "softmax"),
    "dropout": (_dropout, "dropout0.5"),
    "flatten": (lambda r: Flatten(r.token, r.position), "flatten"),
    "fc": (_linear, "fc4096"),
    "gap": (lambda r: GlobalAvgPool(r.token, r.position), "gap"),
    "res": (_residual, "res3-64"),
    "resa": (_residual, "resA3-32/2"),
    "bottleneck": (_bottleneck, "bottleneck-64-256"),
    "inception": (_inception, "inception(64,96,128,16,32,32)"),
}
_LETTERS = re.compile(r"[a-z]*", re.IGNORECASE | re.ASCII)


def _layer(token: str, position: int) -> Layer:
    """One layer token -> its syntax-tree node; its name picks the reader of its numbers."""
    kind = m.group() if (m := _LETTERS.match(token)) else ""  # [a-z]* always matches
    if kind.lower() not in _KINDS:
        raise _unknown(token, position, kind)
    read, example = _KINDS[kind.lower()]
    reader = _Reader(token, position, kind, example)
    layer = read(reader)
    reader.done()
    return layer


def _unknown(token: str, position: int, kind: str) -> SpecError:
    """An unknown layer, with the closest layer name in its place as a suggestion."""
    close = difflib.get_close_matches(kind.lower(), _KINDS, n=1, cutoff=0.6)
    if close:
        name = _KINDS[close[0]][1] if close[0] == "inception" else close[0]
        hint = f"did you mean {name.replace('resa', 'resA')}{token[len(kind):]}?"
    elif not token.strip("-?"):
        hint = "separate layers with spaces or commas; the rule of thumb's - and ? are not layers"
    else:
        hint = "the layers: " + ", ".join(example for _, example in _KINDS.values())
    return SpecError(f"unknown token {_show(token)} at {position} ({hint})", token, position)


# ---------------------------------------------------------------- the parser


class _Parser:
    """Recursive descent over the token stream, expanding repetitions as it goes.

    Each group's layers are expanded only after the arithmetic says the result stays within
    :data:`MAX_LAYERS`, so no spec can make the parser allocate more than that many nodes.
    """

    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)

    def parse(self) -> list[Layer]:
        layers = self.items(None, 0)
        if not layers:
            raise SpecError("The spec is empty: write some layers, e.g. "
                            "`[conv3-64 relu]*2 maxpool fc10`.", "", 0)
        return layers

    def items(self, opener: tuple[str, int] | None, depth: int) -> list[Layer]:
        """The items up to ``opener``'s closing bracket (or the end, at the top level)."""
        layers: list[Layer] = []
        last: list[Layer] = []  # the item that a following `*N` repeats
        for token, position in self.tokens:
            if token in _CLOSER:
                if depth == MAX_NESTING:
                    raise _error(token, position, f"brackets nest at most {MAX_NESTING} deep")
                last = self.items((token, position), depth + 1)
                if not last:
                    raise _error(token, position, "an empty group: put layers inside it")
            elif token in _CLOSER.values():
                if opener is None:
                    raise SpecError(f"{_show(token)} at {position} has no matching "
                                    f"{_show('[' if token == ']' else '(')}", token, position)
                if token != _CLOSER[opener[0]]:
                    raise _error(token, position, f"does not close {_show(opener[0])} at "
                                 f"{opener[1]} (close it with {_show(_CLOSER[opener[0]])})")
                return layers
            elif token == "*":
                if not last:
                    raise _error(token, position, "nothing before it to repeat, e.g. "
                                 "[conv3-64 relu]*2")
                count_token, count_at = next(self.tokens, (token, position))  # none: blame `*`
                if not _WHOLE.fullmatch(count_token):
                    raise _error(count_token, count_at, "expected a repeat count (a whole "
                                 "number) after `*`, e.g. [conv3-64 relu]*2")
                count = _bounded(count_token, "repeat count", 1, MAX_LAYERS,
                                 functools.partial(_error, count_token, count_at))
                total = len(layers) + len(last) * (count - 1)
                if total > MAX_LAYERS:
                    raise _error(count_token, count_at, f"repeating {len(last):,} layer(s) "
                                 f"{count:,} times makes {total:,} layers after expansion, more "
                                 f"than {MAX_LAYERS:,} ({_LIMIT_WHY})")
                layers += last * (count - 1)
                last = last * count
                continue
            else:
                last = [_layer(token, position)]
            layers += last
            if len(layers) > MAX_LAYERS:
                raise _error(token, position, f"the spec has more than {MAX_LAYERS:,} layers "
                             f"after expansion ({_LIMIT_WHY})")
        if opener is not None:
            raise SpecError(f"{_show(opener[0])} at {opener[1]} is never closed", *opener)
        return layers


def parse(text: str) -> list[Layer]:
    """The layers of ``text``, repetitions expanded, or a :class:`SpecError` saying what is
    wrong where. Nothing is built and no code is evaluated."""
    return _Parser(text).parse()


# ---------------------------------------------------------------- building


class SpecNet(nn.Sequential):
    """The network a spec describes: an ``nn.Sequential`` of layers named ``conv1``, ``relu1``,
    ``pool1``, ``fc1``... (a counter per kind), so the per-layer table reads like the spec.

    ``origins`` maps each of those names to the :class:`Layer` (token and position) that made
    it, so a row of the table, a warning or an error can point back into the text.
    """

    def __init__(self, spec: str) -> None:
        super().__init__()
        self.spec = spec
        self.origins: dict[str, Layer] = {}


#: Layers whose output no backward needs and nothing else reads: a ReLU after them may
#: overwrite it, as torchvision's nets do.
_RELU_IN_PLACE_AFTER = (Conv, Linear, BatchNorm, LocalResponseNorm, Pool)
_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "softmax": functools.partial(nn.Softmax, dim=1)}


class _Assembler:
    """Turns parsed layers into modules, tracking the channels (the features once flat)."""

    def __init__(self, text: str, size: tuple[int, int, int]) -> None:
        self.net = SpecNet(text)
        self.size = size
        self.channels = size[0]
        self.features: int | None = None  # set once the net is flat
        self.flat_since: Layer | None = None
        self.counts: Counter[str] = Counter()

    def add(self, kind: str, module: nn.Module, layer: Layer) -> None:
        self.counts[kind] += 1
        name = f"{kind}{self.counts[kind]}"
        self.net.add_module(name, module)
        self.net.origins[name] = layer

    def build(self, layers: list[Layer]) -> SpecNet:
        for i, layer in enumerate(layers):
            if isinstance(layer, _NEEDS_MAP) and self.flat_since is not None:
                flat = self.flat_since
                raise _error(layer.token, layer.position, f"needs a feature map, but the net is "
                             f"flat from {_show(flat.token)} at {flat.position} on")
            before = layers[i - 1] if i else None
            after = layers[i + 1] if i + 1 < len(layers) else None
            self.layer(layer, before, after)
        return self.net

    def layer(self, layer: Layer, before: Layer | None, after: Layer | None) -> None:
        c = self.channels
        match layer:
            case Conv():
                bias = not isinstance(after, BatchNorm)  # bn's shift makes a bias redundant
                self.add("conv", nn.Conv2d(c, layer.filters, layer.kernel, layer.stride,
                                           layer.padding, bias=bias), layer)
                self.channels = layer.filters
            case Pool():
                pool = nn.MaxPool2d if layer.kind == "max" else nn.AvgPool2d
                self.add("pool", pool(layer.kernel, layer.stride, layer.padding), layer)
            case LocalResponseNorm():
                self.add("lrn", _lrn(), layer)
            case BatchNorm():
                norm = (nn.BatchNorm2d(c) if self.features is None
                        else nn.BatchNorm1d(self.features))
                self.add("bn", norm, layer)
            case Activation(function="relu"):
                in_place = isinstance(before, _RELU_IN_PLACE_AFTER)
                self.add("relu", nn.ReLU(inplace=in_place), layer)
            case Activation():
                self.add(layer.function, _ACTIVATIONS[layer.function](), layer)
            case Dropout():
                self.add("dropout", nn.Dropout(layer.p), layer)
            case Flatten():
                self.flatten(layer)
            case Linear():
                features = self.features if self.features is not None else self.flatten(layer)
                self.add("fc", nn.Linear(features, layer.features), layer)
                self.features = layer.features
            case GlobalAvgPool():
                self.add("gap", nn.AdaptiveAvgPool2d(1), layer)
                self.add("flatten", nn.Flatten(), layer)
                self.features, self.flat_since = c, layer
            case Residual(option_a=True):
                if layer.channels < c:
                    raise _error(layer.token, layer.position, f"option A pads the shortcut with "
                                 f"zero channels, so it cannot shrink {c} channels to "
                                 f"{layer.channels}; res3-{layer.channels} projects instead")
                self.add("res", CifarBlock(c, layer.channels, layer.stride, residual=True), layer)
                self.channels = layer.channels
            case Residual():
                self.add("res", tv_resnet.BasicBlock(
                    c, layer.channels, layer.stride, self.projection(layer.channels,
                                                                     layer.stride)), layer)
                self.channels = layer.channels
            case Bottleneck():
                self.add("bottleneck", tv_resnet.Bottleneck(
                    c, layer.width, layer.stride, self.projection(layer.channels,
                                                                  layer.stride)), layer)
                self.channels = layer.channels
            case Inception():
                widths = dataclasses.astuple(layer)[2:]  # Table 1's six numbers, in order
                self.add("inception", googlenet.Inception(c, *widths), layer)
                self.channels = layer.n1x1 + layer.n3x3 + layer.n5x5 + layer.pool_proj

    def projection(self, channels: int, stride: int) -> nn.Module | None:
        """The shortcut of torchvision's ResNet: identity, or 1x1 conv + BN where shapes change."""
        if stride == 1 and channels == self.channels:
            return None
        return nn.Sequential(tv_resnet.conv1x1(self.channels, channels, stride),
                             nn.BatchNorm2d(channels))

    def flatten(self, layer: Layer) -> int:
        """Flatten the feature map (the shape so far comes from profiling the net so far);
        the number of features it makes."""
        features = self.features
        if features is None:
            shape = (_profile(self.net, self.size).rows[-1].calc.out[1:] if len(self.net)
                     else self.size)
            features = math.prod(shape)
            self.features, self.flat_since = features, layer
            if features > MAX_FEATURES:
                raise _error(layer.token, layer.position, f"the {analysis.format_shape(shape)} "
                             f"map before it flattens to {features:,} features, more than "
                             f"the {MAX_FEATURES:,} of the largest input ({_LIMIT_WHY})")
        self.add("flatten", nn.Flatten(), layer)
        return features


def _assemble(text: str, layers: list[Layer], size: tuple[int, int, int], device: str) -> SpecNet:
    """Build the modules on ``device``; "meta" builds through MetaBuild (no memory, no init)."""
    with MetaBuild() if device == "meta" else torch.device(device):
        return _Assembler(text, size).build(layers)


def top_module(row_name: str) -> str:
    """The top-level module of an analysis row ("res3.conv1" -> "res3"): a key of origins."""
    return row_name.split(".")[0]


def _culprit(net: SpecNet, exc: CnnlibError) -> Layer | None:
    """The token whose module the analysis error names (its ``layer``: "res3.conv1")."""
    return net.origins.get(top_module(getattr(exc, "layer", "") or ""))


def _profile(net: SpecNet, size: tuple[int, int, int], flops: bool = False) -> analysis.Profile:
    """:func:`cnnlib.profile` of a spec's net, its errors turned into SpecErrors at the token."""
    try:
        return analysis.profile(net, size, flops=flops)
    except CnnlibError as exc:
        layer = _culprit(net, exc)
        if layer is None:
            raise SpecError(f"The spec does not fit its input: {exc}", "", -1) from None
        what = ("empties the feature map" if isinstance(exc, InputTooSmallError)
                else "does not fit its input")
        raise SpecError(f"{_show(layer.token)} at {layer.position} {what}: {exc}", layer.token,
                        layer.position) from None


def _input_size(value: Any) -> tuple[int, int, int]:
    try:
        size = analysis.parse_input_size(value)
    except CnnlibError as exc:
        raise SpecError(str(exc), str(value), -1) from None
    if max(size[1:]) > MAX_SIDE:
        raise SpecError(f"Input {analysis.format_shape(size)} is too large for a spec: at most "
                        f"{MAX_SIDE} pixels a side ({_LIMIT_WHY}).", str(value), -1)
    return size


def meta_net(text: str, input_size: Any = DEFAULT_INPUT) -> SpecNet:
    """The net ``text`` describes, built on the meta device and not analysed: its ``origins``
    tie modules to tokens for whoever already holds the analysis (:func:`profile_spec`)."""
    return _assemble(text, parse(text), _input_size(input_size), "meta")


def _checked(text: str, input_size: Any, flops: bool = False
             ) -> tuple[list[Layer], tuple[int, int, int], SpecNet, analysis.Profile]:
    """Parse, check the limits, then build on meta and analyse: everything that can go wrong
    goes wrong here, before a single real weight exists."""
    layers = parse(text)
    size = _input_size(input_size)
    net = _assemble(text, layers, size, "meta")
    result = _profile(net, size, flops)
    for row in result.rows:  # padding can grow a map far past the input limit
        side = max(row.out.shape[2:], default=0)
        if side > MAX_SIDE:
            layer = net.origins[top_module(row.name)]
            raise _error(layer.token, layer.position, f"its output map is {side:,} pixels a "
                         f"side, over the {MAX_SIDE} that a spec's maps may have "
                         f"({_LIMIT_WHY}); padding grows a map by twice its amount")
    return layers, size, net, result


def build_from_spec(text: str, input_size: Any = DEFAULT_INPUT, device: str = "cpu") -> SpecNet:
    """The network ``text`` describes, for inputs of ``input_size`` (C x H x W).

    The spec is parsed, checked against the limits and analysed on the meta device first, so
    a bad spec raises :class:`SpecError` before anything real is built. ``device="cpu"`` (the
    default, or "cuda") then builds it again with real, freshly initialised weights, at most
    :data:`MAX_BUILD_PARAMS` of them (the limits above still allow a net of terabytes);
    ``device="meta"`` returns the meta-built net (shapes, no memory, no such limit), which is
    what to analyse untrusted text with, as :func:`profile_spec` does.
    """
    layers, size, net, result = _checked(text, input_size)
    if device == "meta":
        return net
    total = result.totals["params"]
    if total > MAX_BUILD_PARAMS:
        per_layer: Counter[str] = Counter()
        for row in result.rows:
            per_layer[top_module(row.name)] += row.calc.params
        name, params = per_layer.most_common(1)[0]
        layer = net.origins[name]
        raise _error(layer.token, layer.position, f"too big to build for real: {params:,} of the "
                     f"net's {total:,} parameters, over the {MAX_BUILD_PARAMS:,} that "
                     f"build_from_spec allocates ({_LIMIT_WHY}); analyse it on the meta device "
                     f"(device='meta' or profile_spec)")
    return _assemble(text, layers, size, device)


def profile_spec(text: str, input_size: Any = DEFAULT_INPUT, *, flops: bool = False
                 ) -> analysis.Profile:
    """:func:`cnnlib.profile` of the network ``text`` describes, built on the meta device only.

    Warnings name the token they are about, e.g. a stride that does not tile its input:
    "`conv11-64/4p2` at 0 (conv1): stride 4 does not tile the input: ...".
    """
    _, _, net, result = _checked(text, input_size, flops)
    warnings: list[str] = []
    for row in result.rows:
        if row.calc.warning:
            layer = net.origins[top_module(row.name)]
            warnings.append(f"{_show(layer.token)} at {layer.position} ({row.name}): "
                            f"{row.calc.warning}")
    return dataclasses.replace(result, model="spec", warnings=tuple(warnings))


# ---------------------------------------------------------------- examples

_VGG_HEAD = """
fc4096 relu dropout0.5   # the first fc flattens the 512x7x7 map: 25,088 features
fc4096 relu dropout0.5
fc1000
"""

#: Classic networks in the notation, keyed by the zoo model each equals layer for layer
#: (``googlenet_3a_3b`` is two modules of ``googlenet``). Their inputs: :data:`EXAMPLE_INPUTS`.
EXAMPLES: dict[str, str] = {
    "vgg11": """\
# VGG-11, configuration A (Simonyan & Zisserman 2014, Table 1), 3x224x224.
# Every conv is 3x3, stride 1, "same" padding, with a ReLU; five 2x2 max pools halve the
# map 224 -> 112 -> 56 -> 28 -> 14 -> 7.
conv3-64 relu maxpool
conv3-128 relu maxpool
[conv3-256 relu]*2 maxpool
([conv3-512 relu]*2 maxpool)*2
""" + _VGG_HEAD,
    "vgg13": """\
# VGG-13, configuration B: A with a second conv in the first two stages.
[conv3-64 relu]*2 maxpool
[conv3-128 relu]*2 maxpool
[conv3-256 relu]*2 maxpool
([conv3-512 relu]*2 maxpool)*2
""" + _VGG_HEAD,
    "vgg16_c": """\
# VGG-16, configuration C: the third conv of stages 3-5 is 1x1 (conv1-256: padding 0),
# more non-linearity without a larger receptive field. It beats B and loses to D.
[conv3-64 relu]*2 maxpool
[conv3-128 relu]*2 maxpool
[conv3-256 relu]*2 conv1-256 relu maxpool
([conv3-512 relu]*2 conv1-512 relu maxpool)*2
""" + _VGG_HEAD,
    "vgg16": """\
# VGG-16, configuration D: the rule of thumb [(CONV-RELU)*N-POOL]*M-(FC-RELU)*K, SOFTMAX
# with N = 2, 2, 3, 3, 3 (the softmax is left to the loss, as torchvision does).
[conv3-64 relu]*2 maxpool
[conv3-128 relu]*2 maxpool
[conv3-256 relu]*3 maxpool
([conv3-512 relu]*3 maxpool)*2
""" + _VGG_HEAD,
    "vgg19": """\
# VGG-19, configuration E: four convs in stages 3-5.
[conv3-64 relu]*2 maxpool
[conv3-128 relu]*2 maxpool
[conv3-256 relu]*4 maxpool
([conv3-512 relu]*4 maxpool)*2
""" + _VGG_HEAD,
    "alexnet": """\
# AlexNet as torchvision builds it (Krizhevsky 2014, "one weird trick"), 3x224x224:
# 64-192-384-256-256 filters on one GPU, no LRN. conv1's padding 2 lets a 224 input through
# (55.25 floors to 55: the warning says so); the 2012 paper's 227 fits exactly.
conv11-64/4p2 relu maxpool3/2
conv5-192 relu maxpool3/2
conv3-384 relu
conv3-256 relu
conv3-256 relu maxpool3/2
flatten dropout0.5 fc4096 relu   # 256x6x6 = 9,216 features
dropout0.5 fc4096 relu
fc1000
""",
    "lenet5": """\
# LeNet-5 (LeCun et al. 1998), 1x32x32, classic style: tanh and 2x2 average pooling (the
# "subsampling" layers). p0: no padding, so the map goes 32 -> 28 -> 14 -> 10 -> 5 -> 1.
conv5-6p0 tanh avgpool      # C1, S2
conv5-16p0 tanh avgpool     # C3 (fully connected to S2 here), S4
conv5-120p0 tanh            # C5
flatten fc84 tanh           # F6
fc10                        # the output layer
""",
    "cifar_resnet20": """\
# ResNet-20 for CIFAR-10 (He et al. 2015, sec. 4.2), 3x32x32: 6n+2 layers with n = 3.
# resA3-N: two 3x3 convs with batch norm plus the paper's option A shortcut (identity,
# zero-padding the new channels: no parameters); /2 halves the map 32 -> 16 -> 8.
conv3-16 bn relu            # a conv followed by bn has no bias: bn's shift replaces it
[resA3-16]*3
resA3-32/2 [resA3-32]*2
resA3-64/2 [resA3-64]*2
gap fc10
""",
    "googlenet_3a_3b": """\
# GoogLeNet's inception (3a) and (3b) (Szegedy et al. 2014, Table 1) on the 192x28x28 map that
# conv2 and pool2 leave. The six numbers are the table's columns: #1x1, #3x3 reduce, #3x3,
# #5x5 reduce, #5x5, pool proj. The branches concatenate: 3a makes 64+128+32+32 = 256 maps,
# 3b 128+192+96+64 = 480; the 1x1 reduces keep the 3x3 and 5x5 convs cheap.
inception(64,96,128,16,32,32)
inception(128,128,192,32,96,64)
""",
}
EXAMPLE_INPUTS: dict[str, tuple[int, int, int]] = {
    name: {"lenet5": (1, 32, 32), "cifar_resnet20": (3, 32, 32),
           "googlenet_3a_3b": (192, 28, 28)}.get(name, DEFAULT_INPUT) for name in EXAMPLES}
