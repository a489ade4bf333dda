"""Plotly figures drawn from cnnlib's plain data (DataFrames): no numbers are made here.

The three per-layer bar charts follow the slides (memory, parameters and multiply-adds per
layer, side by side), with bars coloured by stage, the output resolution, so the pattern the
notes point out shows at a glance: memory in the early high-resolution layers, parameters in
the late fully connected ones.
"""

from __future__ import annotations

import functools

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.colors import unlabel_rgb

from cnnlib import compare, graph, insights, visualize
from cnnlib.analysis import Profile
from cnnlib.models import registry

#: Stage colours, in order of appearance (colour-blind safe, readable on a projector).
STAGE_COLOURS = px.colors.qualitative.Safe + px.colors.qualitative.Bold
#: What is not one of the zoo's networks: the shallow ILSVRC winners, a design being built.
OTHER_COLOUR = "#888888"


@functools.cache
def _network_colours() -> dict[str, str]:
    """Every zoo model's colour: a hue per family (colour-blind safe), its members from light
    to dark in catalogue order, so that related nets look related and no two share one."""
    names = registry.names()
    families = list(dict.fromkeys(registry.get(n).family for n in names))
    colours = {}
    for family, base in zip(families, px.colors.qualitative.Safe, strict=False):
        members = [n for n in names if registry.get(n).family == family]
        r, g, b = unlabel_rgb(base)
        for i, name in enumerate(members):
            # 0.75 (lighter) .. 1.25 (darker) around the base: darker for later members
            t = 0.5 if len(members) == 1 else i / (len(members) - 1)
            mix = (t - 0.5) * 0.9
            if mix < 0:  # towards white
                rgb = [c + (255 - c) * -mix for c in (r, g, b)]
            else:  # towards black
                rgb = [c * (1 - mix) for c in (r, g, b)]
            colours[name] = "#" + "".join(f"{round(c):02x}" for c in rgb)
    return colours


def network_colour(name: str | None) -> str:
    """The one colour of network ``name`` on every chart of the app (grey for anything that is
    not a zoo model)."""
    return _network_colours().get(name or "", OTHER_COLOUR)

#: What each per-layer chart plots: column -> (title, what is counted, key of the
#: layer's formula in Profile.explain).
PER_LAYER = {"memory_bytes": ("Activation memory", "bytes", "memory"),
             "params": ("Parameters", "parameters", "params"),
             "macs": ("Multiply-adds", "multiply-adds", "macs"),
             "flops": ("FLOPs", "FLOPs", "macs")}
#: How the bars of a per-layer chart are grouped: one per layer, per block, per stage.
GROUPS = {"layer": "per layer", "block": "per block", "stage": "per stage"}


def axis_unit(column: str, largest: float) -> tuple[float, str]:
    """The divisor and unit that the headline metrics use for ``column``'s values (MB with
    KB = 1024 for bytes as :func:`cnnlib.formulas.human_bytes`, G/M/K for counts as
    :func:`cnnlib.formulas.short`), chosen by the largest bar."""
    steps = ((1024**3, "GB"), (1024**2, "MB"), (1024, "KB"), (1, "B")) if column == \
        "memory_bytes" else ((10**9, "G"), (10**6, "M"), (10**3, "K"), (1, ""))
    return next((scale, unit) for scale, unit in steps if largest >= scale or scale == 1)


def _block_names(profile: Profile) -> pd.Series:
    """Each row's block as the graph draws it at "blocks", named by its module path
    ("layer1.0", "inception3a"): the dotted prefix its rows share; a row outside any block
    keeps its own name."""
    names = list(profile.layers["name"])
    ids = graph.row_groups(profile, "blocks")
    rows: dict[str, list[str]] = {}
    for node, name in zip(ids, names, strict=True):
        rows.setdefault(node, []).append(name.split("."))
    label = {}
    for node, paths in rows.items():
        common = []
        for parts in zip(*paths, strict=False):
            if len(set(parts)) > 1:
                break
            common.append(parts[0])
        label[node] = ".".join(common) if node.startswith("b") and common else \
            ".".join(paths[0])
    return pd.Series([label[node] for node in ids], index=profile.layers.index)


