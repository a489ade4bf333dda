"""Zoo models side by side: size, cost and published accuracy, and the notes' summary tables
recomputed.

Sizes and costs are computed from the models (:func:`cnnlib.profile`); accuracies cannot be,
so each one names its source: torchvision's weights metadata (available offline, the numbers
torchvision measured on ImageNet-1K val) for a zoo model that is exactly a torchvision
architecture, else the paper's ILSVRC entry. The page calls these on every rerun, and their
results depend only on the names asked for, so they are cached (and copied out, as frames are
mutable).
"""

from __future__ import annotations

import functools
from typing import Any

import pandas as pd

from cnnlib import analysis, paper_check, reference, weights
from cnnlib.analysis import format_shape
from cnnlib.models import registry

TABLE_COLUMNS = ["model", "family", "year", "params", "macs", "memory_bytes", "depth",
                 "weight_layers", "input_size", "top1", "top5", "accuracy_source"]


def published_accuracy(name: str) -> dict[str, Any] | None:
    """ImageNet accuracy (%) published for zoo model ``name``, with its source; None if none.

    Keys: ``top1``, ``top5`` (None where not published), ``source`` (a citation),
    ``weights`` (the torchvision weights entry or None), ``recipe`` (URL or None),
    ``num_params`` and ``gmacs`` (torchvision's own counts, its "GFLOPS" being
    multiply-adds; None for a paper). torchvision's numbers are used only for a zoo model
    that *is* that torchvision architecture (registry ``torchvision``): the zoo's resnet50 is
    the paper's v1, so torchvision's ResNet-50 accuracy belongs to resnet50_v1_5, not to it.
    Otherwise the registry's ILSVRC top-5 error gives the paper's entry: a competition
    submission on the test set, an ensemble of nets rather than the one shown.
    """
    found = _published(name)
    return dict(found) if found is not None else None


@functools.cache
def _published(name: str) -> dict[str, Any] | None:
    info = registry.get(name)
    if info.torchvision:
        entry = weights.imagenet_weights(name)  # the V1 weights, trained the classic way
        meta = entry.meta
        metrics = meta["_metrics"]["ImageNet-1K"]
        return {
            "top1": metrics["acc@1"], "top5": metrics["acc@5"],
            "source": f"torchvision {entry} ({meta['recipe']}), ImageNet-1K val, single crop",
            "weights": str(entry), "recipe": meta["recipe"], "num_params": meta["num_params"],
            "gmacs": meta["_ops"]}
    if info.top5_error is not None:
        return {
            "top1": None, "top5": round(100 - info.top5_error, 2),
            "source": (f"{info.paper} ILSVRC {info.year} entry: top-5 error "
                       f"{info.top5_error}% on the test set (an ensemble of nets)"),
            "weights": None, "recipe": None, "num_params": None, "gmacs": None}
    return None


def compare_table(names: list[str]) -> pd.DataFrame:
    """One row per zoo model (``model`` is its name): catalogue facts, computed size and cost,
    published accuracy.

    ``params``, ``macs``, ``memory_bytes`` (forward activations, batch 1, fp32), ``depth``
    (weight layers on the longest path, as the papers count) and ``weight_layers`` come from
    the profile at the model's own input size; ``top1``/``top5`` and ``accuracy_source`` from
    :func:`published_accuracy` (NaN where nothing is published).
    """
    return _compare_table(tuple(names)).copy()


@functools.cache
def _compare_table(names: tuple[str, ...]) -> pd.DataFrame:
    records = []
    for name in names:
        info = registry.get(name)
        totals = analysis.profile(name).totals
        accuracy = published_accuracy(name) or {}
        records.append((
            name, info.family, info.year, totals["params"], totals["macs"],
            totals["memory_bytes"], totals["depth"], totals["weight_layers"],
            format_shape(info.input_size), accuracy.get("top1"), accuracy.get("top5"),
            accuracy.get("source", "")))
    table = pd.DataFrame.from_records(records, columns=TABLE_COLUMNS)
    return table.astype({"top1": float, "top5": float})


#: How a published accuracy was measured: one net on one centre crop of the validation set
#: (torchvision), or a competition entry on the test set (ensembles, multi-crop).
SINGLE_MODEL = "single model, single crop (torchvision, val)"
ILSVRC_ENTRY = "ILSVRC entry (ensemble, multi-crop, test)"


