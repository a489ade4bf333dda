"""Explore: one network of the zoo at an input size: its graph in the papers' style, the
per-layer table, the slides' three charts, the course notes' numbers beside ours, and what
training it would take in memory. Every other torchvision classifier can be picked too, as
``torchvision.NAME`` (ConvNeXt-B, EfficientNet-B7, MaxViT...), built by torchvision's own
builder. Settings live in the URL (``/explore?model=vgg16&input=3x224x224&view=charts``).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

import cnnlib
from app import network, warm
from app.widgets import plain, query_select, query_text, zoo_label
from cnnlib import analysis, compare, paper_check
from cnnlib.analysis import format_shape
from cnnlib.errors import CnnlibError
from cnnlib.models import registry


@st.cache_data(max_entries=64, show_spinner=False)
def checked(name: str) -> pd.DataFrame | None:
    return paper_check.check(name)


def paper_view(name: str) -> None:
    """The notes' numbers beside ours. The ones that differ come first, in a table that wraps
    its text, since their "why" is the point of the view; those that agree follow in a
    compact grid."""
    table = checked(name)
    if table is None:
        st.info(f"The course notes give no numbers for {name}.")
        return
    st.caption(f"The course notes' numbers for {name} at the notes' input size "
               f"{format_shape(table.attrs['input_size'])}, beside ours, computed from the "
               "model. Where they differ, the reason is given.")
    agree = int(table["agrees"].sum())
    st.markdown(f"**{agree} of {len(table)}** of the notes' numbers agree with ours; the "
                f"{len(table) - agree} that differ come first.")
    differ = table[~table["agrees"]]
    if len(differ):
        st.table(differ[["quantity", "notes", "ours", "why"]].set_index("quantity"))
    st.dataframe(table[table["agrees"]].drop(columns=["agrees", "why"]), hide_index=True)


#: How a torchvision classifier that no zoo model equals is named in the picker and the URL
#: (the zoo's own names stay bare: its resnet50 is the paper's v1, torchvision's is v1.5).
TORCHVISION = "torchvision."


def _torchvision_only() -> pd.DataFrame:
    """torchvision's classifiers that no zoo model equals, from the weights metadata (no model
    is built to list them), indexed by name."""
    points = compare.torchvision_points()
    return points[points["group"] == compare.OTHER].set_index("model")


def _label(choice: str) -> str:
    if choice.startswith(TORCHVISION):
        return f"torchvision · {choice.removeprefix(TORCHVISION)}"
    return zoo_label(choice)


def _torchvision_caption(name: str, meta: pd.Series) -> str:
    return (f"**torchvision's `{name}`**, built by its own builder (the architecture only: no "
            f"weights are downloaded). Its {meta['weights']} weights score {meta['top1']:.1f}% "
            f"top-1 on ImageNet-1K, with {meta['params']:,} parameters and {meta['gmacs']:.2f} "
            f"G multiply-adds at {meta['crop']}x{meta['crop']} (torchvision's metadata).")


warm.start()  # the rest of the zoo, in the background, once per server
st.title("Explore a network")
others = _torchvision_only()
top = st.columns([2, 1, 1])
with top[0]:
    choice = query_select("Network", registry.names() + [TORCHVISION + n for n in others.index],
                          "model", default="vgg16", format_func=_label)
if choice.startswith(TORCHVISION):
    name = choice.removeprefix(TORCHVISION)
    default_size = analysis.torchvision_input_size(name)
    caption = _torchvision_caption(name, others.loc[name])
else:
    name = choice
    info = registry.get(name)
    default_size, caption = info.input_size, f"**{info.description}** {info.paper}"
with top[1]:
    if st.session_state.setdefault("input_for", choice) != choice:  # another network: its size
        st.session_state["input"] = format_shape(default_size)
        st.session_state["input_for"] = choice
    text = query_text("Input (C x H x W)", "input", format_shape(default_size))
with top[2]:
    units = query_select("Count", ["macs", "flops"], "units", radio=True, horizontal=True,
                         format_func={"macs": "multiply-adds", "flops": "FLOPs (2x)"}.get)
st.caption(caption)

try:
    size = cnnlib.parse_input_size(text, default_size[0])
    if choice.startswith(TORCHVISION):
        profile = analysis.profile_torchvision(name, size, flops=units == "flops")
    else:
        profile = network.zoo_profile(name, size, units == "flops")
except CnnlibError as exc:
    st.error(plain(str(exc)))
    st.stop()
extra = {} if choice.startswith(TORCHVISION) else {
    "paper": ("Paper check", lambda: paper_view(name))}
network.views(profile, (choice, size, units), choice, extra=extra)
