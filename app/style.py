"""Classroom mode and the look of every chart: one place decides type sizes and contrast.

Classroom mode (sidebar toggle, ``?classroom=1``) is for a projector at the front of a room:
larger type in the text, tables, charts and graph labels, and dark text on white. Pages ask
:func:`font_size` for the graph and render figures through :func:`show`, so a page never
styles anything itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

if TYPE_CHECKING:  # the entry imports this module: keep plotly out of the first view
    import plotly.graph_objects as go

_CLASSROOM_CSS = """
<style>
html { font-size: 20px; }
[data-testid="stElementContainer"]:has(> [data-testid="stDataFrame"]) {
  zoom: 1.2; width: calc(100% / 1.2) !important; }
.stApp, .stApp p, .stApp li, .stApp label { color: #000 !important; }
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p {
  color: #1a1a1a !important; }
[data-testid="stMetricValue"] { font-size: 1.8rem !important; font-weight: 700; }
</style>
"""


def classroom_toggle() -> bool:
    """The sidebar switch; kept in the session across pages and in the URL of each page."""
    if "classroom" not in st.session_state:
        st.session_state["classroom"] = st.query_params.get("classroom") == "1"
    on = st.sidebar.toggle("Classroom mode", key="classroom",
                           help="Larger type and high contrast for a projector (1280x720).")
    if on:
        st.query_params["classroom"] = "1"
        st.html(_CLASSROOM_CSS)
    else:
        st.query_params.pop("classroom", None)
    return on


def is_classroom() -> bool:
    return bool(st.session_state.get("classroom"))


def font_size() -> int:
    """Base type size in pixels for charts and graph labels."""
    return 20 if is_classroom() else 13


def show(fig: go.Figure, key: str | None = None) -> None:
    """Render a plotly figure in the house style (type size, white background)."""
    size = font_size()
    fig.update_layout(template="plotly_white", font={"size": size, "color": "#111"},
                      title_font_size=size + 4, margin={"l": 10, "r": 10, "t": 60, "b": 10},
                      hoverlabel_font_size=size)
    st.plotly_chart(fig, width="stretch", key=key,
                    config={"displaylogo": False, "toImageButtonOptions": {"scale": 2}})