def per_layer(profile: Profile, column: str, log: bool = False, legend: bool = True,
              group: str = "layer") -> go.Figure:
    """Bars in network order, coloured by stage (named as the paper names it, e.g.
    "conv2_x (56x56)"), outlined so that a thin bar of a deep net still shows: one per layer
    with a non-zero ``column``, or the sums per block or per stage (``group``).

    The axis is in the headline metrics' unit (MB, G multiply-adds...). Hovering a layer's
    bar gives its formula filled in ("fc6: 25088*4096 + 4096 = 102,764,544"). Layers that
    write into their input (in-place ReLU) are still shown with their output size, as the
    slides' tables list them. Several charts share their stage colours, so only one needs
    the ``legend``.
    """
    title, counted, key = PER_LAYER[column]
    labels = insights.stage_labels(profile)
    layers = profile.layers.assign(stage=profile.layers["stage"].map(labels),
                                   row=range(len(profile.layers)))
    shown = layers[layers[column] > 0]
    if group == "layer":
        bars = shown.assign(x=shown["name"], hover=[
            f"{name}: {profile.explain(row).get(key, '')}"
            for name, row in zip(shown["name"], shown["row"], strict=True)])
    else:
        by = shown["stage"] if group == "stage" else _block_names(profile).iloc[shown["row"]]
        bars = (shown.assign(x=by).groupby("x", sort=False)
                .agg(**{column: (column, "sum"), "stage": ("stage", "first"),
                        "n": ("name", "size")}).reset_index())
        bars["hover"] = [f"{x}: {n} layer(s), {v:,} {counted}"
                         for x, n, v in zip(bars["x"], bars["n"], bars[column], strict=True)]
    scale, unit = axis_unit(column, float(bars[column].max()) if len(bars) else 1.0)
    bars = bars.assign(value=bars[column] / scale)
    stages = list(dict.fromkeys(layers["stage"]))
    fig = px.bar(bars, x="x", y="value", color="stage", log_y=log, title=title,
                 category_orders={"x": list(bars["x"]), "stage": stages},
                 color_discrete_sequence=STAGE_COLOURS, custom_data=["hover"])
    fig.update_traces(marker_line={"color": "#222", "width": 0.6 if len(bars) > 60 else 1},
                      hovertemplate="%{customdata[0]}<extra></extra>")
    fig.update_xaxes(showticklabels=group != "layer", title=f"{GROUPS[group]}, input to output"
                     if group == "layer" else None, tickangle=-45 if group != "layer" else 0)
    fig.update_yaxes(title=f"{unit} {counted}".strip() if column != "memory_bytes" else unit)
    fig.update_layout(bargap=0.1 if len(bars) > 20 else 0.25, showlegend=legend,
                      legend={"orientation": "h", "yanchor": "top", "y": -0.22, "title": None})
    return fig


def grouped(table: pd.DataFrame, columns: dict[str, str], log: bool = False) -> go.Figure:
    """Models side by side for several quantities: one panel per ``columns`` entry
    (column -> title), since params, MACs and memory have unrelated units."""
    long = table.melt(id_vars="model", value_vars=list(columns), var_name="quantity")
    long["quantity"] = long["quantity"].map(columns)
    fig = px.bar(long, x="model", y="value", color="model", facet_col="quantity",
                 facet_col_wrap=2, log_y=log, facet_row_spacing=0.15,
                 color_discrete_map={n: network_colour(n) for n in table["model"]})
    fig.update_traces(marker_line={"color": "#222", "width": 1})
    fig.update_yaxes(matches=None, showticklabels=True, title=None)
    fig.update_xaxes(title=None, showticklabels=False)
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    fig.update_layout(height=620, legend={"orientation": "h", "y": -0.05, "title": None})
    return fig


#: Marker of each way an accuracy was measured (shape as well as the legend: not colour).
MEASURED_SYMBOLS = {compare.SINGLE_MODEL: "circle", compare.ILSVRC_ENTRY: "diamond"}


