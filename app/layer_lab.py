"""Layer lab: one layer's arithmetic, and what the classic networks' design tricks save.

Sections: convolution arithmetic (with a drawing of the filter's positions), max pooling,
1x1 convolution, and three cost calculators (Inception's 1x1 reduction, ResNet's bottleneck,
VGG's stacked 3x3 convs). Every setting lives in the URL, so a teacher can link to a case:
``/layer-lab?section=conv&n=7&f=3&s=3&p=0`` opens the slides' stride that does not fit.
Every number comes from :mod:`cnnlib.layer_lab`; this page only lays it out.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from app.style import is_classroom, metrics, show
from app.widgets import plain, query_int, query_select
from cnnlib import layer_lab
from cnnlib.errors import CnnlibError
from cnnlib.formulas import short

SECTIONS = {"conv": "Convolution arithmetic", "pool": "Max pooling", "1x1": "1x1 convolution",
            "inception": "Inception: 1x1 reduction", "bottleneck": "ResNet bottleneck",
            "stack": "Stacked 3x3 vs one big conv"}
#: Drawing colours of the cell kinds (layer_lab.CELL_KINDS order): padding, input, uncovered.
CELL_COLOURS = ("#d9d9d9", "#c6dbef", "#fb6a4a")
#: Window colours for pooling: (the window's cells, its winner), colour-blind safe pairs.
WINDOW_COLOURS = (("#c6dbef", "#08519c"), ("#fdd0a2", "#a63603"), ("#c7e9c0", "#006d2c"),
                  ("#dadaeb", "#54278f"), ("#fcbba1", "#a50f15"), ("#d9d9d9", "#252525"))
#: Largest padded grid that is drawn cell by cell (beyond it the cells are specks).
MAX_DRAWN = 64
#: Outlined filter positions on the drawing (the first row's), so overlaps stay readable.
MAX_OUTLINED = 8
#: Inception inputs in the URL, by layer_lab.inception_cost's argument names.
INCEPTION_KEYS: dict[Literal["h", "c_in", "c_out", "reduce"], str] = {
    "h": "inc_h", "c_in": "inc_cin", "c_out": "inc_cout", "reduce": "inc_reduce"}


def formulas_list(explain: dict[str, str], keys: tuple[str, ...]) -> None:
    """The formulas filled in, one line per quantity, as code (markdown would eat the '*')."""
    st.markdown("\n".join(f"- **{k.replace('_', ' ')}**: `{explain[k]}`"
                          for k in keys if k in explain))


def grid_figure(arith: layer_lab.ConvArithmetic) -> go.Figure:
    """The padded input, the first row's filter positions outlined, every output as a dot."""
    grid = arith.grid()
    small = grid.padded <= 24  # cell numbers, gaps and big dots only where they stay legible
    kinds = [[layer_lab.CELL_KINDS[c] for c in row] for row in grid.cells]
    scale = [[0.0, CELL_COLOURS[0]], [0.33, CELL_COLOURS[0]], [0.33, CELL_COLOURS[1]],
             [0.67, CELL_COLOURS[1]], [0.67, CELL_COLOURS[2]], [1.0, CELL_COLOURS[2]]]
    fig = go.Figure(go.Heatmap(z=grid.cells, zmin=0, zmax=2, colorscale=scale, showscale=False,
                               xgap=2 if small else 1, ygap=2 if small else 1,
                               customdata=kinds,
                               hovertemplate="row %{y}, column %{x}: %{customdata}<extra></extra>"))
    for kind, colour in zip(layer_lab.CELL_KINDS, CELL_COLOURS, strict=True):
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=kind,
                                 marker={"symbol": "square", "size": 14, "color": colour}))
    palette = px.colors.qualitative.Bold
    first_row = grid.windows[grid.windows["out_row"] == 0].head(MAX_OUTLINED)
    for (_, w), colour in zip(first_row.iterrows(), palette, strict=False):
        fig.add_shape(type="rect", x0=w["x0"], y0=w["y0"], x1=w["x1"], y1=w["y1"],
                      line={"color": colour, "width": 4})
    labelled = len(grid.windows) <= 100
    fig.add_trace(go.Scatter(
        x=grid.windows["centre_x"], y=grid.windows["centre_y"], name="output position",
        mode="markers+text" if labelled else "markers", text=grid.windows["label"],
        textposition="top center", marker={"size": 9 if small else 4, "color": "#111"},
        customdata=grid.windows[["out_row", "out_col", "top", "left"]],
        hovertemplate="output (%{customdata[0]}, %{customdata[1]}): filter's top-left at row "
                      "%{customdata[2]}, column %{customdata[3]}<extra></extra>"))
    fig.update_xaxes(side="top", showgrid=False, zeroline=False, constrain="domain",
                     dtick=1 if small else None)
    fig.update_yaxes(autorange="reversed", showgrid=False, zeroline=False, scaleanchor="x",
                     constrain="domain", dtick=1 if small else None)
    fig.update_layout(height=520, legend={"orientation": "h", "y": -0.02, "title": None})
    return fig


