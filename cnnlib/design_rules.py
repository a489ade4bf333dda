"""Design-rule hints: what the slides would say about a network typed in the notation.

The course's design lessons are rules a student can check against a spec: stack 3x3 convs
instead of one large filter (VGG), squeeze the channels with a 1x1 conv before an expensive
conv (GoogLeNet), pad the convs so only pooling shrinks the map, put a non-linearity between
weight layers, and do not hang a huge fully connected layer on a big flattened map (NiN,
GoogLeNet). :func:`hints` checks a spec against each rule and says, with the spec's own
numbers, which token breaks it and what the alternative would cost.

Nothing here re-derives a formula: the costs of the alternatives come from
:mod:`cnnlib.layer_lab`'s cost calculators and :mod:`cnnlib.formulas`' rules run on
meta-device layers (no weights are allocated), and the closing summary is
:func:`cnnlib.insights.sentences`. Messages are plain text that renders safely as markdown:
"x" for multiplication, never a bare ``*``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from torch import nn

from cnnlib import formulas, insights, spec
from cnnlib.analysis import Profile, Row, format_shape
from cnnlib.formulas import short
from cnnlib.insights import share  # "12%", "over 99%", "all": the summary's wording
from cnnlib.layer_lab import INCEPTION_EXAMPLES, CostComparison, inception_cost, stacked_3x3_cost

__all__ = ["BOTTLENECK_MIN_CHANNELS", "BOTTLENECK_MIN_SHARE", "BOTTLENECK_REDUCTION",
           "HEAVY_FC_SHARE", "MAX_BOTTLENECK_HINTS", "Hint", "hints"]

#: Rule 2 looks at convs that read at least this many channels (fewer are cheap to reduce)...
BOTTLENECK_MIN_CHANNELS = 64
#: ...and do at least this share of the net's multiply-adds: only the expensive ones matter.
BOTTLENECK_MIN_SHARE = 0.10
#: The 1x1 reduction the hint proposes keeps 1/4 of the input channels, ResNet's bottleneck
#: ratio (256 -> 64); GoogLeNet's reductions are of the same order (192 -> 16..96).
BOTTLENECK_REDUCTION = 4
#: At most this many bottleneck hints, the most expensive convs, to keep the list short.
MAX_BOTTLENECK_HINTS = 2
#: Rule 5 fires when one fully connected layer holds more than this share of the parameters.
HEAVY_FC_SHARE = 0.5

_SUMMARY = "Where the cost is"


@dataclass(frozen=True)
class Hint:
    """One design remark: which rule, why (with numbers), and the token it is about."""

    rule: str  # short title, e.g. "Stack 3x3 convs instead of a large filter"
    message: str  # one or two sentences with computed numbers and the slides' reason
    token: str  # the spec token it is about ("" if about the whole net)
    position: int  # its offset in the text (-1 if none)


@dataclass(frozen=True)
class _Site:
    """One top-level module of the spec's net: the layer token that made it, its analysis rows
    (one for a conv or fc, several for a block) and the shape it reads (batch included)."""

    layer: spec.Layer
    rows: tuple[Row, ...]
    input: tuple[int, ...]

    @property
    def row(self) -> Row:
        """The module's own row (a conv's or an fc's only row)."""
        return self.rows[0]


def _sites(text: str, profile: Profile) -> list[_Site]:
    """The net's top-level modules in order, each tied to its token.

    The SpecNet's ``origins`` say which token made which module; building it again on the
    meta device (no second analysis) keeps the spec's naming rules in one place (spec.py). An
    fc on a feature map is two modules, a flatten and the Linear; its site is the Linear's.
    """
    net = spec.meta_net(text, profile.input_size)
    rows: dict[str, list[Row]] = {}
    for r in profile.rows:
        rows.setdefault(spec.top_module(r.name), []).append(r)
    image = (1, *profile.input_size)
    sites = []
    for name, layer in net.origins.items():
        own = rows.get(name)
        if not own or (all(r.calc.kind == "reshape" for r in own)
                       and not isinstance(layer, spec.Flatten)):
            continue  # an fc's (or gap's) own flatten: the fc's module stands for its token
        source = own[0].inputs[0] if own[0].inputs else -1
        shape = tuple(profile.rows[source].calc.out) if source >= 0 else image
        sites.append(_Site(layer, tuple(own), shape))
    return sites


L = TypeVar("L", bound=spec.Layer)


def _first_per_token(sites: list[_Site], kind: type[L]) -> Iterator[tuple[_Site, L]]:
    """The first module each token of ``kind`` made, with its token as a ``kind``:
    ``[conv7-64 relu]*3`` gets one hint."""
    seen: set[int] = set()
    for s in sites:
        if isinstance(s.layer, kind) and s.layer.position not in seen:
            seen.add(s.layer.position)
            yield s, s.layer


