"""Compare: several networks side by side, accuracy against cost (Canziani et al. 2017), and
the ILSVRC years that made them famous. ``/compare?models=alexnet,vgg16,googlenet,resnet152``
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

import cnnlib
from app import charts, warm
from app.style import font_size, house, show_shared
from app.widgets import plain, query_multi, query_select, query_toggle, zoo_label
from cnnlib import compare
from cnnlib.errors import CnnlibError
from cnnlib.models import registry

CLASSICS = ["alexnet", "zfnet", "vgg16", "googlenet", "resnet50", "resnet152"]
QUANTITIES = {"params": "parameters", "macs": "multiply-adds", "memory_bytes":
              "activation memory (bytes)", "depth": "depth (weight layers)"}


@st.cache_resource(max_entries=32, show_spinner=False)
def _grouped(names: tuple[str, ...], log: bool, size: int) -> go.Figure:
    """The side-by-side bars, built once per server for these networks (see show_shared)."""
    return house(charts.grouped(compare.compare_table(list(names)), QUANTITIES, log), size)


@st.cache_resource(max_entries=32, show_spinner=False)
def _bubbles(names: tuple[str, ...], size: int) -> go.Figure:
    return house(charts.accuracy_bubbles(compare.accuracy_vs_ops(list(names))), size)


@st.cache_resource(max_entries=2, show_spinner=False)
def _torchvision_bubbles(size: int) -> go.Figure:
    """Every torchvision classifier's bubble, built once per server and type size."""
    return house(charts.torchvision_bubbles(compare.torchvision_points(), font=size), size)


@st.cache_resource(max_entries=2, show_spinner=False)
def _history(size: int) -> tuple[go.Figure, go.Figure]:
    human = compare.human_top5_error()
    error, depth = charts.ilsvrc_history(compare.ilsvrc_history(), human[0])
    return house(error, size), house(depth, size)


def analysable(names: list[str]) -> list[str]:
    """The chosen networks the analysis can take. One it cannot (a newer architecture the
    engine does not read yet) is named with its one-sentence reason in a warning, and the
    others are still compared: one network must not take the whole page down. Failures are
    quick to repeat (the trace is cached), so this runs on every rerun."""
    ok = []
    for name in names:
        try:
            cnnlib.profile(name)
        except CnnlibError as exc:
            st.warning(plain(f"{name} is left out, since it cannot be analysed: {exc}"))
        else:
            ok.append(name)
    return ok


warm.start()  # the rest of the zoo, in the background, once per server
st.title("Compare networks")
names = query_multi("Networks", registry.names(), "models", CLASSICS, format_func=zoo_label)
view = query_select("View", ["table", "accuracy", "history", "notes"], "view", radio=True,
                    horizontal=True, label_visibility="collapsed",
                    format_func={"table": "Side by side", "accuracy": "Accuracy vs cost",
                                 "history": "ILSVRC history",
                                 "notes": "The notes' comparison, recomputed"}.get)
every = view == "accuracy" and query_toggle(
    "Every torchvision classifier (published top-1 against GFLOPS)", "all_torchvision",
    help="All of torchvision's ImageNet classifiers from their weights' metadata (nothing is "
         "built or downloaded), the classics highlighted, as Canziani et al. 2017 drew them.")
per_network = view == "table" or (view == "accuracy" and not every)  # the picker's nets
if not names and per_network:
    st.info("Choose one or more networks.")
    st.stop()
computed = analysable(names) if per_network else names

if view == "table":
    table = compare.compare_table(computed)  # cached in cnnlib per list of names
    number = st.column_config.NumberColumn
    st.dataframe(table, hide_index=True, column_config={
        "params": number("params", format="localized"),
        "macs": number("multiply-adds", format="localized"),
        "memory_bytes": number("memory (B)", format="localized"),
        "top1": number("top-1 (%)"), "top5": number("top-5 (%)")})
    log = query_select("Scale", ["linear", "log"], "scale", radio=True,
                       horizontal=True) == "log"
    show_shared(_grouped(tuple(computed), log, font_size()), key="grouped")
elif every:
    points = compare.torchvision_points()
    show_shared(_torchvision_bubbles(font_size()), key="torchvision")
    swag = list(points.loc[points["weights"].str.contains("SWAG"), "model"])
    st.caption(
        f"All {len(points)} of torchvision's ImageNet classifiers, after Canziani, Paszke and "
        "Culurciello 2017 (An analysis of deep neural network models for practical "
        "applications): the top-1 accuracy torchvision published for each net's first "
        "weights (one net, one centre crop of the validation set) against the multiply-adds "
        "it counted ('GFLOPS' in its tables) at that weights' image size. Nothing is built "
        "or downloaded: these are the weights' metadata. Labelled: the classics the zoo "
        "teaches (torchvision's names; hover adds the zoo's); coloured: the zoo's nets after "
        "ResNet; grey: the rest, named on hover. "
        + (f"{', '.join(swag)} only have weights pre-trained on 3.6B Instagram images "
           "(SWAG), one reason they sit at the top. " if swag else "")
        + "Top-1 here, top-5 on the chart of the chosen networks, since the papers' ILSVRC "
          "entries give only top-5.")
    number = st.column_config.NumberColumn
    st.dataframe(points, hide_index=True, column_config={
        "top1": number("top-1 (%)"), "top5": number("top-5 (%)"),
        "gmacs": number("G multiply-adds"), "params": number("params", format="localized"),
        "crop": number("image side (px)")})
elif view == "accuracy":
    points = compare.accuracy_vs_ops(computed)
    missing = compare.left_out(names)
    if points.empty:
        st.info("None of these networks has a published ImageNet accuracy.")
    else:
        show_shared(_bubbles(tuple(computed), font_size()), key="bubbles")
        st.caption("Top-5 accuracy, since every source gives it (the papers' ILSVRC entries "
                   "give no top-1). Circles: one network on one centre crop of the validation "
                   "set; diamonds: the paper's competition entry on the test set, an ensemble "
                   "of nets on several crops, so they sit higher than one net would.")
        st.dataframe(points[["model", "measured", "top1", "top5", "source"]],
                     hide_index=True)
    if missing:
        st.markdown("**Left out:** " + "; ".join(f"{n}: {why}" for n, why in missing.items())
                    + ".")
elif view == "history":
    human = compare.human_top5_error()
    error, depth = _history(font_size())
    left, right = st.columns(2)
    with left:
        show_shared(error, key="history")
    with right:
        show_shared(depth, key="depth")
    st.caption(f"Human top-5 error: {human[1]}. 2014 had two entries: VGG came second in "
               "classification (first in localisation), GoogLeNet won.")
    st.dataframe(compare.ilsvrc_history(), hide_index=True)
else:
    st.dataframe(compare.comparison_recomputed(), hide_index=True)