def number_row(*fields: tuple[str, str, int, int, int]) -> list[int]:
    """A row of whole-number inputs mirrored in the URL, each ``(label, key, default, min,
    max)``, in six columns so that every section's settings line up."""
    values = []
    columns = st.columns(3 if is_classroom() else 6)  # classroom: half the width, two rows
    columns = columns * 2
    for col, (label, key, default, low, high) in zip(columns, fields, strict=False):
        with col:
            values.append(query_int(label, key, default, low, high, slider=False))
    return values


def conv_section() -> None:
    st.caption("K filters of F x F x D slide over an N x N x D input with stride S, after P "
               "rows and columns of zeros are added on each side.")
    # in classroom mode the drawing sits beside the numbers, so it is on the first screen
    numbers, drawing = st.columns([2, 3]) if is_classroom() else (st.container(),) * 2
    with numbers:
        arith = conv_numbers()
    if arith is None or arith.padded > MAX_DRAWN:
        return
    with drawing:
        padded = f"padded to {arith.padded}x{arith.padded}" if arith.p else "no padding"
        st.markdown(f"**The {arith.f}x{arith.f} filter's positions with stride {arith.s} on the "
                    f"{arith.n}x{arith.n} input ({padded}); rows and columns numbered on the "
                    "padded grid**")
        show(grid_figure(arith), key="conv-grid")
        st.caption("Outlined: the filter's positions along the first row. Each dot is one "
                   "output value, at the centre of the window it is computed from, numbered in "
                   "reading order. Red cells are input that no position covers.")


def conv_numbers() -> layer_lab.ConvArithmetic | None:
    """The settings, the three numbers, whether the stride fits, and the formulas; None
    when the settings are not a valid layer (the message is shown)."""
    n, f, s, p, k, d = number_row(
        ("N (input size)", "n", 7, 1, 256), ("F (filter size)", "f", 3, 1, 32),
        ("S (stride)", "s", 2, 1, 16), ("P (padding)", "p", 0, 0, 16),
        ("K (filters)", "k", 2, 1, 4096), ("D (input depth)", "d", 3, 1, 4096))
    try:
        arith = layer_lab.conv_arithmetic(n, f, s, p, k, d)
    except CnnlibError as exc:
        st.error(plain(str(exc)))
        return None
    metrics([("Output", f"{arith.out} x {arith.out} x {arith.k}", None),
             ("Parameters (with biases)", f"{arith.params:,}", None),
             ("Multiply-adds", short(arith.macs), f"{arith.macs:,} MACs")], border=True)
    text = plain(arith.fit.text)
    if not arith.fits:
        st.warning(text, icon=":material/warning:")
    elif arith.fit.uncovered:
        st.info(text)
    else:
        st.success(text)
    formulas_list(arith.explain, ("output_size", "params", "macs"))
    if arith.padded > MAX_DRAWN:
        st.info(f"The {arith.padded}x{arith.padded} padded grid is too large to draw cell by "
                f"cell; choose N + 2P up to {MAX_DRAWN} to see the filter's positions.")
    return arith