def accuracy_vs_ops(names: list[str]) -> pd.DataFrame:
    """Points for an accuracy-versus-operations bubble chart (Canziani et al. 2017): ``top1``
    and ``top5`` (published; a paper's ILSVRC entry gives only top-5), ``gmacs`` (ours:
    billions of multiply-adds per image), ``params`` (ours, the bubble size), ``measured``
    (:data:`SINGLE_MODEL` or :data:`ILSVRC_ENTRY`: the two are not the same experiment, so a
    chart must tell them apart) and ``source``. A model with no published accuracy has no
    point, so it has no row (:func:`left_out` says why)."""
    table = compare_table(names)
    table = table[table["top1"].notna() | table["top5"].notna()]
    measured = [SINGLE_MODEL if registry.get(n).torchvision else ILSVRC_ENTRY
                for n in table["model"]]
    return pd.DataFrame({"model": table["model"], "family": table["family"],
                         "top1": table["top1"], "top5": table["top5"],
                         "gmacs": table["macs"] / 1e9, "params": table["params"],
                         "measured": measured,
                         "source": table["accuracy_source"]}).reset_index(drop=True)


#: How each point of :func:`torchvision_points` stands to the zoo: a classic the course
#: teaches, a family after ResNet that the zoo also has, or only in torchvision.
CLASSIC = "classic (in the zoo)"
AFTER = "after ResNet (in the zoo)"
OTHER = "torchvision only"
TORCHVISION_COLUMNS = ["model", "family", "weights", "top1", "top5", "gmacs", "params", "crop",
                       "zoo", "group"]


def torchvision_points() -> pd.DataFrame:
    """Every torchvision ImageNet classifier's published accuracy against its cost, from the
    weights metadata alone (offline; no model is built), for the accuracy-versus-operations
    chart of Canziani et al. 2017 drawn over all of them.

    One row per ``torchvision.models.list_models(module=torchvision.models)`` name, in that
    order: ``family`` (the torchvision module that defines it, e.g. ``resnet`` for ResNeXt
    too), ``weights`` (the first weights entry: IMAGENET1K_V1 where there is one, trained
    the classic way, the same entry :func:`published_accuracy` uses; a few big nets only have
    SWAG weights, pre-trained on 3.6B Instagram images, and the name says so), ``top1`` and
    ``top5`` (%, ImageNet-1K val, one centre crop), ``gmacs`` (torchvision's ``_ops``, which
    it calls GFLOPS but counts as multiply-adds, for the weights' ``crop``, the side of the
    evaluated image), ``params``, ``zoo`` (the zoo models that are exactly this net, comma
    separated; empty where none) and ``group`` (:data:`CLASSIC`, :data:`AFTER` or
    :data:`OTHER`)."""
    return _torchvision_points().copy()


@functools.cache
def _torchvision_points() -> pd.DataFrame:
    import torchvision  # the metadata only: weights enums are plain Python

    zoo: dict[str, list[str]] = {}
    for name in registry.names():
        if tv_name := registry.get(name).torchvision:
            zoo.setdefault(tv_name, []).append(name)
    records = []
    for name in torchvision.models.list_models(module=torchvision.models):
        entry = next(iter(torchvision.models.get_model_weights(name)))
        meta = entry.meta
        metrics = meta["_metrics"]["ImageNet-1K"]
        ours = zoo.get(name, [])
        if not ours:
            group = OTHER
        elif any(registry.get(z).family != registry.AFTER_RESNET for z in ours):
            group = CLASSIC
        else:
            group = AFTER
        records.append((
            name, torchvision.models.get_model_builder(name).__module__.rsplit(".", 1)[-1],
            str(entry), metrics["acc@1"], metrics["acc@5"], meta["_ops"], meta["num_params"],
            entry.transforms.keywords.get("crop_size"), ", ".join(ours), group))
    return pd.DataFrame.from_records(records, columns=TORCHVISION_COLUMNS)


def left_out(names: list[str]) -> dict[str, str]:
    """The models of ``names`` that :func:`accuracy_vs_ops` has no point for, each with the
    reason: not an ImageNet classifier, or no published accuracy for that exact network."""
    reasons = {}
    for name in names:
        if published_accuracy(name) is not None:
            continue
        info = registry.get(name)
        if info.num_classes != 1000:
            reasons[name] = (f"a {info.num_classes}-class net for "
                             f"{format_shape(info.input_size)} images, not an ImageNet one")
        else:
            reasons[name] = ("no accuracy published for exactly this network (no torchvision "
                             "weights, not an ILSVRC entry)")
    return reasons


