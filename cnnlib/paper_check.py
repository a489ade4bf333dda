"""The course notes' numbers beside the ones computed from our models, and why they differ.

The notes print numbers (a slide's "96 MB", a table's "37,749k", a paper's "3.8 x 10^9" FLOPs)
that students copy into their own notes; this module recomputes every one of them from the
zoo model it describes, prints ours in the same unit and precision, and says whether they
agree *within the notes' rounding*. Where they do not, the reason comes from
``cnnlib/reference/README.md``, the list of places where the notes disagree with themselves,
with our own arithmetic filled in (``explain``), so a student sees which side to trust.

The notes' side comes only from the reference CSVs (``cnnlib.reference.table``) and the few
numbers the README quotes from the slides (the constants below); our side only from profiles.
A disagreement the README does not explain gets :data:`UNEXPLAINED` as its reason, so a bug
in the analysis shows up here as a failed check rather than as a plausible story.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd

from cnnlib import analysis, reference
from cnnlib.analysis import Profile, Row, format_shape
from cnnlib.formulas import Kind, human_bytes, kernel_text, stride_text
from cnnlib.models import registry

COLUMNS = ["quantity", "notes", "ours", "agrees", "why", "source"]

#: The reason given for a disagreement that the reference README does not list.
UNEXPLAINED = ("Not a disagreement the notes are known for: our computed value or the printed "
               "one is wrong here; check the model against the table.")

# Numbers the README quotes from the slides (no CSV holds them), as the slides print them.
_ALEXNET_TV_PARAMS = "61,100,840"  # torchvision's AlexNet, the alexnet table's variant
_ALEXNET_2012_PARAMS = "60,965,224"  # the 2012 paper's net, two-GPU groups
_FC6_WORKED_FORMULA = "37,725,832"  # what the slide's worked formula for fc6 prints
_VGG16_SLIDE_ACTIVATIONS = "24M"  # "24M activations * 4 bytes = 96 MB (~93 MB)"
_VGG16_SLIDE_MEMORY = "96 MB"
_GOOGLENET_CLAIMS = (("parameters (slides 000, 002)", "~5M"),
                     ("parameters (slide 003)", "6M"))
_ZFNET_CONV1 = "7x7/2, 96 filters"
_ZFNET_WIDTHS_001 = "48-128-192-192-128-2048-2048 x 2"  # per GPU, "x 2" (two GPUs)
_ZFNET_CONV345_003 = "512-1024-512"
_CIFAR_PARAMS = {20: "0.27M", 32: "0.46M", 44: "0.66M", 56: "0.85M", 110: "1.7M"}
_CIFAR_FILTERS = "16-32-64"

#: The notes' comparison table's networks and the zoo model (with builder options) each row
#: describes. "62M" is the 2012 AlexNet without its two-GPU groups (README).
COMPARISON_MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "AlexNet": ("alexnet_original", {"groups": 1}),
    "VGGNet": ("vgg16", {}),
    "Inception": ("googlenet", {}),
    "ResNet-152": ("resnet152", {}),
}
#: The ILSVRC winners' table's networks and the zoo model that is each entry's architecture.
ILSVRC_MODELS = {"AlexNet": "alexnet_original", "ZFNet": "zfnet", "VGG": "vgg19",
                 "GoogLeNet": "googlenet", "ResNet": "resnet152"}

_NUMBER = re.compile(r"~?(?P<digits>\d[\d,]*(?:\.\d+)?)(?P<space>\s*)(?P<suffix>[A-Za-z]*)")

Check = Callable[[Profile], list[dict[str, Any]]]


# ---------------------------------------------------------------- one compared number


def _row(quantity: str, printed: str, ours: float, source: str, why: str = "", *,
         k: int = 1000, tolerance: float = 0.5, extra_digits: int = 0) -> dict[str, Any]:
    """Ours in the printed number's unit and precision, and whether the two agree.

    ``tolerance`` is in units of the printed last digit: 0.5 accepts the notes' rounding
    ("784" for 783.6); 1 also accepts a value cut rather than rounded (the ResNet paper's
    "3.8" for 3.87). ``k`` is what the suffix K means (the GoogLeNet table's K is 1024).
    ``extra_digits`` prints ours one digit finer where the notes cut, so "3.87" shows why
    "3.8" agrees. The reason ``why`` is kept only when they disagree.
    """
    match = _NUMBER.fullmatch(printed.strip())
    if match is None:
        raise ValueError(f"Cannot read the printed number {printed!r}.")
    digits, suffix = match["digits"], match["suffix"]
    unit = {"": 1, "k": k, "K": k, "M": 10**6, "B": 10**9, "G": 10**9, "KB": 1024,
            "MB": 1024**2}[suffix]
    decimals = len(digits.partition(".")[2])
    value = ours / unit
    agrees = abs(value - float(digits.replace(",", ""))) <= tolerance * 10**-decimals + 1e-9
    grouping = "," if "," in digits else ""
    text = f"{value:{grouping}.{decimals + extra_digits}f}{match['space']}{suffix}"
    return _result(quantity, printed, text, agrees, why, source)


def _text_row(quantity: str, printed: str, ours: str, source: str,
              why: str = "") -> dict[str, Any]:
    """A comparison of things that are not numbers (shapes, filter lists): equal or not."""
    return _result(quantity, printed, ours, printed == ours, why, source)


def _result(quantity: str, printed: str, ours: str, agrees: bool, why: str,
            source: str) -> dict[str, Any]:
    return {"quantity": quantity, "notes": printed, "ours": ours, "agrees": bool(agrees),
            "why": "" if agrees else (why or UNEXPLAINED), "source": source}


# ---------------------------------------------------------------- helpers on a profile


def _rows(p: Profile, *kinds: Kind) -> list[Row]:
    """The rows of these kinds (``Calc.kind``: "conv", "max_pool", "fc"...), in order."""
    return [r for r in p.rows if r.calc.kind in kinds]


def _named(p: Profile, name: str) -> Row:
    return next(r for r in p.rows if r.name == name)


def _weights(row: Row) -> int:
    """A conv/linear layer's weights without its bias (the first term of its params)."""
    return math.prod(row.calc.params_terms[0]) if row.calc.params_terms else 0


def _hwc(row: Row) -> str:
    """An output shape the way the notes write it: H x W x C (or just the features)."""
    c, *spatial = row.calc.out[1:]
    return format_shape((*spatial, c))


def _giga(n: int) -> str:
    return f"{n / 1e9:.2f} G"


def _conv_biases(p: Profile) -> int:
    """What a bias in every bias-free conv would add: one per output map."""
    return sum(r.calc.out[1] for r in _rows(p, "conv") if len(r.calc.params_terms) == 1)


# ---------------------------------------------------------------- AlexNet


def _alexnet_notes_size() -> tuple[int, int, int]:
    """The AlexNet table is computed on a 227x227 image: its conv1 row says so."""
    first = reference.table("alexnet_torchvision_table").iloc[0]
    return int(first["c_in"]), int(first["hw_in"]), int(first["hw_in"])


def _alexnet_table(p: Profile) -> list[dict[str, Any]]:
    source = "AlexNet table (torchvision's variant)"
    table = reference.table("alexnet_torchvision_table")
    ours = _rows(p, "conv", "max_pool", "reshape", "fc")[:len(table)]
    known = {  # (layer, column) -> why, the two cells the README lists
        ("conv4", "flop_m"): lambda r: (
            f"The slide's cell is off its own arithmetic: {p.explain(r.name)['macs']} "
            f"multiply-adds ({r.calc.macs / 1e6:.0f}M)."),
        ("fc6", "params_k"): lambda r: (
            f"The slide's cell is off its own arithmetic: {p.explain(r.name)['params']} "
            f"({r.calc.params / 1000:,.0f}k); its worked formula even prints "
            f"{_FC6_WORKED_FORMULA}."),
    }
    rows = []
    for expect, r in zip(table.to_dict(orient="records"), ours, strict=True):
        layer = expect["layer"]
        for column, quantity, printed, value in (
                ("memory_kb", "memory", f"{int(expect['memory_kb']):,} KB",
                 math.prod(r.calc.out[1:]) * p.bytes_per_element),
                ("params_k", "parameters", f"{int(expect['params_k']):,}k", r.calc.params),
                ("flop_m", "MACs", f"{int(expect['flop_m']):,}M", r.calc.macs)):
            why = known.get((layer, column))
            rows.append(_row(f"{layer} {quantity}", printed, value, source,
                             why(r) if why else ""))
    rows.append(_row("parameters", _ALEXNET_TV_PARAMS, p.totals["params"], "reference README"))
    return rows


def _alexnet_original(p: Profile) -> list[dict[str, Any]]:
    source = "AlexNet 2012 layer list"
    rows = [_row("parameters (two-GPU groups)", _ALEXNET_2012_PARAMS, p.totals["params"],
                 "reference README")]
    norm_why = ("The notes list each normalisation after its pool (CaffeNet's order); the 2012 "
                "paper (sec. 3.5) normalises first, then pools, as built here, so the "
                "normalisation sees the conv's full map.")
    for expect in reference.table("alexnet_original_layers").to_dict(orient="records")[1:]:
        layer = {"pool3": "pool5"}.get(expect["layer"], expect["layer"])  # Caffe's name
        r = _named(p, layer)
        rows.append(_text_row(f"{expect['layer']} output", expect["output_hwc"], _hwc(r), source,
                              norm_why if layer.startswith("norm") else ""))
        slides = re.search(r"the slides: (\S+)\)", expect["params_note"])
        if slides:
            rows.append(_row(f"{expect['layer']} parameters", slides[1], r.calc.params, source))
    return rows


# ---------------------------------------------------------------- VGG


def _vgg16_list(p: Profile) -> list[dict[str, Any]]:
    source = "VGG-16 per-layer list"
    table = reference.table("vgg16_layers").to_dict(orient="records")
    ours = _rows(p, "conv", "max_pool", "fc")
    rows = [_row("input activations", table[0]["activations"], p.totals["input_activations"],
                 source)]
    for i, (expect, r) in enumerate(zip(table[1:], ours, strict=True), start=1):
        label = f"layer {i} ({expect['layer']})"
        rows.append(_row(f"{label} activations", expect["activations"],
                         math.prod(r.calc.out[1:]), source))
        if r.calc.params:
            rows.append(_row(f"{label} weights (no biases)", expect["weights_no_bias"],
                             _weights(r), source))
    listed = p.totals["input_activations"] + sum(math.prod(r.calc.out[1:]) for r in ours)
    list_sum = sum(int(e["activations"]) for e in table)  # the notes' own list, added up
    why = (f"The slide's total is not the sum of its own per-layer list, which adds up to "
           f"{list_sum:,} values = {human_bytes(list_sum * 4)} (MB = 1024 KB) at 4 bytes "
           "each; the per-layer values are right.")
    rows += [
        _row("forward activations (the list's layers and the input)", _VGG16_SLIDE_ACTIVATIONS,
             listed, "reference README", why),
        _row("forward memory (activations, fp32)", _VGG16_SLIDE_MEMORY, listed * 4,
             "reference README", why),
    ]
    return rows


def _vgg_config(config: str) -> Check:
    def check(p: Profile) -> list[dict[str, Any]]:
        row = reference.table("vgg_configs").set_index("config").loc[config]
        source = f"VGG configurations table ({config})"
        return [_row("parameters", f"{row['params_millions']}M", p.totals["params"], source),
                _row("weight layers", row["weight_layers"], p.totals["weight_layers"], source)]
    return check


# ---------------------------------------------------------------- GoogLeNet


def _printed_sum(column: str) -> float:
    """A column of the GoogLeNet table added up, as printed ("159K" counts 159)."""
    return sum(float(v[:-1]) for v in reference.table("googlenet_table")[column] if v)


def _googlenet_table(p: Profile) -> list[dict[str, Any]]:
    """Table 1 of the paper, row by row: weights (no biases, K = 1024) and conv MACs.

    The table prints some rows cut rather than rounded (3a: 159.5K as "159K"), so a row
    agrees within one unit of its last digit, as test_analysis allows.
    """
    source = "GoogLeNet table (K = 1024)"
    layers = {"convolution 7x7/2": ("conv1",), "convolution 3x3/1": ("conv2_reduce", "conv2"),
              "linear": ("fc",)}
    conv1 = _named(p, "conv1")
    quirk = (f"A known quirk of the paper's table: the layer's shape gives "
             f"{'*'.join(map(str, conv1.calc.params_terms[0]))} = {_weights(conv1):,} weights "
             f"and {p.explain('conv1')['macs']} multiply-adds.")
    off = ("The printed count does not follow from this row's own filter columns, which give "
           "ours (the net is built from them): the paper's table is off here.")
    rows: list[dict[str, Any]] = []
    weights_sum = macs_sum = 0
    for expect in reference.table("googlenet_table").to_dict(orient="records"):
        if not expect["params"]:
            continue
        kind = f"{expect['type']} {expect['patch_stride']}".strip()
        if kind.startswith("inception"):
            prefix = kind.replace(" (", "").rstrip(")") + "."
            mine = [r for r in _rows(p, "conv") if r.name.startswith(prefix)]
        else:
            mine = [_named(p, name) for name in layers[kind]]
        weights, macs = sum(map(_weights, mine)), sum(r.calc.macs for r in mine)
        weights_sum, macs_sum = weights_sum + weights, macs_sum + macs
        why = quirk if kind == "convolution 7x7/2" else off
        rows += [_row(f"{kind} parameters", expect["params"], weights, source, why, k=1024,
                      tolerance=1, extra_digits=1),
                 _row(f"{kind} MACs", expect["ops"], macs, source, why, tolerance=1,
                      extra_digits=1)]
    wrong = [r["quantity"] for r in rows if not r["agrees"]]
    why = f"The sums carry the rows that disagree: {', '.join(wrong)}." if wrong else ""
    rounding = 0.5 * len(rows) / 2  # each added row may be off by half a unit
    return [*rows,
            _row("parameters, the rows added up", f"{_printed_sum('params'):,.0f}K",
                 weights_sum, source, why, k=1024, tolerance=rounding),
            _row("MACs, the rows added up", f"{_printed_sum('ops'):,.0f}M", macs_sum, source,
                 why, tolerance=rounding)]


def _googlenet_size_why() -> str:
    """Why the notes' GoogLeNet parameter counts differ (README), with our counts filled in."""
    paper, tv = analysis.profile("googlenet"), analysis.profile("googlenet_tv")
    weights = sum(_weights(r) for r in _rows(paper, "conv", "fc"))
    return (f"The notes quote GoogLeNet's size loosely. The paper's table rows add up to "
            f"{_printed_sum('params'):,.0f}K weights (K = 1024, no biases); the net built from "
            f"that table has {weights:,} weights and {paper.totals['params']:,} parameters with "
            f"biases. torchvision's GoogLeNet ({tv.totals['params']:,}) differs from the paper: "
            "batch norm, and 3x3 convs in the branch the paper gives as 5x5.")


def _googlenet_size(p: Profile) -> list[dict[str, Any]]:
    why = _googlenet_size_why()
    return [_row(quantity, printed, p.totals["params"], "reference README", why)
            for quantity, printed in _GOOGLENET_CLAIMS]


# ---------------------------------------------------------------- ResNet


def _blocks(p: Profile) -> tuple[str, str]:
    """Blocks per stage ("3-4-6-3") and the block's kind ("bottleneck 1x1-3x3-1x1")."""
    found = (re.match(r"layer\d+\.\d+", r.block) for r in p.rows)
    blocks = list(dict.fromkeys(m[0] for m in found if m))
    stages = [sum(b.startswith(f"layer{s}.") for b in blocks) for s in range(1, 5)]
    kernels = [kernel_text(r.calc) for r in _rows(p, "conv") if r.block == blocks[0]]
    kind = "bottleneck" if len(kernels) == 3 else "basic"
    return "-".join(map(str, stages)), f"{kind} {'-'.join(kernels)}"


def _resnet(depth: int, v1_5: bool = False) -> Check:
    def check(p: Profile) -> list[dict[str, Any]]:
        table = reference.table("resnet_imagenet")
        row = table[table["depth"] == str(depth)].iloc[0]
        source = "ResNet paper, Table 1"
        why = ""
        if v1_5:
            v1 = analysis.profile(f"resnet{depth}").totals["macs"]
            why = (f"The paper's FLOPs are v1's, which strides in the first 1x1 conv of a "
                   f"downsampling bottleneck ({_giga(v1)}, resnet{depth}); torchvision's v1.5, "
                   f"shown here, strides in the 3x3 conv: {_giga(p.totals['macs'])}.")
        stages, block = _blocks(p)
        return [_row("FLOPs (multiply-adds)", f"{row['flops_1e9_as_printed']} G",
                     p.totals["macs"], source, why, tolerance=1, extra_digits=1),
                _row("depth (weight layers on the longest path)", row["depth"],
                     p.totals["depth"], source),
                _text_row("blocks per stage", row["stage_blocks"], stages, source),
                _text_row("block", row["block"], block, source)]
    return check


def _cifar(depth: int, residual: bool) -> Check:
    def check(p: Profile) -> list[dict[str, Any]]:
        source = "ResNet paper, sec. 4.2 (reference README)"
        filters = list(dict.fromkeys(r.calc.out[1] for r in _rows(p, "conv")))
        label = ("(option A: the shortcuts have none)" if residual
                 else f"(those of cifar_resnet{depth}: the same layers)")
        return [_row(f"parameters {label}", _CIFAR_PARAMS[depth], p.totals["params"], source),
                _row("layers (6n+2)", str(depth), p.totals["depth"], source),
                _text_row("filters per stage", _CIFAR_FILTERS, "-".join(map(str, filters)),
                          source)]
    return check


# ---------------------------------------------------------------- ZFNet


def _zfnet(p: Profile) -> list[dict[str, Any]]:
    source = "reference README"
    conv1 = _named(p, "conv1")
    widths = [_named(p, n).calc.out[1] for n in ("conv1", "conv2", "conv3", "conv4", "conv5",
                                                 "fc6", "fc7")]
    wide = analysis.profile("zfnet", conv345=tuple(map(int, _ZFNET_CONV345_003.split("-"))))
    why = (f"Slide 003 describes the wider variant of the paper's Table 2; built with "
           f"conv345=({_ZFNET_CONV345_003.replace('-', ', ')}) it has "
           f"{wide.totals['params']:,} parameters. The default follows slide 001's widths, "
           "which are per GPU (x 2).")
    return [
        _text_row("conv1", _ZFNET_CONV1, f"{kernel_text(conv1.calc)}/{stride_text(conv1.calc)}, "
                  f"{conv1.calc.out[1]} filters", source),
        _text_row("widths, conv1-5 and fc6-7 (slide 001)", _ZFNET_WIDTHS_001,
                  "-".join(str(w // 2) for w in widths) + " x 2", source),
        _text_row("conv3-5 filters (slide 003)", _ZFNET_CONV345_003,
                  "-".join(str(w) for w in widths[2:5]), source, why),
    ]


# ---------------------------------------------------------------- the summary tables


def _comparison_why(network: str, column: str, name: str) -> str:
    """Why the comparison table's ``column`` ("parameters" or "flop") of ``network`` differs
    from zoo model ``name``'s: the README's reasons, with our numbers filled in."""
    if network == "AlexNet":
        grouped = analysis.profile("alexnet_original").totals
        joined = analysis.profile("alexnet_original", groups=1).totals
        if column == "parameters":
            return (f"The 62M is the 2012 net without its two-GPU groups: {joined['params']:,} "
                    f"parameters with groups=1, {grouped['params']:,} with the groups.")
        return (f"The notes count multiply-adds everywhere else, but this matches 2 x the "
                f"multiply-adds (FLOPs) of the 2012 net with its groups: "
                f"2 x {_giga(grouped['macs'])} = {_giga(2 * grouped['macs'])}; without the "
                f"groups (the 62M net) it does {_giga(joined['macs'])} multiply-adds.")
    if network == "VGGNet" and column == "flop":
        return (f"19.6B is VGG-19's count ({_giga(analysis.profile('vgg19').totals['macs'])} "
                f"multiply-adds); VGG-16, whose 138M parameters the row gives, does "
                f"{_giga(analysis.profile('vgg16').totals['macs'])}.")
    if network == "Inception" and column == "parameters":
        return _googlenet_size_why()
    if network == "ResNet-152":
        p = analysis.profile(name)
        if column == "parameters":
            biases = _conv_biases(p)
            return (f"60.3M counts a bias in every conv, as some re-implementations (Keras's) "
                    f"have: {p.totals['params']:,} + {biases:,} = "
                    f"{p.totals['params'] + biases:,}. The paper's convs have none: batch norm "
                    "follows each.")
        if name.endswith("_v1_5"):
            return (f"torchvision's v1.5 strides in the 3x3 conv of a downsampling bottleneck: "
                    f"{_giga(p.totals['macs'])}, against the paper's v1 "
                    f"{_giga(analysis.profile('resnet152').totals['macs'])}.")
    return ""


def comparison_rows(network: str, p: Profile) -> list[dict[str, Any]]:
    """The comparison table's parameters and flop cells for ``network`` against profile ``p``."""
    row = reference.table("comparison").set_index("network").loc[network]
    source = "comparison table"
    return [_row(quantity, row[column], p.totals[key], source,
                 _comparison_why(network, column, p.model))
            for quantity, column, key in (("parameters", "parameters", "params"),
                                          ("FLOPs (multiply-adds)", "flop", "macs"))]


def _comparison(network: str) -> Check:
    return lambda p: comparison_rows(network, p)


def _ilsvrc(network: str) -> Check:
    def check(p: Profile) -> list[dict[str, Any]]:
        row = reference.table("ilsvrc_winners").set_index("network").loc[network]
        return [_row("depth (layers)", row["layers"], p.totals["depth"],
                     f"ILSVRC winners ({row['year']})")]
    return check


# ---------------------------------------------------------------- the catalogue of checks


def _catalogue() -> dict[str, list[Check]]:
    checks: dict[str, list[Check]] = {
        "alexnet": [_alexnet_table],
        "alexnet_original": [_alexnet_original, _comparison("AlexNet"), _ilsvrc("AlexNet")],
        "zfnet": [_zfnet, _ilsvrc("ZFNet")],
        "googlenet": [_googlenet_table, _googlenet_size, _comparison("Inception"),
                      _ilsvrc("GoogLeNet")],
        "googlenet_tv": [_googlenet_size],
    }
    for config, name in (("A", "vgg11"), ("A-LRN", "vgg11_lrn"), ("B", "vgg13"),
                         ("C", "vgg16_c"), ("D", "vgg16"), ("E", "vgg19")):
        checks[name] = [_vgg_config(config)]
    checks["vgg16"] = [_vgg16_list, *checks["vgg16"], _comparison("VGGNet")]
    checks["vgg19"].append(_ilsvrc("VGG"))
    for depth in (18, 34, 50, 101, 152):
        checks[f"resnet{depth}"] = [_resnet(depth)]
        if depth >= 50:
            checks[f"resnet{depth}_v1_5"] = [_resnet(depth, v1_5=True)]
    for name in ("resnet152", "resnet152_v1_5"):
        checks[name].append(_comparison("ResNet-152"))
    checks["resnet152"].append(_ilsvrc("ResNet"))
    for depth in _CIFAR_PARAMS:
        checks[f"cifar_resnet{depth}"] = [_cifar(depth, residual=True)]
        checks[f"cifar_plain{depth}"] = [_cifar(depth, residual=False)]
    return checks


_CHECKS = _catalogue()


def notes_input_size(name: str) -> tuple[int, int, int]:
    """The input size the notes compute ``name``'s numbers at (AlexNet's table: 227x227)."""
    return _alexnet_notes_size() if name == "alexnet" else registry.get(name).input_size


def has_notes(name: str) -> bool:
    """Whether the notes give numbers for zoo model ``name``."""
    registry.get(name)  # unknown names raise with suggestions
    return name in _CHECKS


def check(name: str, profile: Profile | None = None) -> pd.DataFrame | None:
    """The notes' numbers for zoo model ``name`` beside ours; None if the notes give none.

    One row per number (columns :data:`COLUMNS`). The check is always computed at the notes'
    input size with the model's default builder options: a :class:`Profile` does not record
    the options it was built with, so a given one could silently be another architecture,
    and recomputing costs milliseconds (the traced graph is cached). ``profile`` is the one
    the page shows; when it is at another input size, ``attrs["note"]`` says so.
    ``attrs["input_size"]`` is the size checked (C, H, W), as integers: formatted where shown.
    """
    if not has_notes(name):
        return None
    size = notes_input_size(name)
    ours = analysis.profile(name, size)
    frame = pd.DataFrame(_flatten(c(ours) for c in _CHECKS[name]), columns=COLUMNS)
    frame.attrs["input_size"] = size
    frame.attrs["note"] = ""
    if profile is not None and tuple(profile.input_size) != size:
        frame.attrs["note"] = (f"Checked at {format_shape(size)}, the input size of the notes' "
                               f"numbers; the profile shown is at "
                               f"{format_shape(profile.input_size)}.")
    return frame


def _flatten(groups: Iterable[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [row for group in groups for row in group]
