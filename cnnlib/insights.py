"""What a profile's charts say, in sentences, and the memory one training step needs.

The per-layer charts of parameters, activation memory and multiply-adds all tell the same
story for the classic nets (weights sit in the late layers, memory and work in the early
ones), but students read bars poorly; :func:`sentences` states it with the numbers of the net
at hand. :func:`training_memory` turns the forward-pass memory of the charts into what a
training step holds, which is what decides whether a batch fits on a GPU.

Layers are placed at the resolution of the maps they *read*: a pool or a strided conv does
its work on the larger map, so a VGG stage is its convs plus the pool that closes it, as the
paper draws it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import pandas as pd

from cnnlib.analysis import Profile, Row, format_shape, stage_text
from cnnlib.formulas import Calc, human_bytes, is_global_pool, kernel_text

#: Bytes of optimizer state per parameter, in units of one parameter's bytes.
OPTIMIZER_STATE = {"sgd": 0, "sgd_momentum": 1, "adam": 2}


# ---------------------------------------------------------------- sentences


def share(part: float, whole: float) -> str:
    """A share as the sentences print it: "30%", "0.8%", never "100%" for less than all."""
    x = 100 * part / whole
    if part == whole:
        return "all"
    if x >= 99.5:
        return "over 99%"
    if x >= 1 or x == 0:
        return f"{x:.0f}%"
    return f"{x:.1f}%" if x >= 0.1 else "under 0.1%"


def _count(n: int, noun: str) -> str:
    """A counted noun: "the 3 fully connected layers", or "the fully connected layer"."""
    return f"the {noun}" if n == 1 else f"the {n} {noun}s"


_NOUNS = {"fc": "fully connected layer", "conv": "conv layer", "batch_norm": "batch norm layer"}


def _kind(calc: Calc) -> str:
    """The noun a sentence uses for a layer: by its kind, or its type for the rest."""
    return _NOUNS.get(calc.kind, f"{calc.type} layer")


def _reads(profile: Profile) -> list[str]:
    """Per row, the stage it reads, as the ``stage`` column writes it: "56x56" for maps (or
    tokens still on that grid), "197 tokens" for tokens alone; "" for vectors and 1x1 maps.
    The stage, not the input's last dims, so channels-last maps and tokens read right."""
    image = profile.input_size[1:]
    labels = []
    for r in profile.rows:
        spatial = (profile.rows[r.inputs[0]].stage if r.inputs and r.inputs[0] >= 0
                   else image if r.inputs else ())
        labels.append(stage_text(spatial) if any(s > 1 for s in spatial) else "")
    return labels


def _on(labels: list[str]) -> str:
    """Stages as a sentence names them: "56x56 and 28x28 maps", "197 tokens", or both."""
    def joined(items: list[str]) -> str:
        return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"

    tokens = [at.removesuffix(" tokens") for at in labels if at.endswith(" tokens")]
    maps = [at for at in labels if not at.endswith(" tokens")]
    parts = ([f"{joined(maps)} maps"] if maps else []) + (
        [f"{joined(tokens)} tokens"] if tokens else [])
    return " and ".join(parts)


def _verb(n: int, singular: str, plural: str) -> str:
    """The form that agrees with a count of ``n``."""
    return singular if n == 1 else plural


def _params_sentence(profile: Profile) -> str | None:
    rows = [r for r in profile.rows if r.calc.params]
    total = sum(r.calc.params for r in rows)
    if not total:
        return None
    params: dict[str, int] = defaultdict(int)
    layers: dict[str, int] = defaultdict(int)
    for r in rows:
        params[_kind(r.calc)] += r.calc.params
        layers[_kind(r.calc)] += 1
    kind = max(params, key=params.__getitem__)
    n = layers[kind]
    text = f"{share(params[kind], total)} of the parameters are in {_count(n, kind)}"
    macs = profile.totals["macs"]
    if macs:
        kind_macs = sum(r.calc.macs for r in profile.rows if _kind(r.calc) == kind)
        text += f", which {_verb(n, 'does', 'do')} {share(kind_macs, macs)} of the multiply-adds"
    return text[0].upper() + text[1:] + "."


