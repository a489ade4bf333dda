"""One analysed network on screen: totals, graph, per-layer table, charts, training memory.

Shared by the Explore page (zoo models) and the Build page (a network typed in the slides'
notation), so both show a network the same way. Everything shown comes from a
``cnnlib.analysis.Profile``; the functions here only lay it out.
"""

from __future__ import annotations

from collections.abc import Callable

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

import cnnlib
from app import charts
from app.style import font_size, house, metrics, show, show_shared
from app.widgets import plain, query_int, query_select
from cnnlib import graph, insights
from cnnlib.analysis import Profile, unused_note
from cnnlib.formulas import CONVENTIONS, human_bytes, short

VIEWS = {"graph": "Graph", "table": "Table", "charts": "Charts", "memory": "Training memory"}
OPTIMIZERS = {"sgd": "SGD", "sgd_momentum": "SGD with momentum", "adam": "Adam"}


@st.cache_resource(max_entries=64, show_spinner="Analysing...")
def zoo_profile(name: str, size: tuple[int, int, int] | None = None,
                flops: bool = False) -> Profile:
    """A zoo model's analysis (at its own input size by default), shared by every session and
    page: a Profile is never modified after it is made."""
    return cnnlib.profile(name, size, flops=flops)


def totals(profile: Profile) -> None:
    """The headline numbers, as metrics readable from the back of the room."""
    t = profile.totals
    ops = "flops" if profile.flops else "macs"
    metrics([
        ("Parameters", short(t["params"]), f"{t['params']:,}"),
        ("FLOPs" if profile.flops else "Multiply-adds", short(t[ops]), f"{t[ops]:,} per image"),
        ("Activations", human_bytes(t["memory_bytes"]),
         f"{t['activations']:,} values x {profile.bytes_per_element} bytes, forward, one image"),
        ("Depth", str(t["depth"]), "weight layers on the longest path, as the papers count "
                                   "(AlexNet 8, VGG-16 16, GoogLeNet 22)"),
        ("Output", t["output_shape"], None)])
    note = unused_note(t)
    if note:  # GoogLeNet's auxiliary classifiers in eval mode, say
        st.caption(note)


#: Direction of the graph: the papers' top to bottom, or left to right for a 16:9 screen.
DIRECTIONS = {"TB": "top to bottom", "LR": "left to right"}

#: Buttons that save the graph as the browser drew it (viz.js, already in the page): the SVG
#: as it is, and a PNG painted from it at twice the size, so no Graphviz binary is needed on
#: the server. ``{name}`` is the file name without extension.
_EXPORT_HTML = """
<div class="graph-export">
  <button type="button" id="graph-svg">Download SVG</button>
  <button type="button" id="graph-png">Download PNG</button>
</div>
<style>
.graph-export button { font: inherit; font-size: 0.875rem; padding: 0.25em 0.8em;
  margin-right: 0.5em; border: 1px solid #888; border-radius: 0.4em; background: #fff; color: #000;
  cursor: pointer; }
</style>
<script>
(() => {
  const drawn = () => {
    const svg = document.querySelector('[data-testid="stGraphVizChart"] svg');
    if (!svg) return null;
    const copy = svg.cloneNode(true);
    copy.setAttribute("xmlns", "http://www.w3.org/2000/svg");
    copy.setAttribute("xmlns:xlink", "http://www.w3.org/1999/xlink");
    const box = svg.viewBox.baseVal;
    copy.setAttribute("width", box.width);
    copy.setAttribute("height", box.height);
    copy.removeAttribute("style");
    return {text: new XMLSerializer().serializeToString(copy), w: box.width, h: box.height};
  };
  const save = (blob, file) => {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = file;
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  };
  document.getElementById("graph-svg").onclick = () => {
    const svg = drawn();
    if (svg) save(new Blob([svg.text], {type: "image/svg+xml"}), "{name}.svg");
  };
  document.getElementById("graph-png").onclick = () => {
    const svg = drawn();
    if (!svg) return;
    const image = new Image(), scale = 2;
    image.onload = () => {
      const canvas = document.createElement("canvas");
      canvas.width = svg.w * scale; canvas.height = svg.h * scale;
      const g = canvas.getContext("2d");
      g.fillStyle = "#fff"; g.fillRect(0, 0, canvas.width, canvas.height);
      g.drawImage(image, 0, 0, canvas.width, canvas.height);
      canvas.toBlob(blob => save(blob, "{name}.png"), "image/png");
    };
    image.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(svg.text);
  };
})();
</script>
"""


def graph_view(profile: Profile, key: tuple, network: str) -> None:
    """The graph at a detail level that changes the picture, in either direction, with its
    export. Another network opens at its own default detail, not the last one's: VGG-16's
    "layers" would draw ResNet-152 21,000 px long."""
    options = graph.details(profile)
    default = graph.default_detail(profile)
    if st.session_state.get("detail_for") != network:
        if "detail_for" in st.session_state:  # not on first load: a link's detail is kept
            st.session_state["detail"] = default
        st.session_state["detail_for"] = network
    left, right = st.columns([3, 2])
    with left:
        detail = query_select("Detail", options, "detail", default=default, radio=True,
                              horizontal=True)
    with right:
        rankdir = query_select("Direction", list(DIRECTIONS), "direction", radio=True,
                               horizontal=True, format_func=DIRECTIONS.get)
    dot = _dot(key, detail, font_size(), rankdir, profile)
    if graph.build(profile, detail).plain:
        st.caption("Drawn as plain boxes in forward order, one per module: the data flow of "
                   "this network could not be drawn readably.")
    st.graphviz_chart(dot, width="content")
    st.markdown(" ".join(f'<span style="background:{colour};color:#000;padding:0.1em 0.5em;'
                         f'border-radius:0.3em">{kind}</span>'
                         for kind, colour in graph.legend().items()), unsafe_allow_html=True)
    a, b = st.columns([2, 1])
    with a:
        st.html(_EXPORT_HTML.replace("{name}", _file_name(profile, detail)),
                unsafe_allow_javascript=True)
    b.download_button("Download DOT", dot, f"{_file_name(profile, detail)}.dot",
                      "text/vnd.graphviz")