def ilsvrc_history() -> pd.DataFrame:
    """The ILSVRC classification winners of the classic figure, oldest first, one row per
    entry (2014 has two: VGG, 2nd, and GoogLeNet, the winner): ``entry`` ("2014 VGG", the
    label that keeps them apart on a chart), ``year``, ``network``, ``top5_error_percent``,
    ``kind`` ("shallow" before CNNs, else "CNN"), ``layers`` as the notes count and ``depth``
    as we compute it for the zoo model of the entry's architecture (both missing for the
    shallow entries, which have no layers to count), ``model`` and ``note``.

    The CNN years are the notes' table; the shallow 2010/2011 winners come from
    ``ilsvrc_context.csv`` (Russakovsky et al. 2015), as in the figure the history is known by.
    """
    return _ilsvrc_history().copy()


@functools.cache
def _ilsvrc_history() -> pd.DataFrame:
    context = reference.table("ilsvrc_context")
    shallow = context[context["kind"] == "shallow"]
    cnns = reference.table("ilsvrc_winners")
    models = [paper_check.ILSVRC_MODELS[n] for n in cnns["network"]]
    frame = pd.DataFrame({
        "year": [*shallow["year"], *cnns["year"]],
        "network": [*shallow["network"], *cnns["network"]],
        "top5_error_percent": [*shallow["top5_error_percent"], *cnns["top5_error_percent"]],
        "kind": [*shallow["kind"], *["CNN"] * len(cnns)],
        "layers": [*[None] * len(shallow), *cnns["layers"]],
        "depth": [*[None] * len(shallow),
                  *(analysis.profile(m).totals["depth"] for m in models)],
        "model": [*[None] * len(shallow), *models],
        "note": [*shallow["source"], *cnns["note"]]})
    frame = frame.astype({"year": int, "top5_error_percent": float, "layers": "Int64",
                          "depth": "Int64"})
    frame.insert(0, "entry", frame["year"].astype(str) + " " + frame["network"])
    return frame


def human_top5_error() -> tuple[float, str]:
    """The human top-5 error on ILSVRC (%) that the history is measured against, and its
    source: one trained annotator, about 5.1% (Russakovsky et al. 2015)."""
    context = reference.table("ilsvrc_context").set_index("kind")
    return float(context.loc["human", "top5_error_percent"]), context.loc["human", "source"]


def comparison_recomputed() -> pd.DataFrame:
    """The notes' comparison table (AlexNet, VGGNet, Inception, ResNet-152) with our computed
    parameters and multiply-adds beside the printed ones, in the printed units.

    Each network is the zoo model :data:`cnnlib.paper_check.COMPARISON_MODELS` names: AlexNet's
    "62M" is the 2012 net without its two-GPU groups (``groups=1``). ``why`` explains the
    cells that disagree (the reference README's reasons, computed).
    """
    return _comparison_recomputed().copy()


@functools.cache
def _comparison_recomputed() -> pd.DataFrame:
    records = []
    for row in reference.table("comparison").to_dict(orient="records"):
        name, options = paper_check.COMPARISON_MODELS[row["network"]]
        params, flop = paper_check.comparison_rows(row["network"],
                                                   analysis.profile(name, **options))
        shown = ", ".join(f"{k}={v}" for k, v in options.items())
        records.append({
            "network": row["network"], "year": int(row["year"]),
            "salient_feature": row["salient_feature"], "top5_accuracy": row["top5_accuracy"],
            "model": f"{name} ({shown})" if shown else name,
            "params_notes": params["notes"], "params_ours": params["ours"],
            "params_agree": params["agrees"], "flop_notes": flop["notes"],
            "macs_ours": flop["ours"], "macs_agree": flop["agrees"],
            "why": " ".join(c["why"] for c in (params, flop) if c["why"])})
    return pd.DataFrame.from_records(records)


#: The totals a design is compared on, with how each is read.
DIFF_QUANTITIES = {"params": "parameters", "macs": "multiply-adds",
                   "memory_bytes": "activation memory (bytes)", "depth": "depth (weight layers)",
                   "layers": "layers"}


def diff_totals(mine: analysis.Profile, theirs: analysis.Profile) -> pd.DataFrame:
    """Two networks' totals side by side, with ``ratio`` = mine / theirs: how a student's
    design (the Build page) weighs against a classic ("3.1M parameters: 0.02x VGG-16's")."""
    records = []
    for key, quantity in DIFF_QUANTITIES.items():
        a, b = mine.totals[key], theirs.totals[key]
        records.append((quantity, a, b, a / b if b else float("nan")))
    return pd.DataFrame.from_records(records, columns=["quantity", mine.model, theirs.model,
                                                       "ratio"])