def _among(convs: list[str], where: set[str], first: bool) -> str:
    """ ", among them the first 4 of the 13 conv layers" (nothing if there are none)."""
    n = sum(at in where for at in convs)
    if not n:
        return ""
    if n == len(convs):
        return f", among them all {n} conv layers" if n > 1 else ", among them the conv layer"
    which = ("the first" + ("" if n == 1 else f" {n}")) if first else str(n)
    return f", among them {which} of the {len(convs)} conv layers"


def _memory_sentence(profile: Profile) -> str | None:
    """Where the activation memory sits, by the resolution of the maps layers work on.

    Memory counts what the forward pass allocates (in-place layers add none), as the total
    does. Resolutions are taken in order until they hold over half of it: when that leading
    run is short of the last resolution and does not end at the one holding the most (VGG,
    AlexNet: memory sits early), the sentence names the run; otherwise (ResNet-152's 14x14
    stage holds half) it names the resolution that holds the most. When no run holds half
    (memory in the head), it names the largest layer.
    """
    reads = _reads(profile)
    allocated = [(r, at) for r, at in zip(profile.rows, reads, strict=True)
                 if not r.calc.inplace]
    total = sum(math.prod(r.calc.out[1:]) for r, _ in allocated)
    if not total:
        return None
    by_resolution: dict[str, int] = defaultdict(int)
    for r, at in allocated:
        if at:
            by_resolution[at] += math.prod(r.calc.out[1:])
    leading, held = [], 0
    for at, n in by_resolution.items():
        if held * 2 > total:
            break
        leading.append(at)
        held += n
    if held * 2 <= total:
        largest = max((r for r, _ in allocated), key=lambda r: math.prod(r.calc.out[1:]))
        return (f"The largest activation is the output of layer {largest.name} "
                f"({largest.calc.type}, {format_shape(largest.calc.out[1:])}): "
                f"{share(math.prod(largest.calc.out[1:]), total)} of the activation memory.")
    convs = [at for r, at in zip(profile.rows, reads, strict=True)
             if _kind(r.calc) == "conv layer"]
    top = max(by_resolution, key=by_resolution.__getitem__)
    if len(leading) > 1 and (leading[-1] == top or len(leading) == len(by_resolution)):
        return (f"The layers working on {_on([top])} hold the most activation memory: "
                f"{share(by_resolution[top], total)}{_among(convs, {top}, first=False)}.")
    text = (f"{share(held, total)} of the activation memory is in the layers working on "
            f"{_on(leading)}{_among(convs, set(leading), first=True)}.")
    return text[0].upper() + text[1:]


def _macs_sentence(profile: Profile) -> str | None:
    """The kind of layer, at one resolution, that does the most multiply-adds."""
    total = profile.totals["macs"]
    if not total:
        return None
    groups: dict[tuple[str, str], int] = defaultdict(int)
    layers: dict[tuple[str, str], int] = defaultdict(int)
    for r, at in zip(profile.rows, _reads(profile), strict=True):
        if r.calc.macs:
            kind = _kind(r.calc)
            if kind == "conv layer":
                kernel = kernel_text(r.calc)
                kind = f"{kernel} conv" if kernel else "conv"
            groups[(kind, at)] += r.calc.macs
            layers[(kind, at)] += 1
    top = max(groups.values())
    tied = [key for key, n in groups.items() if n == top]
    kind, at = tied[0]
    n = layers[tied[0]]
    where = f" on {_on([at])}" if at else ""
    text = (f"The {kind}{_verb(n, '', 's')}{where} {_verb(n, 'does', 'do')} "
            f"{share(top, total)} of the multiply-adds")
    others = [f"those on {_on([a])}" for k, a in tied[1:] if k == kind and a]
    if others:
        text += f", as many as {' and '.join(others)}"
    return text + "."


#: Families whose paper names its stages by order of resolution (He et al. 2016, Table 1:
#: conv1 at 112x112, conv2_x at 56x56 with the max pool, ... conv5_x at 7x7).
CONV_X_FAMILIES = ("ResNet", "ResNeXt")