def pool_styles(values: pd.DataFrame, colour_of: list[list[int]], winner: list[list[bool]]
                ) -> pd.DataFrame:
    """CSS per cell: the window's light colour, its winner in the dark one (bold, white)."""
    css = []
    for colours, wins in zip(colour_of, winner, strict=True):
        row = []
        for index, won in zip(colours, wins, strict=True):
            if index < 0:
                row.append("")
                continue
            light, dark = WINDOW_COLOURS[index % len(WINDOW_COLOURS)]
            row.append(f"background-color: {dark}; color: white; font-weight: bold" if won
                       else f"background-color: {light}; color: black")
        css.append(row)
    return pd.DataFrame(css, index=values.index, columns=values.columns)


def pool_section() -> None:
    st.caption("Max pooling keeps the largest value of each window: no weights, the depth "
               "unchanged. The slides' example: 2x2 filters with stride 2.")
    kernel, stride = number_row(("Window", "pool_k", 2, 1, 4), ("Stride", "pool_s", 2, 1, 4))
    try:
        pooled = layer_lab.max_pool_example(kernel=kernel, stride=stride)
    except CnnlibError as exc:
        st.error(plain(str(exc)))
        return
    rows, columns = pooled.output.shape
    source = pd.DataFrame(pooled.input)
    result = pd.DataFrame(pooled.output)
    a, b = st.columns(2)
    with a:
        st.subheader(f"Input {pooled.input.shape[0]}x{pooled.input.shape[1]}")
        st.table(source.style.apply(lambda v: pool_styles(v, pooled.window_of.tolist(),
                                                          (pooled.winner_of >= 0).tolist()),
                                    axis=None))
    with b:
        st.subheader(f"Output {rows}x{columns}")
        st.table(result.style.apply(lambda v: pool_styles(v, pooled.winner_window.tolist(),
                                                          (pooled.output_index >= 0).tolist()),
                                    axis=None))
    st.caption("Each window has its own colour; its largest value (dark) is the output cell of "
               "the same colour."
               + (" The windows overlap: a cell takes the first window's colour, and an output "
                  "its winner's." if pooled.stride < pooled.kernel else ""))
    formulas_list(pooled.explain, ("output_size", "macs"))


def one_by_one_section() -> None:
    h, c_in, k = number_row(("H (= W)", "nin_h", 6, 1, 256),
                            ("C_in (channels)", "nin_c", 32, 1, 4096),
                            ("K (filters)", "nin_k", 16, 1, 4096))
    nin = layer_lab.one_by_one(h, c_in, k)
    metrics([("Output", f"{nin.h} x {nin.h} x {nin.k}", None),
             ("Parameters (with biases)", f"{nin.params:,}", None),
             ("Multiply-adds", short(nin.macs), f"{nin.macs:,} MACs")], border=True)
    st.info(nin.sentence)
    a, b = st.columns(2)
    with a:
        st.markdown("**The 1x1 convolution**")
        formulas_list(nin.explain, ("output_size", "params", "macs"))
    with b:
        st.markdown(f"**nn.Linear({nin.c_in}, {nin.k}) at each of the {nin.positions} "
                    "positions**")
        formulas_list(nin.linear_explain, ("params", "macs"))


