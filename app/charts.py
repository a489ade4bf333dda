"""Plotly figures drawn from cnnlib's plain data (DataFrames): no numbers are made here.

The three per-layer bar charts follow the slides (memory, parameters and multiply-adds per
layer, side by side), with bars coloured by stage, the output resolution, so the pattern the
notes point out shows at a glance: memory in the early high-resolution layers, parameters in
the late fully connected ones.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass

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
#: One hue per family, in catalogue order: the colour-blind-safe palette without its grey
#: (grey means "not a zoo net"), then Bold's orange for the eleventh family (After ResNet).
FAMILY_COLOURS = [c for c in px.colors.qualitative.Safe if c != "rgb(136, 136, 136)"] + [
    "rgb(230, 131, 16)"]


@functools.cache
def _network_colours() -> dict[str, str]:
    """Every zoo model's colour: a hue per family (colour-blind safe), its members from light
    to dark in catalogue order, so that related nets look related and no two share one."""
    names = registry.names()
    families = list(dict.fromkeys(registry.get(n).family for n in names))
    colours = {}
    for family, base in zip(families, FAMILY_COLOURS, strict=False):
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
    keeps its own name. A block whose rows reach into the next module (Swin's last block of
    a stage takes the patch merging's slicing, so they share only "features") is named by
    its first row's module instead, as a name two blocks share would make one bar of both."""
    names = list(profile.layers["name"])
    ids = graph.row_groups(profile, "blocks")
    rows: dict[str, list[list[str]]] = {}
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
    shared = Counter(label.values())
    for node, paths in rows.items():
        if node.startswith("b") and (shared[label[node]] > 1 or label[node] == ".".join(
                paths[0])):
            label[node] = ".".join(paths[0][:-1] or paths[0])
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


#: How the groups of :func:`cnnlib.compare.torchvision_points` are drawn, back to front:
#: torchvision's other nets as light grey context, the zoo's after-ResNet and classic nets
#: in their own colours; only the classics are labelled (hover names every point).
TORCHVISION_GROUPS = {compare.OTHER: {"opacity": 0.45, "labelled": False},
                      compare.AFTER: {"opacity": 0.9, "labelled": False},
                      compare.CLASSIC: {"opacity": 0.9, "labelled": True}}
#: The plot area the label placement assumes, in pixels: Compare's chart on a wide page at
#: 1280x720 (measured on a screenshot). Only used to keep labels apart, so a rough figure does.
_PLOT_PX = (725.0, 435.0)
#: The directions a label may sit in from its bubble, in order of preference.
_DIRECTIONS = [(0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1)]


@dataclass(frozen=True)
class Label:
    """One bubble's label: its offset from the bubble's centre in pixels (x right, y up),
    whether a leader line joins them (a label moved away from a crowd), and its estimated
    box (left, bottom, right, top) in the plot area's pixels."""

    text: str
    dx: float
    dy: float
    leader: bool
    box: tuple[float, float, float, float]


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3])
                                                              - max(a[1], b[1]))


def place_labels(labelled: pd.DataFrame, others: pd.DataFrame, x_range: tuple[float, float],
                 y_range: tuple[float, float], font: int) -> list[Label]:
    """Labels for the rows of ``labelled`` (columns ``x``, ``y``, ``radius`` in pixels,
    ``text``) that keep clear of each other and of the bubbles, in ``labelled``'s order.

    Each label tries the eight places around its bubble, next to it or further out with a
    leader line, and takes the one that covers least: other labels count most, the labelled
    bubbles next, the grey context bubbles of ``others`` least, and a place further out
    costs a little. Greedy from the left, then each label again among all the others, until
    no two labels overlap (three sweeps at most). ``x`` is on a log axis; boxes are
    estimated in pixels of :data:`_PLOT_PX` and the type size ``font``, since the browser's
    layout is not known here."""
    import math

    def centre(x: float, y: float) -> tuple[float, float]:
        return ((math.log10(x) - x_range[0]) / (x_range[1] - x_range[0]) * _PLOT_PX[0],
                (y - y_range[0]) / (y_range[1] - y_range[0]) * _PLOT_PX[1])

    def disc(x: float, y: float, r: float) -> tuple[float, ...]:
        cx, cy = centre(x, y)
        return cx - r, cy - r, cx + r, cy + r

    rows = list(zip(labelled["x"], labelled["y"], labelled["radius"], labelled["text"],
                    strict=True))
    mine = [disc(x, y, r) for x, y, r, _ in rows]
    context = [disc(x, y, r) for x, y, r in zip(others["x"], others["y"], others["radius"],
                                                strict=True)]
    chosen: list[Label | None] = [None] * len(rows)
    order = sorted(range(len(rows)), key=lambda i: rows[i][0])
    for sweep in range(3):
        for i in order:
            x, y, radius, text = rows[i]
            cx, cy = centre(x, y)
            w, h = 0.52 * font * len(text), 1.25 * font
            taken = [c.box for j, c in enumerate(chosen) if j != i and c is not None]
            best: tuple[float, Label] | None = None
            for rank, (far, (ux, uy)) in enumerate((f, d) for f in (False, True)
                                                   for d in _DIRECTIONS):
                reach = radius * (0.7 if ux and uy else 1) + (1.6 * h if far else 2)
                dx, dy = ux * (reach + w / 2), uy * (reach + h / 2)
                box = (cx + dx - w / 2, cy + dy - h / 2, cx + dx + w / 2, cy + dy + h / 2)
                cost = (10 * sum(_overlap(box, t) for t in taken)
                        + sum(_overlap(box, b) for j, b in enumerate(mine) if j != i)
                        + 0.3 * sum(_overlap(box, b) for b in context) + 30 * far + rank)
                if best is None or cost < best[0]:
                    best = (cost, Label(text, dx, dy, far, box))
            assert best is not None  # _DIRECTIONS is not empty
            chosen[i] = best[1]
        labels = [c for c in chosen if c is not None]
        if sweep and not any(_overlap(a.box, b.box) for k, a in enumerate(labels)
                             for b in labels[k + 1:]):
            break
    return [c for c in chosen if c is not None]