def _hint(rule: str, message: str, layer: spec.Layer) -> Hint:
    return Hint(rule, message, layer.token, layer.position)


def _plain(formula: str) -> str:
    """A formula from :func:`formulas.explain` with its ``*`` as "x", safe for markdown."""
    return formula.replace("*", " x ")


def _times(n: int, noun: str, plural: str = "") -> str:
    """ "1 time", "3 times"; ``plural`` for nouns that do not just take an s."""
    return f"{n} {noun}" if n == 1 else f"{n} {plural or noun + 's'}"


def _rounded(n: int) -> str:
    """ " (2.1M)" after an exact count, when rounding says it shorter."""
    return "" if short(n) == f"{n:,}" else f" ({short(n)})"


def _meta_conv(c_in: int, c_out: int, kernel: int, stride: int = 1, padding: int = 0
               ) -> nn.Conv2d:
    """A bias-free conv on the meta device: the slides count weights, and nothing allocates."""
    return nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False, device="meta")


# ---------------------------------------------------------------- rule 1: large filters


@functools.lru_cache(maxsize=64)
def _stack_cost(channels: int, n: int, h: int) -> CostComparison:
    return stacked_3x3_cost(channels, n, h)


def _large_filters(sites: list[_Site], profile: Profile) -> Iterator[Hint]:
    """A KxK conv (K >= 5, odd) against (K-1)/2 stacked 3x3 convs: VGG's argument.

    The slides' comparison assumes C channels in and out; it uses the conv's own filter count
    and map. A conv that reads fewer channels (the first layer) also gets this layer's exact
    weights and those of the stack that would replace it, which can be more: then the gain is
    the extra non-linearities, and the message says so.
    """
    for s, conv in _first_per_token(sites, spec.Conv):
        k = conv.kernel
        if k < 5 or k % 2 == 0:
            continue
        n, c_in, c = (k - 1) // 2, s.input[1], conv.filters
        cost = _stack_cost(c, n, s.input[2])
        big, stack = (int(v) for v in cost.table["params"])
        rf = int(cost.table["receptive_field"].iloc[1])
        more = _times(n - 1, "more non-linearity", "more non-linearities")
        message = (f"{s.layer.token} looks at {k}x{k} windows; {n} stacked 3x3 convs "
                   f"(conv3-{c}, {_times(n, 'time')}) see the same {rf}x{rf} receptive field "
                   f"with {stack // c**2} x {c}^2 = {stack:,} weights instead of "
                   f"{big // c**2} x {c}^2 = {big:,} ({cost.ratio:.1f}x fewer, C = {c} "
                   f"channels in and out) and put {more} "
                   "between them: VGG's reason for using only 3x3 filters.")
        if c_in != c:
            own = s.row.calc
            weights = math.prod(own.params_terms[0])
            first = formulas.conv(_meta_conv(c_in, c, 3, padding=1), s.input).params
            exact = first + (n - 1) * (stack // n)
            verdict = (f" ({weights / exact:.1f}x fewer)" if exact < weights else
                       ": more weights, so here the gain is the extra non-linearities alone")
            message += (f" It reads {_times(c_in, 'channel')}, though: it holds "
                        f"{' x '.join(map(str, own.params_terms[0]))} = {weights:,} weights, "
                        f"and a stack starting from those would hold {exact:,}"
                        f"{verdict}.")
        yield _hint("Stack 3x3 convs instead of a large filter", message, s.layer)


# ---------------------------------------------------------------- rule 2: 1x1 bottleneck


@functools.cache
def _slides_inception() -> str:
    """The slides' inception example, computed: "5x5 conv on 28x28x192 -> 32: 120.4M vs 12.4M"."""
    name, example = next(iter(INCEPTION_EXAMPLES.items()))
    macs = inception_cost(**example).table["macs"]
    return f"5x5 conv on {name}: {short(int(macs.iloc[0]))} vs {short(int(macs.iloc[1]))}"


def _bottlenecks(sites: list[_Site], profile: Profile) -> Iterator[Hint]:
    """The most expensive KxK convs (K >= 3) on many channels, against a 1x1 reduction first.

    Both designs go through formulas.conv with the conv's own stride and padding, so the
    numbers hold for any conv (for a "same" conv they equal layer_lab.inception_cost's).
    The reduction must save something: at a large stride the 1x1 on the full map may not.
    """
    total = profile.totals["macs"]
    if not total:
        return
    best: dict[int, tuple[_Site, int, int, int]] = {}
    for s in sites:
        layer, c_in = s.layer, s.input[1]
        if not isinstance(layer, spec.Conv) or layer.kernel < 3 or c_in < BOTTLENECK_MIN_CHANNELS:
            continue
        direct = s.row.calc.macs
        if direct < BOTTLENECK_MIN_SHARE * total:
            continue
        if layer.position in best and best[layer.position][1] >= direct:
            continue  # a repeated token: keep its most expensive module
        r = max(1, c_in // BOTTLENECK_REDUCTION)
        reduce = formulas.conv(_meta_conv(c_in, r, 1), s.input).macs
        conv = formulas.conv(_meta_conv(r, layer.filters, layer.kernel, layer.stride,
                                        layer.padding), (1, r, *s.input[2:])).macs
        if reduce + conv < direct:
            best[layer.position] = (s, direct, reduce, conv)
    ranked = sorted(best.values(), key=lambda found: -found[1])[:MAX_BOTTLENECK_HINTS]
    for s, direct, reduce, conv in ranked:
        c_in = s.input[1]
        message = (f"{s.layer.token} does {short(direct)} of the net's {short(total)} "
                   f"multiply-adds ({share(direct, total)}) on its {format_shape(s.input[1:])} "
                   f"input; a 1x1 conv down to {max(1, c_in // BOTTLENECK_REDUCTION)} channels "
                   f"(1/{BOTTLENECK_REDUCTION} of {c_in}) first would cut that to "
                   f"{short(reduce)} + {short(conv)} = {short(reduce + conv)}, "
                   f"{direct / (reduce + conv):.1f}x fewer, as GoogLeNet's inception modules do "
                   f"(the slides' {_slides_inception()}).")
        yield _hint("Reduce the channels with a 1x1 conv first", message, s.layer)


# ---------------------------------------------------------------- rule 3: padding


def _shrinking_convs(sites: list[_Site], profile: Profile) -> Iterator[Hint]:
    """A stride-1 conv (odd K) whose output is smaller than its input: it lacks padding.

    A conv that leaves a single position (LeNet's C5, a 5x5 conv on a 5x5 map) acts as a
    fully connected layer on purpose and is left alone; so are even kernels, which no
    symmetric padding keeps the size of.
    """
    for s, layer in _first_per_token(sites, spec.Conv):
        out = s.row.calc.out
        if layer.stride != 1 or layer.kernel % 2 == 0 or all(d == 1 for d in out[2:]):
            continue
        if not any(o < i for o, i in zip(out[2:], s.input[2:], strict=True)):
            continue  # "same" padding (or more): the size is kept
        p = (layer.kernel - 1) // 2
        fixed = f"conv{layer.kernel}-{layer.filters}p{p}"
        message = (f"{layer.token} has stride 1 yet shrinks the {format_shape(s.input[2:])} map "
                   f"to {format_shape(out[2:])}: "
                   f"{_plain(formulas.explain(s.row.calc)['output_size'])}. Pad p = (K-1)/2 = "
                   f"{p} (\"same\" padding: write {fixed}) so the convs keep the size and only "
                   "pooling shrinks the map: the border pixels count as much as the others and "
                   "the sizes stay easy to follow.")
        yield _hint("Pad the convs; let pooling shrink the map", message, layer)


# ---------------------------------------------------------------- rule 4: non-linearities

#: Layers that leave a weight layer's output linear (in eval mode): nothing bends between.
_LINEAR_BETWEEN = (spec.BatchNorm, spec.Dropout, spec.Flatten, spec.GlobalAvgPool)
#: Blocks that start with convs and end in ReLUs.
_BLOCKS = (spec.Residual, spec.Bottleneck, spec.Inception)
#: Layers that may sit between two weight layers without counting as their activation.
_PASSED_THROUGH = (*_LINEAR_BETWEEN, spec.Pool, spec.LocalResponseNorm)


def _is_linear(layer: spec.Layer) -> bool:
    return isinstance(layer, _LINEAR_BETWEEN) or (isinstance(layer, spec.Pool)
                                                  and layer.kind == "avg")


def _missing_activations(sites: list[_Site], profile: Profile) -> Iterator[Hint]:
    """A conv or fc that feeds another with no activation in between, at the first one.

    Batch norm, dropout, average pooling and flattening are linear (eval mode), so the two
    layers collapse into one linear map. Max pooling and LRN are non-linear, but far weaker
    than an activation on every unit: the hint still fires, worded for them. A residual,
    bottleneck or inception block starts with convs (so a conv right before it collapses
    with them) and ends in ReLUs (so it separates what follows it).
    """
    last: spec.Layer | None = None
    between: list[spec.Layer] = []
    for s in sites:
        layer = s.layer
        if isinstance(layer, (spec.Conv, spec.Linear, *_BLOCKS)):
            if last is not None:
                yield _activation_hint(last, layer, between)
            last, between = (None if isinstance(layer, _BLOCKS) else layer), []
        elif last is not None and isinstance(layer, _PASSED_THROUGH):
            if layer not in between:  # gap makes two modules from one token
                between.append(layer)
        else:
            last = None


def _activation_hint(first: spec.Layer, second: spec.Layer, between: list[spec.Layer]) -> Hint:
    via = ", ".join(layer.token for layer in between)
    thumb = "[(CONV-RELU)xN-POOL?]xM" if isinstance(first, spec.Conv) else "(FC-RELU)xK"
    block = isinstance(second, _BLOCKS)
    if all(_is_linear(layer) for layer in between):
        why = (f"{first.token} feeds {second.token}{', whose first convs follow it' * block} "
               f"with no activation in between{f' (only {via})' if via else ''}: two linear "
               "layers in a row collapse into one linear map, so the second adds weights but "
               "no expressive power.")
    else:
        why = (f"{first.token} feeds {second.token} with no activation in between, only {via}: "
               "a much weaker non-linearity than an activation on every unit.")
    message = f"{why} Add relu after {first.token}, as the rule of thumb {thumb} does."
    return _hint("Add a non-linearity between weight layers", message, first)


# ---------------------------------------------------------------- rule 5: the heavy fc


def _flattened_map(profile: Profile, row: Row) -> tuple[int, ...] | None:
    """The feature map (C, H, W) an fc reads flattened, or None if it reads a vector that an
    earlier fc made, or the raw image (no channels of features to average)."""
    index = row.inputs[0] if row.inputs else -1
    while index >= 0:
        calc = profile.rows[index].calc
        if len(calc.out) > 2:
            break
        if calc.weight_layer:
            return None
        index = profile.rows[index].inputs[0] if profile.rows[index].inputs else -1
    if index < 0 or not any(r.calc.weight_layer for r in profile.rows[:index + 1]):
        return None
    return tuple(profile.rows[index].calc.out[1:])


def _heavy_fc(sites: list[_Site], profile: Profile) -> Iterator[Hint]:
    """An fc on a flattened map holding most of the parameters, against a global average pool
    first (NiN, GoogLeNet): the fc then reads one number per channel."""
    total = profile.totals["params"]
    for s, fc in _first_per_token(sites, spec.Linear):
        calc = s.row.calc
        fmap = _flattened_map(profile, s.row)
        if calc.params <= HEAVY_FC_SHARE * total or fmap is None or math.prod(fmap[1:]) == 1:
            continue
        features = fc.features
        pooled = formulas.linear(nn.Linear(fmap[0], features, bias=len(calc.params_terms) > 1,
                                           device="meta"), (1, fmap[0]))
        message = (f"{s.layer.token} sees the {format_shape(fmap)} map flattened, "
                   f"{math.prod(fmap):,} inputs, and holds {share(calc.params, total)} of the "
                   f"parameters ({_plain(formulas.explain(calc)['params'])}); a global average "
                   f"pool first (gap, as NiN and GoogLeNet do) would make it "
                   f"{_plain(formulas.explain(pooled)['params'])}{_rounded(pooled.params)}, "
                   f"{calc.params / pooled.params:.0f}x fewer, and free it from the input size.")
        yield _hint("Average-pool before the first fc", message, s.layer)


# ---------------------------------------------------------------- the hints

#: The rules in the order their hints are listed at one token.
_RULES: tuple[Callable[[list[_Site], Profile], Iterator[Hint]], ...] = (
    _large_filters, _bottlenecks, _shrinking_convs, _missing_activations, _heavy_fc)


def hints(text: str, profile: Profile) -> list[Hint]:
    """The design-rule hints for the spec ``text``, whose ``profile`` is
    ``spec.profile_spec(text, size)``: one per rule and token, in the order of the text, then
    where the parameters, memory and multiply-adds sit (:func:`insights.sentences`).

    A rule that does not apply says nothing; every number is computed from this net.
    """
    sites = _sites(text, profile)
    found: dict[tuple[str, int], Hint] = {}
    for rule in _RULES:
        for h in rule(sites, profile):
            found.setdefault((h.rule, h.position), h)
    ordered = sorted(found.values(), key=lambda h: h.position)  # stable: rule order at a token
    summary = insights.sentences(profile)
    if summary:
        ordered.append(Hint(_SUMMARY, _plain(" ".join(summary)), "", -1))
    return ordered