def accuracy_bubbles(points: pd.DataFrame) -> go.Figure:
    """Top-5 accuracy against our multiply-adds, bubble area the parameters, the network's own
    colour, and the marker saying how the accuracy was measured (a single model on val, or an
    ILSVRC ensemble entry on test), explained in the legend."""
    fig = px.scatter(points, x="gmacs", y="top5", size="params", color="model",
                     symbol="measured", symbol_map=MEASURED_SYMBOLS, text="model",
                     size_max=60, color_discrete_map={n: network_colour(n)
                                                      for n in points["model"]},
                     labels={"gmacs": "G multiply-adds per image (ours)",
                             "top5": "ImageNet top-5 accuracy (%)", "measured": "measured"},
                     title="Accuracy against operations; bubble area: parameters",
                     hover_data={"params": ":,", "gmacs": ":.2f", "source": True})
    # labels may sit above the plot area (the top bubble's): drawn there, not cut off
    fig.update_traces(textposition="top center", marker_line={"color": "#222", "width": 1},
                      showlegend=False, cliponaxis=False)
    # the legend explains the markers only (the labels name the models), in a neutral grey
    for kind, symbol in MEASURED_SYMBOLS.items():
        if kind in set(points["measured"]):
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=kind,
                                     marker={"symbol": symbol, "size": 14, "color": "#777",
                                             "line": {"color": "#222", "width": 1}}))
    fig.update_layout(legend={"x": 1, "xanchor": "right", "y": 0, "yanchor": "bottom",
                              "title": None, "bgcolor": "rgba(255,255,255,0.85)"})
    return fig


def ilsvrc_history(history: pd.DataFrame, human: float) -> tuple[go.Figure, go.Figure]:
    """The classic figure: one bar per entry (2014's two side by side, never stacked), the
    shallow winners before CNNs in grey, the human error as a line; and the depth of each
    entry, "shallow" written where there are no layers to count."""
    colours = [network_colour(m if isinstance(m, str) else None) for m in history["model"]]
    ticks = {"tickvals": list(history["entry"]), "tickangle": 0,
             "ticktext": [f"{y}<br>{n}" for y, n in zip(history["year"], history["network"],
                                                         strict=True)]}
    bars = {"x": history["entry"], "marker_color": colours, "textposition": "outside",
            "marker_line": {"color": "#222", "width": 1}, "cliponaxis": False,
            "textangle": 0, "showlegend": False}
    error = go.Figure(go.Bar(y=history["top5_error_percent"],
                             text=[f"{e:g}%" for e in history["top5_error_percent"]],
                             hovertemplate="%{x}: %{y}% top-5 error<extra></extra>", **bars))
    error.add_trace(go.Scatter(  # a trace, not a shape: its label sits in the legend
        x=list(history["entry"]), y=[human] * len(history), mode="lines",
        line={"dash": "dash", "color": "#000", "width": 2}, name=f"human: about {human}%",
        hovertemplate=f"human top-5 error: about {human}%<extra></extra>"))
    error.update_layout(title="ILSVRC classification: top-5 error of the winners",
                        yaxis_title="top-5 error (%)", xaxis=ticks,
                        legend={"x": 1, "xanchor": "right", "y": 1, "title": None})
    depth = history["depth"].astype(float)
    layers = go.Figure(go.Bar(
        y=depth.fillna(0), text=[f"{int(d)}" if d == d else "shallow" for d in depth],
        hovertemplate="%{x}: %{text} weight layers<extra></extra>", **bars))
    layers.update_layout(title="Depth of the winners (weight layers, ours)",
                         yaxis_title="weight layers", xaxis=ticks)
    return error, layers


#: Colours of the classes on an occlusion map: colour-blind safe, in order of appearance.
CLASS_COLOURS = px.colors.qualitative.Safe


def occlusion_classes(frames: visualize.OcclusionFrames) -> go.Figure:
    """The most probable class with the square at each place: one colour per class (a
    colour-blind-safe palette, not a rainbow), a legend from colour to class, and the class
    name written in each cell so that no reading depends on colour alone."""
    names = list(dict.fromkeys(frames.class_names.flatten()))  # the order of class_codes
    k = len(names)
    colours = [CLASS_COLOURS[i % len(CLASS_COLOURS)] for i in range(k)]
    # a stepped scale: code i fills [i/k, (i+1)/k] with its own colour
    scale = [[edge / k, colours[min(i, k - 1)]] for i in range(k) for edge in (i, i + 1)]
    fig = go.Figure(go.Heatmap(
        z=frames.class_codes, x=frames.xs, y=frames.ys, text=frames.class_names,
        texttemplate="%{text}", hovertemplate="square at (%{x}, %{y}) px: %{text}"
                                              "<extra></extra>",
        colorscale=scale, zmin=-0.5, zmax=k - 0.5,
        colorbar={"title": "class", "tickvals": list(range(k)), "ticktext": names,
                  "len": 1}))
    fig.update_yaxes(autorange="reversed", title="square's top (px)", scaleanchor="x")
    fig.update_xaxes(title="square's left (px)")
    fig.update_layout(title="Most probable class with the square there")
    return fig
