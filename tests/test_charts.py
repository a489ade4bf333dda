"""The dashboard's figures: what a student reads off them, checked on the plotly objects."""

from __future__ import annotations

import pytest

import cnnlib
from app import charts
from cnnlib import compare, graph
from cnnlib.models import registry


def test_history_has_one_bar_per_entry_and_the_human_line() -> None:
    """2014's VGG (7.3%) and GoogLeNet (6.7%) are two bars, not one 14% stack."""
    history = compare.ilsvrc_history()
    error, depth = charts.ilsvrc_history(history, 5.1)
    for fig in (error, depth):
        bars = [t for t in fig.data if t.type == "bar"]
        assert len(bars) == 1 and fig.layout.barmode in (None, "group")
        assert list(bars[0].x) == list(history["entry"])  # one category per entry
    assert list(error.data[0].y) == [28.2, 25.8, 16.4, 11.7, 7.3, 6.7, 3.57]
    assert max(error.data[0].y) < 30  # nothing adds up to 14% or 41 layers
    human = [t for t in error.data if t.type == "scatter"]
    assert len(human) == 1 and set(human[0].y) == {5.1} and "5.1%" in human[0].name
    assert list(depth.data[0].text) == ["shallow", "shallow", "8", "8", "19", "22", "152"]
    assert max(depth.data[0].y) == 152


def test_accuracy_markers_tell_single_models_from_ilsvrc_entries() -> None:
    points = compare.accuracy_vs_ops(["alexnet", "alexnet_original", "vgg16"])
    fig = charts.accuracy_bubbles(points)
    symbol = {t.text[0]: t.marker.symbol for t in fig.data if t.text is not None}
    assert symbol == {"alexnet": "circle", "alexnet_original": "diamond", "vgg16": "circle"}
    legend = [t.name for t in fig.data if t.showlegend is not False]
    assert legend == [compare.SINGLE_MODEL, compare.ILSVRC_ENTRY]
    colour = {t.text[0]: t.marker.color for t in fig.data if t.text is not None}
    assert colour["vgg16"] == charts.network_colour("vgg16")
    # the top bubble's name sits above the plot area: drawn, not cut off
    assert all(t.cliponaxis is False for t in fig.data if t.text is not None)


def test_one_colour_per_network() -> None:
    """Every zoo model has its own colour, the same on every chart that draws it."""
    colours = [charts.network_colour(n) for n in registry.names()]
    assert len(set(colours)) == len(colours)
    assert charts.OTHER_COLOUR not in colours
    families = {registry.get(n).family for n in registry.names()}
    assert len(charts.FAMILY_COLOURS) >= len(families)  # none left without a hue
    greys = [c for c in colours if c[1:3] == c[3:5] == c[5:7]]
    assert not greys, greys  # grey is for what is not a zoo net
    table = compare.compare_table(["vgg16", "resnet50"])
    grouped = charts.grouped(table, {"params": "parameters"})
    assert {t.name: t.marker.color for t in grouped.data} == {
        "vgg16": charts.network_colour("vgg16"), "resnet50": charts.network_colour("resnet50")}
    history = compare.ilsvrc_history()
    error, _ = charts.ilsvrc_history(history, 5.1)
    vgg = list(history["entry"]).index("2014 VGG")
    assert error.data[0].marker.color[vgg] == charts.network_colour("vgg19")
    assert error.data[0].marker.color[0] == charts.OTHER_COLOUR  # NEC-UIUC: not a zoo net


def test_occlusion_class_map_names_its_classes() -> None:
    """The cells show class names as text (not formatted as numbers, which gave "NaN"), and a
    colour bar maps each colour to its class, in a colour-blind-safe palette."""
    import numpy as np

    from cnnlib import visualize

    top = np.array([[3, 3, 7], [7, 9, 3]])
    occ = visualize.OcclusionMap(probability=np.zeros((2, 3)), top_class=top, baseline=0.5,
                                 window=8, stride=4, target=3)
    frames = visualize.occlusion_frames(occ, [f"name{i}" for i in range(10)])
    fig = charts.occlusion_classes(frames)
    heat = fig.data[0]
    assert heat.texttemplate == "%{text}"  # a string, shown as it is
    assert heat.text.tolist() == [["name3", "name3", "name7"], ["name7", "name9", "name3"]]
    assert list(heat.colorbar.ticktext) == ["name3", "name7", "name9"]
    assert list(heat.colorbar.tickvals) == [0, 1, 2]
    # code i (z = i, on a scale from -0.5 to k - 0.5) falls in the band [i/k, (i+1)/k]: one
    # palette colour per class, none shared
    assert (heat.zmin, heat.zmax) == (-0.5, 2.5)
    for i in range(3):
        low, high = heat.colorscale[2 * i], heat.colorscale[2 * i + 1]
        assert (low[0], high[0]) == (i / 3, (i + 1) / 3)
        assert low[1] == high[1] == charts.CLASS_COLOURS[i]
    assert "turbo" not in str(heat.colorscale).lower()