def torchvision_labels(points: pd.DataFrame, font: int = 13, size_max: int = 44
                       ) -> tuple[pd.DataFrame, dict[str, list[Label]], float, tuple, tuple]:
    """What :func:`torchvision_bubbles` draws: ``points`` with ``x``, ``y``, ``radius`` (px)
    and ``text``; each labelled group's labels; the marker size reference; the axes' ranges
    (x in log10)."""
    import math

    sizeref = 2.0 * float(points["params"].max()) / size_max**2  # area ~ params
    x_range = (math.log10(points["gmacs"].min()) - 0.15,
               math.log10(points["gmacs"].max()) + 0.15)
    y_range = (float(points["top1"].min()) - 3, float(points["top1"].max()) + 3)
    bubbles = points.assign(x=points["gmacs"], y=points["top1"], text=points["model"],
                            radius=[max(4.0, math.sqrt(p / sizeref)) / 2
                                    for p in points["params"]])
    labels = {group: place_labels(bubbles[bubbles["group"] == group],
                                  bubbles[bubbles["group"] != group], x_range, y_range, font)
              for group, style in TORCHVISION_GROUPS.items() if style["labelled"]}
    return bubbles, labels, sizeref, x_range, y_range


def torchvision_bubbles(points: pd.DataFrame, font: int = 13, size_max: int = 44) -> go.Figure:
    """Top-1 accuracy against operations for every torchvision classifier, bubble area the
    parameters, as Canziani et al. (2017) drew the nets of their day: the classics the zoo
    teaches in their own colours and labelled (torchvision's names, short; hover adds the
    zoo's), a label moved out of a crowd joined to its bubble by a line; the zoo's
    after-ResNet nets in their colours; torchvision's other nets as grey context. Hover gives
    every point's numbers. ``font`` is the type size the labels are placed for.

    The operations span four orders of magnitude (MobileNetV3-Small's 0.06 G to ViT-H/14's
    1,017 G at 518x518), so the axis is logarithmic."""
    import math

    bubbles, labels, sizeref, x_range, y_range = torchvision_labels(points, font, size_max)
    fig = go.Figure()
    for group in TORCHVISION_GROUPS:
        rows = bubbles[bubbles["group"] == group]
        if rows.empty:
            continue
        zoo = [z.split(", ")[0] for z in rows["zoo"]]  # the zoo's name for it, if any
        colours = ["#b8b8b8" if group == compare.OTHER else network_colour(z) for z in zoo]
        names = [f"{m} (zoo: {z})" if z else m for m, z in zip(rows["model"], rows["zoo"],
                                                                strict=True)]
        fig.add_trace(go.Scatter(
            x=rows["gmacs"], y=rows["top1"], name=group, mode="markers", cliponaxis=False,
            marker={"size": list(rows["params"]), "sizemode": "area", "sizeref": sizeref,
                    "sizemin": 4, "color": colours,
                    "opacity": TORCHVISION_GROUPS[group]["opacity"],
                    "line": {"color": "#222" if group != compare.OTHER else "#777",
                             "width": 1}},
            customdata=list(zip(names, rows["top5"], rows["params"], rows["crop"],
                                rows["weights"], strict=True)),
            hovertemplate="<b>%{customdata[0]}</b><br>top-1 %{y:.2f}%, top-5 "
                          "%{customdata[1]:.2f}%<br>%{x:.3f} G multiply-adds at "
                          "%{customdata[3]}x%{customdata[3]}<br>%{customdata[2]:,} parameters"
                          "<br>%{customdata[4]}<extra></extra>"))
        for label, x, y, radius in zip(labels.get(group, []), rows["x"], rows["y"],
                                       rows["radius"], strict=False):
            at = {"x": math.log10(x), "y": y, "text": label.text, "name": group}
            if label.leader:  # the text sits at the line's tail, the head at the bubble
                fig.add_annotation(**at, ax=label.dx, ay=-label.dy, showarrow=True,
                                   arrowhead=0, arrowwidth=1, arrowcolor="#555",
                                   standoff=radius)
            else:
                fig.add_annotation(**at, showarrow=False, xshift=label.dx, yshift=label.dy,
                                   xanchor="center", yanchor="middle")
    fig.update_xaxes(type="log", range=list(x_range),
                     title="G multiply-adds per image (torchvision's 'GFLOPS'), log scale")
    fig.update_yaxes(range=list(y_range), title="ImageNet top-1 accuracy (%)")
    fig.update_layout(
        height=560, title="Every torchvision classifier: accuracy against operations; "
                          "bubble area: parameters",
        legend={"x": 1, "xanchor": "right", "y": 0, "yanchor": "bottom", "title": None,
                "bgcolor": "rgba(255,255,255,0.85)", "itemsizing": "constant"})
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