def _file_name(profile: Profile, detail: str) -> str:
    """A download's name: the network, its input size and the detail drawn."""
    return f"{profile.model}-{'x'.join(map(str, profile.input_size))}-{detail}"


@st.cache_data(max_entries=128, show_spinner=False)
def _dot(key: tuple, detail: str, size: int, rankdir: str, _profile: Profile) -> str:
    return graph.to_dot(_profile, detail, font_size=size, rankdir=rankdir)


def table_view(profile: Profile) -> None:
    ops, ops_name = ("flops", "FLOPs") if profile.flops else ("macs", "multiply-adds")
    number = st.column_config.NumberColumn  # thousands separators: 15,476,410,880
    st.dataframe(profile.layers, hide_index=True, height=420, column_config={
        "params": number("params", format="localized"),
        "activations": number("activations", format="localized"),
        "memory_bytes": number("memory (B)", format="localized"),
        ops: number(ops_name, format="localized"),
        "receptive_field": number("RF (px)", help="receptive field in input pixels"),
        "jump": number("jump (px)", help="input pixels between neighbouring outputs")})
    t = profile.totals
    st.caption(f"Totals: {t['layers']} layers, {t['weight_layers']} with weights, "
               f"{t['params']:,} parameters, {t[ops]:,} {ops_name}, {t['activations']:,} "
               f"activation values ({human_bytes(t['memory_bytes'])}).")
    st.download_button("Download CSV", profile.layers.to_csv(index=False),
                       f"{profile.model}-{'x'.join(map(str, profile.input_size))}.csv",
                       "text/csv")
    name = st.selectbox("Show the arithmetic of a layer", list(profile.layers["name"]),
                        key="explain")
    st.dataframe([{"quantity": k, "formula": v} for k, v in profile.explain(name).items()],
                 hide_index=True, column_config={"formula": st.column_config.TextColumn(
                     width="large")})


@st.cache_resource(max_entries=64, show_spinner=False)
def _per_layer(key: tuple, column: str, log: bool, legend: bool, group: str, size: int,
               _profile: Profile) -> go.Figure:
    """One per-layer chart, built once per server (``key`` identifies the analysis)."""
    return house(charts.per_layer(_profile, column, log, legend, group), size)


def charts_view(profile: Profile, key: tuple) -> None:
    left, right = st.columns(2)
    with left:
        log = query_select("Scale", ["linear", "log"], "scale", radio=True,
                           horizontal=True) == "log"
    with right:  # a deep net's 500 hairlines read better as its blocks or stages
        groups = [g for g in charts.GROUPS if g != "block" or "blocks" in graph.details(profile)]
        group = query_select("Bars", groups, "bars", radio=True, horizontal=True,
                             default="layer" if len(profile.layers) <= 150 else groups[1],
                             format_func=charts.GROUPS.get)
    ops = "flops" if profile.flops else "macs"
    for i, (col, column) in enumerate(zip(st.columns(3), ("memory_bytes", "params", ops),
                                          strict=True)):
        with col:
            show_shared(_per_layer(key, column, log, i == 0, group, font_size(), profile),
                        key=f"chart-{column}")
    for sentence in insights.sentences(profile):
        st.markdown(f"- {sentence}")


def memory_view(profile: Profile) -> None:
    a, b = st.columns(2)
    with a:
        batch = query_int("Batch size", "batch", 128, 1, 4096, slider=False)
    with b:
        optimizer = query_select("Optimizer", list(OPTIMIZERS), "optimizer",
                                 default="sgd_momentum", format_func=OPTIMIZERS.get)
    table = insights.training_memory(profile, batch, optimizer)
    st.dataframe(table, hide_index=True)
    show(px.bar(table[table["part"] != "total"], x="part", y="bytes",
                title=f"Training memory, batch {batch}"), key="memory")


def views(profile: Profile, key: tuple, network: str,
          extra: dict[str, tuple[str, Callable[[], None]]] | None = None) -> None:
    """Totals, then the view chosen in ``?view=`` (graph, table, charts, memory, extras).

    ``key`` identifies the analysis for caches; ``network`` the network itself (a zoo name,
    or a spec's text), whose change resets settings that belong to one network."""
    extra = extra or {}
    totals(profile)
    names = {**VIEWS, **{k: title for k, (title, _) in extra.items()}}
    view = query_select("View", list(names), "view", format_func=names.get, radio=True,
                        horizontal=True, label_visibility="collapsed")
    if view == "graph":
        graph_view(profile, key, network)
    elif view == "table":
        table_view(profile)
    elif view == "charts":
        charts_view(profile, key)
    elif view == "memory":
        memory_view(profile)
    else:
        extra[view][1]()
    if profile.warnings:
        with st.expander(f"{len(profile.warnings)} remark(s) on this network at this input"):
            for warning in profile.warnings:
                st.markdown(f"- {plain(warning)}")
    with st.expander("How these numbers are counted"):
        st.markdown(CONVENTIONS)
