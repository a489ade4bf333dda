"""Explore: one network of the zoo at an input size: its graph in the papers' style, the
per-layer table, the slides' three charts, the course notes' numbers beside ours, and what
training it would take in memory. Settings live in the URL
(``/explore?model=vgg16&input=3x224x224&view=charts``).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

import cnnlib
from app import network, warm
from app.widgets import plain, query_select, query_text
from cnnlib import paper_check
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


warm.start()  # the rest of the zoo, in the background, once per server
st.title("Explore a network")
top = st.columns([2, 1, 1])
with top[0]:
    name = query_select("Network", registry.names(), "model", default="vgg16",
                        format_func=lambda n: f"{registry.get(n).family} · {n} "
                                              f"({registry.get(n).year})")
info = registry.get(name)
with top[1]:
    if st.session_state.setdefault("input_for", name) != name:  # another network: its size
        st.session_state["input"] = format_shape(info.input_size)
        st.session_state["input_for"] = name
    text = query_text("Input (C x H x W)", "input", format_shape(info.input_size))
with top[2]:
    units = query_select("Count", ["macs", "flops"], "units", radio=True, horizontal=True,
                         format_func={"macs": "multiply-adds", "flops": "FLOPs (2x)"}.get)
st.caption(f"**{info.description}** {info.paper}")

try:
    size = cnnlib.parse_input_size(text, info.input_size[0])
    profile = network.zoo_profile(name, size, units == "flops")
except CnnlibError as exc:
    st.error(plain(str(exc)))
    st.stop()
network.views(profile, (name, size, units), name,
              extra={"paper": ("Paper check", lambda: paper_view(name))})
