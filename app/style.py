"""Classroom mode and the look of every chart: one place decides type sizes and contrast.

Classroom mode (sidebar toggle, ``?classroom=1``) is for a projector at the front of a room:
larger type in the text, tables, charts and graph labels, and dark text on white. Pages ask
:func:`font_size` for the graph and render figures through :func:`show`, so a page never
styles anything itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import streamlit as st

if TYPE_CHECKING:  # the entry imports this module: keep plotly out of the first view
    import plotly.graph_objects as go

_CLASSROOM_CSS = """
<style>
html { font-size: 20px; }
/* the figure first: little space above the title, a compact title, the full width */
[data-testid="stMainBlockContainer"] { padding: 2.6rem 1.5rem 2rem !important;
  max-width: 100% !important; }
[data-testid="stHeader"] { height: 2.4rem !important; min-height: 2.4rem !important; }
.stApp h1 { font-size: 1.5rem !important; padding: 0 0 0.2rem !important; }
.stApp h2, .stApp h3 { font-size: 1.15rem !important; padding: 0.2rem 0 !important; }
[data-testid="stVerticalBlock"] { gap: 0.5rem !important; }
[data-testid="stElementContainer"]:has(> [data-testid="stDataFrame"]) {
  zoom: 1.2; width: calc(100% / 1.2) !important; }
.stApp, .stApp p, .stApp li, .stApp label { color: #000 !important; }
/* captions dark (Streamlit greys them with opacity), code chips readable from the back */
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p {
  color: #1a1a1a !important; opacity: 1 !important; }
.stApp code { font-size: 0.9em !important; color: #000 !important; }
[data-testid="stMetricValue"] { font-size: 1.8rem !important; font-weight: 700; }
</style>
"""


def sidebar_state() -> Literal["collapsed", "auto"]:
    """The sidebar's state on load: collapsed in classroom mode, so the figure has the width
    (it opens with its arrow, and Visualize's settings live there)."""
    on = st.session_state.get("classroom", st.query_params.get("classroom") == "1")
    return "collapsed" if on else "auto"


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


def metrics(items: list[tuple[str, str, str | None]], border: bool = False) -> None:
    """Headline numbers, each ``(label, value, help)``: metric cards side by side, or in
    classroom mode one line of "label **value**", since at the projector's type size the
    cards cut both ("Param... 25...", "3 x ...")."""
    if is_classroom():
        st.markdown(" · ".join(f"{label} **{value}**" for label, value, _ in items))
        return
    for col, (label, value, tip) in zip(st.columns(len(items)), items, strict=True):
        col.metric(label, value, help=tip, border=border)


def house(fig: go.Figure, size: int) -> go.Figure:
    """``fig`` in the house style (type ``size``, white background), changed in place."""
    fig.update_layout(template="plotly_white", font={"size": size, "color": "#111"},
                      title_font_size=size + 4, margin={"l": 10, "r": 10, "t": 60, "b": 10},
                      hoverlabel_font_size=size)
    return fig


def show(fig: go.Figure, key: str | None = None) -> None:
    """Render a plotly figure in the house style, at this session's type size."""
    show_shared(house(fig, font_size()), key)


def show_shared(fig: go.Figure, key: str | None = None) -> None:
    """Render a figure that is already in the house style and may be shared by every session
    (built once in ``st.cache_resource``, with the type size in its key). Plotly figures are
    slow to build (0.1 s for a deep net's bars, most of a warm Explore view's server time), and
    ``st.plotly_chart`` only reads a figure (it copies it into its message), so sharing is
    safe as long as nobody changes it after the cache made it: hence no styling here."""
    st.plotly_chart(fig, width="stretch", key=key,
                    config={"displaylogo": False, "toImageButtonOptions": {"scale": 2}})