def test_per_layer_charts_read_on_a_projector() -> None:
    """Units as the headline metrics (M parameters, G multiply-adds, MB), outlined bars, the
    layer's formula on hover, and a per-stage view with the paper's stage names whose bars
    add up to the network's totals."""
    import cnnlib
    from cnnlib.formulas import short

    vgg = cnnlib.profile("vgg16")
    params = charts.per_layer(vgg, "params")
    assert params.layout.yaxis.title.text == "M parameters"
    assert all(t.marker.line.width > 0 for t in params.data)
    hover = [h for t in params.data for h in t.customdata[:, 0]]
    assert "classifier.0: 25088*4096 + 4096 = 102,764,544" in hover
    top = max(v for t in params.data for v in t.y)
    assert f"{top:.1f}M" == short(102_764_544)  # the axis in the metric's unit
    assert charts.per_layer(vgg, "macs").layout.yaxis.title.text == "G multiply-adds"
    assert charts.per_layer(vgg, "memory_bytes").layout.yaxis.title.text == "MB"

    resnet = cnnlib.profile("resnet50")
    stages = charts.per_layer(resnet, "macs", group="stage")
    x = [v for t in stages.data for v in t.x]
    assert x[:5] == ["conv1 (112x112)", "conv2_x (56x56)", "conv3_x (28x28)",
                     "conv4_x (14x14)", "conv5_x (7x7)"]
    total = sum(v for t in stages.data for v in t.y) * 1e9
    assert round(total) == resnet.totals["macs"]
    blocks = charts.per_layer(resnet, "params", group="block")
    names = [v for t in blocks.data for v in t.x]
    assert names == ["conv1", *(f"layer{s}.{b}" for s, n in enumerate((3, 4, 6, 3), 1)
                                for b in range(n)), "fc"]  # the stem, 16 bottlenecks, fc
    assert round(sum(v for t in blocks.data for v in t.y) * 1e6) == resnet.totals["params"]


def test_every_torchvision_classifier_is_a_bubble_and_only_the_classics_are_labelled() -> None:
    """Canziani et al.'s chart over all of torchvision: every point plotted (hover names it),
    the zoo's classics labelled in their own colours, bubble area the parameters, the
    operations on a log axis; labels keep clear of each other at 1280x720."""
    points = compare.torchvision_points()
    fig = charts.torchvision_bubbles(points)
    traces = {t.name: t for t in fig.data}
    assert list(traces) == [compare.OTHER, compare.AFTER, compare.CLASSIC]
    assert sum(len(t.x) for t in fig.data) == len(points)
    classics = points[points["group"] == compare.CLASSIC]
    assert [a.text for a in fig.layout.annotations] == list(classics["model"])
    assert {a.name for a in fig.layout.annotations} == {compare.CLASSIC}
    classic = traces[compare.CLASSIC]
    assert list(classic.marker.color) == [charts.network_colour(z) for z in classics["zoo"]]
    assert classic.marker.sizemode == "area" and list(classic.marker.size) == list(
        classics["params"])
    assert fig.layout.xaxis.type == "log"
    hover = {c[0] for t in fig.data for c in t.customdata}
    assert "resnet50 (zoo: resnet50_v1_5)" in hover and "squeezenet1_0" in hover
    # by the placement's own estimate at 1280x720, no two labels overlap, at either type size
    for font in (13, 20):
        labels = charts.torchvision_labels(points, font)[1][compare.CLASSIC]
        assert [label.text for label in labels] == list(classics["model"])
        for i, a in enumerate(labels):
            for b in labels[i + 1:]:
                assert charts._overlap(a.box, b.box) == 0, (font, a, b)


@pytest.mark.parametrize("name", ["swin_t", "vit_b_16", "densenet121", "resnet50", "googlenet"])
def test_per_block_bars_are_the_graphs_blocks_one_each(name: str) -> None:
    """One bar per block the graph draws, named by its module: Swin's last block of a stage
    (whose rows reach into the patch merging) once shared the name 'features' with the other
    stages' last blocks, and their four blocks became one bar."""
    profile = cnnlib.profile(name)
    names = charts._block_names(profile)
    nodes = graph.row_groups(profile, "blocks")
    assert len(set(zip(nodes, names, strict=True))) == len(set(nodes)) == len(set(names))
    if name == "swin_t":
        figure = charts.per_layer(profile, "macs", group="block")
        bars = [x for trace in figure.data for x in trace.x]
        assert "features.1.1" in bars and "features.7.1" in bars and "features" not in bars