def comparison(cmp: layer_lab.CostComparison, unit: str) -> None:
    """Metrics, the designs' table, their formulas and a bar per design stacked by layer."""
    first, second = cmp.table.to_dict(orient="records")
    metrics([(first["design"], short(first[cmp.quantity]), f"{first[cmp.quantity]:,} {unit}"),
             (second["design"], short(second[cmp.quantity]),
              f"{second[cmp.quantity]:,} {unit}"),
             ("Ratio", f"{cmp.ratio:.1f}x", f"{unit}, first over second")], border=True)
    st.markdown(f"**{cmp.headline}**")
    table = cmp.table.drop(columns="formula").rename(columns={"receptive_field": "RF"})
    st.table(table.style.format({"params": "{:,}", "macs": "{:,}"}), hide_index=True)
    st.markdown("\n".join(f"- **{row.design}**: `{row.formula}`"
                          for row in cmp.table.itertuples()))
    fig = px.bar(cmp.layers, x=cmp.quantity, y="design", color="layer", orientation="h",
                 text=cmp.layers[cmp.quantity].map(layer_lab.short),
                 labels={cmp.quantity: unit, "design": ""},
                 color_discrete_sequence=px.colors.qualitative.Safe)
    fig.update_traces(textposition="inside", insidetextanchor="middle", textangle=0)
    for row in cmp.table.itertuples():
        fig.add_annotation(x=getattr(row, cmp.quantity), y=row.design, showarrow=False,
                           text=f"<b>{short(getattr(row, cmp.quantity))}</b>",
                           xanchor="left", xshift=6)
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=300, uniformtext={"minsize": 10, "mode": "hide"},
                      legend={"orientation": "h", "y": -0.25, "title": None},
                      title=f"{unit.capitalize()} per design, stacked by layer")
    show(fig, key=f"bars-{cmp.quantity}")


def set_inception(example: layer_lab.InceptionExample) -> None:
    for arg, key in INCEPTION_KEYS.items():
        st.session_state[key] = example[arg]
        st.query_params[key] = str(example[arg])


def inception_section() -> None:
    st.caption("GoogLeNet's trick: a cheap 1x1 convolution first shrinks the depth, so the "
               "expensive 5x5 runs on few channels (multiplies counted as the slides do).")
    presets = st.columns(3)
    for col, (name, example) in zip(presets, layer_lab.INCEPTION_EXAMPLES.items(), strict=False):
        col.button(f"Slides: {name}", on_click=set_inception, args=(example,),
                   key=f"preset-{name}")
    default = next(iter(layer_lab.INCEPTION_EXAMPLES.values()))
    labels = {"h": "H (= W)", "c_in": "C_in", "c_out": "C_out (5x5)",
              "reduce": "1x1 reduce to"}
    h, c_in, c_out, reduce = number_row(
        *((labels[arg], key, default[arg], 1, 2048)
          for arg, key in INCEPTION_KEYS.items()))
    comparison(layer_lab.inception_cost(h=h, c_in=c_in, c_out=c_out, reduce=reduce),
               "multiply-adds")


def bottleneck_section() -> None:
    st.caption("ResNet-50/101/152's block: a 1x1 conv shrinks the channels, the 3x3 works on "
               "few, another 1x1 restores them (weights only, no biases, as the slides).")
    channels, width, h = number_row(("Channels", "res_c", 256, 1, 4096),
                                    ("Bottleneck width", "res_w", 64, 1, 4096),
                                    ("H (= W, for the MACs)", "res_h", 56, 1, 512))
    comparison(layer_lab.resnet_bottleneck_cost(channels, width, h), "parameters")


def stack_section() -> None:
    st.caption("VGG's argument: n stacked 3x3 convs see the same patch as one (2n+1)x(2n+1) "
               "conv (receptive fields computed by cnnlib.profile), with fewer weights and "
               "n - 1 more non-linearities. C maps in and out, no biases.")
    channels, n, h = number_row(("C (channels)", "vgg_c", 64, 1, 4096),
                                ("n (stacked 3x3 convs)", "vgg_n", 3, 1, 10),
                                ("H (= W, for the MACs)", "vgg_h", 56, 1, 512))
    comparison(layer_lab.stacked_3x3_cost(channels, n, h), "parameters")


st.title("Layer lab")
section = query_select("Section", list(SECTIONS), "section", default="conv",
                       format_func=SECTIONS.get, radio=True, horizontal=True,
                       label_visibility="collapsed")
try:
    {"conv": conv_section, "pool": pool_section, "1x1": one_by_one_section,
     "inception": inception_section, "bottleneck": bottleneck_section,
     "stack": stack_section}[section]()
except CnnlibError as exc:
    st.error(plain(str(exc)))