def stage_labels(profile: Profile) -> dict[str, str]:
    """Each value of the ``stage`` column (an output resolution, or "head") with the name the
    network's paper gives it: "conv2_x (56x56)" for a ResNet, where the paper's Table 1 counts
    the resolutions in order; the resolution itself elsewhere, and "head" for the layers after
    flattening."""
    from cnnlib.models import registry  # the catalogue is plain data: no torch import here

    stages = list(dict.fromkeys(profile.layers["stage"]))
    spatial = [s for s in stages if s != "head"]
    known = profile.model in registry.names()
    if not known or registry.get(profile.model).family not in CONV_X_FAMILIES:
        return {s: s for s in stages}
    layers = profile.layers
    pooled = {}  # a last resolution without weights: the global average pool's 1x1 output
    if spatial and layers.loc[layers["stage"] == spatial[-1], "params"].sum() == 0:
        last = spatial.pop()
        pooled[last] = f"average pool ({last})"
    names = {s: (f"conv{i + 1}_x" if i else "conv1") + f" ({s})" for i, s in enumerate(spatial)}
    names.update(pooled)
    return {**names, **({"head": "head"} if "head" in stages else {})}


def sentences(profile: Profile) -> list[str]:
    """What the per-layer parameter, memory and multiply-add charts show, all numbers
    computed from ``profile``: where the parameters sit (and how much work those layers do),
    which resolutions hold the activation memory, and which layers do the most work."""
    found = (_params_sentence(profile), _memory_sentence(profile), _macs_sentence(profile))
    return [s for s in found if s] or [
        "Nothing to chart: this network has no parameters, does no multiply-adds and allocates "
        "no activation memory of its own."]


# ---------------------------------------------------------------- training memory

# What autograd keeps for the backward pass, by layer kind (``Calc.kind``), in training mode.
# Read off torch's derivative formulas and checked with saved_tensors_hooks in the tests.
# Views share their input's storage: flatten, identity, and the ops with no formula whose
# output is a view (getitem, view, permute...: the meta fallback marks them in place).
_ALIASES = frozenset({"identity", "reshape"})
_KEEP_NOTHING = frozenset({"add", "concat"})
# Two facts that differ inside a kind, so they go by the op itself: the activations whose
# derivative is written in their output, and the ops with no formula that keep nothing.
_KEEP_OUTPUT = frozenset({"ReLU", "relu", "Tanh", "tanh", "Sigmoid", "sigmoid", "Softmax",
                          "LogSoftmax"})
_OPS_KEEP_NOTHING = frozenset({"pad", "patch_merging_pad"})  # pads, slices and concatenates
# In place, these write over an input their derivative reads (hardtanh_, silu_, hardswish_,
# hardsigmoid_ differentiate with ``self``), so autograd saves a copy of the input before the
# op runs: one more tensor the size of the output. relu_, leaky_relu_ and elu_ differentiate
# with ``result`` and keep the output itself.
_INPLACE_COPIES = frozenset({"ReLU6", "relu6", "Hardtanh", "hardtanh", "SiLU", "silu",
                             "Hardswish", "hardswish", "Hardsigmoid", "hardsigmoid"})
_INDEX_BYTES = 8  # max pooling keeps an int64 index per output element
_STAT_BYTES = 4  # batch norm keeps its batch mean and inverse std in float32


def _aliases(c: Calc) -> bool:
    """Whether the layer's output is its input's storage: written in place, a view, or a
    dropout with p = 0 (at::dropout returns its input itself)."""
    return c.inplace or c.kind in _ALIASES or (c.kind == "dropout" and c.drop == 0)


def _is_view(c: Calc) -> bool:
    """An op with no formula whose output is a view of its input (the meta fallback marks
    those in place): it keeps nothing for backward."""
    return c.kind == "other" and c.inplace


def _window_attention(c: Calc, inputs: list[Calc], batch_size: int) -> int:
    """Elements torchvision's ``shifted_window_attention`` keeps (Swin; no dropout, no logit
    scale). It runs as plain ops, and its matmuls copy what they read into contiguous
    (windows * heads, L, d) blocks: the windowed input (for the q/k/v projection), the scaled
    q, k transposed, v, and the heads' joined output (for the output projection), each one
    token x channel tensor of the padded map, plus softmax's output, L weights per head and
    token (one window keeps more: see below). Heads and L come from the relative position
    bias (1, heads, L, L) it reads; the window is taken square."""
    bias = next((i.out for i in inputs if len(i.out) == 4 and i.out[-1] == i.out[-2]), None)
    if bias is None or len(c.out) != 4:
        return 0
    heads, length = bias[1], bias[-1]
    window = math.isqrt(length)
    _, h, w, channels = c.out
    windows = batch_size * -(-h // window) * -(-w // window)
    tokens = windows * length
    # k and v are views of the packed q/k/v projection, copied only where (windows, heads)
    # cannot fold into one batch dim as a view: with one window (or one head) bmm keeps the
    # whole projection, 3 token x channel tensors, instead of the two copies.
    copies = 5 if windows > 1 and heads > 1 else 6
    return copies * tokens * channels + tokens * heads * length


def _keeps(r: Row, batch_size: int, bytes_per_element: int,
           inputs: list[Calc] | None = None) -> tuple[str, int]:
    """What layer ``r`` keeps for backward: its "inputs", its "output", "both" or "nothing",
    and the bytes it keeps beside those activations (indices, masks, statistics, temporaries).
    ``inputs``: the calcs of the rows it reads, for the ops whose shapes come from them."""
    c = r.calc
    numel = batch_size * math.prod(c.out[1:])
    kind = c.kind
    if (kind in _ALIASES or kind in _KEEP_NOTHING or _is_view(c) or c.type in _OPS_KEEP_NOTHING
            or (kind == "dropout" and c.drop == 0)):
        return "nothing", 0
    if kind == "activation" and c.type in _KEEP_OUTPUT:
        return "output", 0
    if kind == "activation" and c.inplace and c.type in _INPLACE_COPIES:
        return "nothing", numel * bytes_per_element
    if kind == "batch_norm":
        return "inputs", 2 * c.out[1] * _STAT_BYTES
    if kind == "norm":
        # native_layer_norm keeps its input and a float32 mean and inverse std per normalised
        # vector: over the last dim here (LayerNorm on channels-last tokens or maps, as ViT,
        # Swin and ConvNeXt use it). GroupNorm's N*G statistics are not modelled.
        return "inputs", 2 * (numel // c.out[-1]) * _STAT_BYTES
    if c.type == "stochastic_depth":
        # torchvision's stochastic depth (mode "row") multiplies by a per-sample 0-or-1/p
        # noise; mul saves only that noise, since the input's gradient is grad * noise.
        return "nothing", batch_size * bytes_per_element
    if kind == "max_pool":
        return "inputs", numel * _INDEX_BYTES
    if kind == "avg_pool" and is_global_pool(c):
        return "nothing", 0  # a global average pool runs as mean(), which keeps no tensor
    if kind == "attention":
        # Training on CPU runs SDPA's flash kernel, whose backward reads q, k, v, the output
        # and a float32 log-sum-exp per head and query. nn.MultiheadAttention (its SDPA path:
        # need_weights=False, no dropout) also keeps its input for the q/k/v projection; q, k
        # and v are one packed projection, and the output projection reads SDPA's output.
        queries = numel // c.out[-1]
        if c.heads:
            return "inputs", 4 * numel * bytes_per_element + c.heads * queries * _STAT_BYTES
        return "both", queries * _STAT_BYTES  # F.scaled_dot_product_attention: (B, H, L, E)
    if c.type == "shifted_window_attention":
        return "nothing", _window_attention(c, inputs or [], batch_size) * bytes_per_element
    if kind == "dropout":
        return "nothing", numel * bytes_per_element
    if kind == "lrn":
        # F.local_response_norm keeps the squares padded by size - 1 maps (for its average
        # pool), the scaled sum before and after the power, and the input.
        size = c.macs // math.prod(c.out[1:])
        padded = numel * (c.out[1] + size - 1) // c.out[1]
        return "inputs", (padded + 2 * numel) * bytes_per_element
    return "inputs", 0  # conv, linear, average pools, products and anything unknown


def saved_for_backward(profile: Profile, batch_size: int = 1, bytes_per_element: int = 4) -> int:
    """Bytes of activations autograd keeps for the backward pass of one training step.

    The rule, per layer type (train mode): conv and linear keep their input; batch norm its
    input and a mean and inverse std per channel; ReLU, tanh, sigmoid and softmax their
    output (ReLU6, hardtanh, SiLU, hardswish and hardsigmoid in place: a copy of their input;
    others: their input); layer norm its input and a mean and inverse std per vector; max
    pooling its input and an int64 index per output; average pooling its input
    (a global one keeps nothing: it runs as a mean); dropout a mask the size of its output
    (CPU keeps a float noise tensor; CUDA's fused kernel keeps 1 byte per element, so this
    over-estimates on a GPU by 3 bytes per dropped element); LRN its input and three
    temporaries; attention (SDPA, multi-head) its q, k, v, output and a log-sum-exp per head
    and query; Swin's window attention its matmuls' copies and softmax output; dropout with
    p = 0 nothing; stochastic depth a per-sample noise; additions, concatenations, padding and
    views keep nothing, and weights read by functions are not counted. An unknown layer
    keeps its inputs. Layers before the first weight keep nothing: autograd does not record
    them. Tensors are counted once per storage, as memory is: an in-place ReLU's output is the
    storage of its input, a view shares its input's.
    """
    rows = profile.rows
    image = batch_size * math.prod(profile.input_size) * bytes_per_element
    storage: list[int] = []  # per row: the row whose output storage it writes (-1: image)
    records: list[bool] = []  # per row: whether autograd records it (it depends on a weight)
    kept: set[int] = set()
    extra = 0
    for i, r in enumerate(rows):
        c = r.calc
        recorded = c.params > 0 or c.weight_layer or any(records[j] for j in r.inputs if j >= 0)
        records.append(recorded)
        shares = r.inputs and _aliases(c)
        storage.append(storage[r.inputs[0]] if shares and r.inputs[0] >= 0 else
                       -1 if shares else i)
        if not recorded:
            continue
        what, more = _keeps(r, batch_size, bytes_per_element,
                            [rows[j].calc for j in r.inputs if j >= 0])
        extra += more
        if what in ("output", "both"):
            kept.add(storage[i])
        if what in ("inputs", "both"):  # a weight a function reads is not an activation
            kept.update(storage[j] if j >= 0 else -1 for j in r.inputs
                        if j < 0 or rows[j].calc.type != "parameter")
    return extra + sum(image if s < 0 else
                       batch_size * math.prod(rows[s].calc.out[1:]) * bytes_per_element
                       for s in kept)


def training_memory(profile: Profile, batch_size: int, optimizer: str = "sgd_momentum",
                    bytes_per_element: int = 4) -> pd.DataFrame:
    """What one training step holds in memory, by kind, for a batch of ``batch_size``.

    Rows: weights, gradients (one per weight), optimizer state ("sgd": none, "sgd_momentum":
    one buffer per weight, "adam": two), the forward activations (every layer's output, the
    charts' total, for comparison) and the activations kept for backward
    (:func:`saved_for_backward`), then the total of those that are alive together at the
    peak: weights, gradients, state and the kept activations. Columns:
    ``part``, ``bytes``, ``readable`` (KB = 1024 bytes) and ``note``.
    """
    if optimizer not in OPTIMIZER_STATE:
        raise ValueError(f"Unknown optimizer {optimizer!r}: one of {', '.join(OPTIMIZER_STATE)}.")
    if batch_size < 1:
        raise ValueError(f"The batch size must be at least 1, not {batch_size}.")
    weights = profile.totals["params"] * bytes_per_element
    forward = profile.totals["activations"] * batch_size * bytes_per_element
    kept = saved_for_backward(profile, batch_size, bytes_per_element)
    state = OPTIMIZER_STATE[optimizer]
    items: list[tuple[str, int, str, bool]] = [
        ("weights", weights, f"{profile.totals['params']:,} parameters", True),
        ("gradients", weights, "one per parameter", True),
        ("optimizer state", state * weights, f"{optimizer}: {state} per parameter", True),
        ("activations (forward)", forward,
         "every layer's output; not all of it is alive at once", False),
        ("activations kept for backward", kept, "what autograd saves, input image included",
         True),
    ]
    total = sum(n for _, n, _, counted in items if counted)
    records: list[dict[str, Any]] = [
        {"part": part, "bytes": n, "readable": human_bytes(n), "note": note}
        for part, n, note, _ in items]
    records.append({"part": "total", "bytes": total, "readable": human_bytes(total),
                    "note": "weights + gradients + optimizer state + kept activations"})
    return pd.DataFrame.from_records(records, columns=["part", "bytes", "readable", "note"])
