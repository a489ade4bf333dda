"""The network graphs against facts about the networks that the graph code does not compute.

Counts come from the papers and the model definitions (ResNet-18 has 8 residual blocks, 3 of
them changing the shape; GoogLeNet has 9 inception modules of 4 branches; VGG-16's 13 convs,
5 pools, 3 fcs) or from the module tree (torchvision ResNets' ``downsample`` modules). Labels are
checked on :func:`graph.build`'s nodes, edges and their styles on the DOT text, parsed below;
test_every_model_every_detail_is_valid_dot ties the two together for every model and level.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from functools import cache

import pytest
import torch
from torch import nn

import cnnlib
from cnnlib import analysis, graph

HAS_DOT = shutil.which("dot") is not None
NODE = re.compile(r'^\s*(\w+) \[label="((?:[^"\\]|\\.)*)", fillcolor="(#[0-9A-F]{6})"')
EDGE = re.compile(r"^\s*(\w+) -> (\w+)(?: \[(.*)\])?;$")


@cache
def prof(name: str) -> analysis.Profile:
    return cnnlib.profile(name)


def unquote(text: str) -> str:
    """A DOT string's text: \\n is a line break, a backslash escapes the next character."""
    return re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], text)


def parse(dot: str) -> tuple[dict[str, str], list[tuple[str, str, str]], dict[str, str]]:
    """Node id -> the text drawn in it, edges (src, dst, attributes) and node id -> fill
    colour, from DOT written one statement per line."""
    labels, colours, edges = {}, {}, []
    for line in dot.splitlines():
        if node := NODE.match(line):
            labels[node[1]] = unquote(node[2])
            colours[node[1]] = node[3]
        elif edge := EDGE.match(line):
            edges.append((edge[1], edge[2], edge[3] or ""))
    return labels, edges, colours


def drawn(name: str, detail: str = "layers") -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """Node id -> label (without the note) and the DOT's edges."""
    labels = {n.id: n.label for n in graph.build(prof(name), detail).nodes}
    return labels, parse(graph.to_dot(prof(name), detail))[1]


def require_dot() -> None:
    """Fail, never skip, without Graphviz's dot program: these checks are what the suite
    claims to make (``./dev.sh test`` installs Debian's ``graphviz``)."""
    if not HAS_DOT:
        pytest.fail("Graphviz's dot program is missing: install Debian's 'graphviz' package "
                    "(./dev.sh test does).", pytrace=False)


def dot_accepts(text: str) -> None:
    """Graphviz lays ``text`` out without an error or a warning."""
    require_dot()
    run = subprocess.run(["dot", "-Tsvg"], input=text.encode(), capture_output=True, timeout=60)
    assert run.returncode == 0 and not run.stderr, run.stderr.decode()
    assert run.stdout.count(b"<svg") == text.count("digraph ")


def plus_nodes(labels: dict[str, str]) -> set[str]:
    return {n for n, label in labels.items() if label == "+"}


def dashed(edges: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    return [e for e in edges if "style=dashed" in e[2]]


# ---------------------------------------------------------------- every model, every level


@pytest.mark.parametrize("name", cnnlib.list_models())
def test_every_model_every_detail_is_valid_dot(name: str) -> None:
    texts = []
    for detail in graph.DETAILS:
        g = graph.build(prof(name), detail)
        text = graph.to_dot(prof(name), detail)
        labels, edges, colours = parse(text)
        assert list(labels) == [n.id for n in g.nodes]  # every node parsed, in order
        assert labels == {n.id: f"{n.label}\n{n.note}".strip() for n in g.nodes}
        assert [(s, d) for s, d, _ in edges] == [(e.src, e.dst) for e in g.edges]
        ids = set(labels)
        assert {"input", "output"} <= ids and all(s in ids and d in ids for s, d, _ in edges)
        assert set(colours.values()) <= set(graph.legend().values())
        texts.append(text)
    dot_accepts("".join(texts))


@pytest.mark.parametrize("name", cnnlib.list_models())
def test_every_zoo_model_draws_its_data_flow(name: str) -> None:
    """No zoo model needs the plain-boxes fallback: every layer is found (ViT's attention
    once vanished, and its adds then seemed to read the input) and a constant is no input
    (Swin's position-bias lookups read a buffer, not the image)."""
    assert not any(graph.build(prof(name), d).plain for d in graph.DETAILS)


def test_the_blocks_after_resnet_are_named_as_their_papers_name_them() -> None:
    """Depthwise convs, MobileNetV2's inverted residuals, MobileNet's depthwise-separable
    block and squeeze-and-excitation are named, at every level that shows them; ResNeXt's
    grouped convs (32 groups, not one per channel) and ResNet's bottlenecks are not renamed."""
    blocks = {n: [node.label for node in graph.build(prof(n), "blocks").nodes]
              for n in ("mobilenet_v2", "mobilenet_v3_large", "efficientnet_b0",
                        "regnet_y_400mf", "resnext50_32x4d")}
    assert blocks["mobilenet_v2"].count("inverted residual 64-384-64") == 3
    assert "3x3 depthwise conv, 32\n1x1 conv, 16" in blocks["mobilenet_v2"]
    assert "depthwise separable 16" in blocks["mobilenet_v3_large"]
    assert "inverted residual 40-120-40, SE" in blocks["mobilenet_v3_large"]
    assert "inverted residual 80-184-80" in blocks["mobilenet_v3_large"]  # no SE there
    assert blocks["efficientnet_b0"].count("inverted residual 192-1152-192, SE") == 3
    assert "bottleneck 48-48, g=6, SE, /2" in blocks["regnet_y_400mf"]
    assert blocks["resnext50_32x4d"].count("bottleneck 128-256, g=32") == 3
    # an SE outside a residual (the blocks that change the width: Table 1 of each paper) is
    # "SE block", not its scope's bare index ("block 2 72")
    assert sum(label.startswith("SE block") for label in blocks["efficientnet_b0"]) == 7
    assert blocks["mobilenet_v3_large"].count("SE block 72") == 1
    assert not any(re.match(r"block \d", label) for labels in blocks.values() for label in labels)
    layers, _ = drawn("mobilenet_v2", "layers")
    assert "3x3 depthwise conv, 96, /2" in layers.values()
    assert not any("g=96" in label for label in layers.values())
    stages, _ = drawn("mobilenet_v2", "stages")
    assert any("2 × inverted residual 32-192-32" in label for label in stages.values())


def test_the_transformer_era_blocks_are_named_as_their_papers_name_them() -> None:
    """ViT-B/16 is 12 encoder blocks of 12-head attention and an MLP of 3072 on 768-wide
    tokens; Swin-T's stages hold 2, 2, 6, 2 blocks of shifted window attention with an MLP 4x
    wide, joined by patch merging (56x56x96 -> 28x28x384 -> fc 192); ConvNeXt-T's stages
    hold 3, 3, 9, 3 blocks of a 7x7 depthwise conv and an MLP 4x wide (the papers' Figure 1s
    and Tables 1). Each attention and MLP sits in a residual, drawn as an arc."""
    vit = [n.label for n in graph.build(prof("vit_b_16"), "blocks").nodes]
    assert vit.count("transformer block 768, 12-head attention, MLP 3072") == 12
    assert "12 × transformer block 768, 12-head attention, MLP 3072" in drawn(
        "vit_b_16", "stages")[0].values()
    layers, edges = drawn("vit_b_16", "layers")
    assert list(layers.values()).count("12-head attention") == 12
    assert len([e for e in edges if "shortcut" in e[2]]) == 24 == len(plus_nodes(layers))

    swin = [n.label for n in graph.build(prof("swin_t"), "blocks").nodes]
    for width, blocks in ((96, 2), (192, 2), (384, 6), (768, 2)):
        title = f"transformer block {width}, shifted window attention, MLP {4 * width}"
        assert swin.count(title) == blocks
    assert [label for label in swin if label.startswith("patch merging")] == [
        "patch merging, 192, /2", "patch merging, 384, /2", "patch merging, 768, /2"]
    assert not any(label.startswith("residual block") for label in swin)

    convnext = [n.label for n in graph.build(prof("convnext_tiny"), "blocks").nodes]
    for width, blocks in ((96, 3), (192, 3), (384, 9), (768, 3)):
        assert convnext.count(f"ConvNeXt block {width}, 7x7 depthwise, MLP {4 * width}") == blocks
    stages = list(drawn("convnext_tiny", "stages")[0].values())
    assert "2x2 conv, 384, /2\n9 × ConvNeXt block 384, 7x7 depthwise, MLP 1536" in stages
    assert graph.build(prof("convnext_tiny"), "layers").nodes[1].note == "LayerNorm"


@pytest.mark.parametrize("name", ["vit_b_16", "swin_t", "convnext_tiny"])
def test_weights_are_not_data_flow(name: str) -> None:
    """A weight a function reads (ViT's class token and position embedding, Swin's attention
    projections, ConvNeXt's layer scale and LayerNorm2d's weight) is no node at "blocks" or
    "layers" and no edge there; "all" still draws every row, the weights with their edges.
    A LayerNorm2d reading x, weight and bias is no merge, so no block is named "block 0"."""
    p = prof(name)
    parameters = [i for i, r in enumerate(p.rows) if r.calc.type == "parameter"]
    assert parameters
    for detail in ("stages", "blocks", "layers"):
        labels = [n.label for n in graph.build(p, detail).nodes]
        assert not any(label.startswith("parameter") for label in labels), detail
        assert not any(re.match(r"block \d", label) for label in labels), detail
    everything = graph.build(p, "all")
    assert len(everything.nodes) == len(p.rows) + 2
    assert {f"n{i}" for i in parameters} <= {e.src for e in everything.edges}


def test_no_label_line_ends_in_a_space() -> None:
    """A parameter with no shape to print (ConvNeXt's layer scale once the analysis reads it,
    issue 11) is "parameter", which the DOT's parser and a reader see alike."""
    node = graph.Node("n3", "parameter ", "other", "BN ")
    tidied = graph._tidied(graph.Graph("m", "layers", [node], [], ["3x3 conv, 8, g=8 "]))
    assert (tidied.nodes[0].label, tidied.nodes[0].note) == ("parameter", "BN")
    assert tidied.clusters == ["3x3 depthwise conv, 8"]


class _Fan(nn.Module):
    """The input into ten convs summed: a fan-out the drawing takes for a lost data flow."""

    def __init__(self) -> None:
        super().__init__()
        self.branches = nn.ModuleList(nn.Conv2d(3, 4, 3, padding=1) for _ in range(10))
        self.head = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = sum(branch(x) for branch in self.branches)
        return self.head(y.mean((2, 3)))


def test_an_unreadable_or_failing_graph_falls_back_to_plain_boxes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A level whose drawing has a node feeding more than MAX_FANOUT others, or a build that
    raises, draws plain boxes in forward order (one chain, valid DOT), and the page's
    helpers work."""
    fan = cnnlib.profile(_Fan(), (3, 8, 8))
    assert not graph.readable(graph._Net(fan).graph("layers"))  # input -> 10 convs
    assert not graph.build(fan, "stages").plain  # one stage node: nothing fans out
    texts = []
    for detail in ("layers", "all"):
        g = graph.build(fan, detail)
        assert g.plain and [n.id for n in g.nodes][::len(g.nodes) - 1] == ["input", "output"]
        assert [(e.src, e.dst) for e in g.edges] == list(zip(
            [n.id for n in g.nodes], [n.id for n in g.nodes][1:], strict=False))
        texts.append(graph.to_dot(fan, detail))
    stages = graph.plain(fan, "stages")
    assert [n.label for n in stages.nodes] == ["input 3x8x8", "branches", "head",
                                               "output 2"]
    assert stages.nodes[1].note.endswith("rows, 1.1K params")  # 10 convs and their adds
    dot_accepts("".join(texts))

    def broken(self: object, detail: str) -> None:
        raise RuntimeError("a layer the drawing has no rule for")

    monkeypatch.setattr(graph._Net, "graph", broken)
    monkeypatch.setattr(graph._Net, "node_ids", broken)
    vgg = prof("vgg16")
    assert all(graph.build(vgg, d).plain for d in graph.DETAILS)
    assert graph.default_detail(vgg) in graph.DETAILS and graph.details(vgg)
    assert len(graph.row_groups(vgg, "blocks")) == len(vgg.layers)
    dot_accepts(graph.to_dot(vgg, "layers"))


# ---------------------------------------------------------------- residual shortcuts


def projections(name: str) -> int:
    """torchvision ResNets: the blocks whose shortcut is a 1x1 conv (a ``downsample``)."""
    modules = analysis.traced_model(name).modules
    return sum(path.endswith(".downsample") for path in modules)


@pytest.mark.parametrize(("name", "blocks", "projecting"), [
    ("resnet18", 8, 3),  # 2 blocks per stage; conv3_x..conv5_x start with a projection
    ("resnet50", 16, 4),  # 3+4+6+3; conv2_x's first block projects 64 -> 256 too
    ("cifar_resnet20", 9, 2),  # 3 stages of 3; option A pads at the 2 stage changes
])
def test_residual_blocks_and_dashed_shortcuts(name: str, blocks: int, projecting: int) -> None:
    for detail in ("layers", "all"):
        labels, edges = drawn(name, detail)
        adds = plus_nodes(labels)
        assert len(adds) == blocks
        assert len(dashed(edges)) == projecting
        assert all(dst in adds for _, dst, _ in dashed(edges))
        shortcuts = [e for e in edges if "shortcut" in e[2]]
        assert len(shortcuts) == blocks  # one arc into every +, solid for the identity
        assert sorted(dst for _, dst, _ in shortcuts) == sorted(adds)
    if name.startswith("resnet"):
        assert projections(name) == projecting


def test_shortcut_layers_fold_into_the_arc() -> None:
    """The paper's figure has no node for a projection: ResNet-18 draws its 17 weight layers
    (16 in blocks + conv1) at "layers", the three 1x1 downsample convs only at "all"."""
    convs = [label for label in drawn("resnet18")[0].values() if " conv" in label]
    assert len(convs) == 17 and not any(c.startswith("1x1") for c in convs)
    assert sum(label.startswith("1x1 conv") for label in drawn("resnet18", "all")[0].values()) == 3


@pytest.mark.parametrize("name", [n for n in cnnlib.list_models() if "plain" in n])
def test_plain_nets_have_no_adds(name: str) -> None:
    for detail in graph.DETAILS:
        labels, edges = drawn(name, detail)
        assert not plus_nodes(labels) and not [e for e in edges if "shortcut" in e[2]]


# ---------------------------------------------------------------- the papers' labels


def test_vgg16_layers_as_in_the_paper() -> None:
    labels = list(drawn("vgg16")[0].values())
    convs = [label for label in labels if " conv" in label]
    widths = [64] * 2 + [128] * 2 + [256] * 3 + [512] * 6
    assert convs == [f"3x3 conv, {w}" for w in widths]
    assert len([label for label in labels if "pool" in label]) == 5
    assert [label for label in labels if label.startswith("fc")] == ["fc 4096", "fc 4096",
                                                                     "fc 1000"]
    assert labels[0] == "input 3x224x224" and labels[-1] == "output 1000"


def test_stride_and_kernel_labels() -> None:
    assert "3x3 conv, 128, /2" in drawn("resnet18")[0].values()
    assert "7x7 conv, 64, /2" in drawn("resnet18")[0].values()
    assert "global avg pool" in drawn("resnet18")[0].values()
    alexnet = list(drawn("alexnet")[0].values())
    assert alexnet[1] == "11x11 conv, 64, /4"
    assert "3x3 max pool, /2" in alexnet
    assert "LRN" in drawn("alexnet_original")[0].values()
    assert "3x3 conv, 128, g=32" in drawn("resnext50_32x4d")[0].values()


def test_folded_layers_are_named_on_the_node() -> None:
    text = graph.to_dot(prof("resnet18"))
    assert '[label="3x3 conv, 64\\nBN, ReLU",' in text
    assert '[label="+\\nReLU",' in text  # the ReLU after the addition
    labels = drawn("resnet18")[0].values()
    assert not any(w in label for label in labels for w in ("BN", "ReLU", "flatten"))


def test_googlenet_inception_modules() -> None:
    labels, edges = drawn("googlenet")
    concats = [n for n, label in labels.items() if label == "concat"]
    assert len(concats) == 9
    assert all(sum(dst == c for _, dst, _ in edges) == 4 for c in concats)
    text = graph.to_dot(prof("googlenet"))
    names = re.findall(r'subgraph cluster_\d+ \{\n\s+graph \[label="([^"]+)"', text)
    assert names == [f"inception ({m}) {c}" for m, c in (
        ("3a", 256), ("3b", 480), ("4a", 512), ("4b", 512), ("4c", 512), ("4d", 528),
        ("4e", 832), ("5a", 832), ("5b", 1024))]
    blocks = [label for label in drawn("googlenet", "blocks")[0].values()
              if label.startswith("inception")]
    assert blocks == names


def test_densenet_concats_chain() -> None:
    """Every dense layer's concat takes the previous concat and one new map: 58 dense layers
    (6+12+24+16) give 58 two-input concats, where a literal drawing would have 520 edges."""
    labels, edges = drawn("densenet121")
    concats = [n for n, label in labels.items() if label == "concat"]
    assert len(concats) == 58 + 4 - 4  # the first layer of each block concatenates one map
    assert all(sum(dst == c for _, dst, _ in edges) == 2 for c in concats)
    blocks = [label for label in drawn("densenet121", "blocks")[0].values()
              if label.startswith("denseblock")]
    assert blocks == ["denseblock (1) 256", "denseblock (2) 512", "denseblock (3) 1024",
                      "denseblock (4) 1024"]


def test_block_and_stage_labels() -> None:
    blocks = list(drawn("resnet50", "blocks")[0].values())
    assert blocks.count("bottleneck 64-256") == 3
    assert blocks.count("bottleneck 128-512, /2") == 1 and blocks.count("bottleneck 128-512") == 3
    stages = list(drawn("resnet152", "stages")[0].values())
    assert "bottleneck 256-1024, /2\n35 × bottleneck 256-1024" in stages  # 36 blocks at 14x14
    vgg = list(drawn("vgg16", "stages")[0].values())
    assert vgg[1:6] == [f"{n} × 3x3 conv, {c}\n2x2 max pool, /2"
                        for n, c in ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512))]
    assert drawn("nin", "blocks")[0]["b0"] == "11x11 conv, 96, /4\n2 × 1x1 conv, 96"


def test_details_nest() -> None:
    counts = [len(drawn("resnet50", d)[0]) for d in graph.DETAILS]
    assert counts == sorted(set(counts))  # stages < blocks < layers < all
    assert counts[-1] == len(prof("resnet50").rows) + 2


def test_default_detail() -> None:
    assert graph.default_detail(prof("resnet18")) == "layers"
    assert graph.default_detail(prof("vgg16")) == "layers"
    assert graph.default_detail(prof("resnet152")) == "blocks"
    assert graph.default_detail(prof("densenet121")) == "blocks"
    deep = nn.Sequential(*[nn.Conv2d(2, 2, 1) for _ in range(graph.MAX_NODES)])
    assert graph.default_detail(cnnlib.profile(deep, (2, 4, 4))) == "stages"


# ---------------------------------------------------------------- edges


def test_edges_show_shapes_where_they_change() -> None:
    g = graph.build(prof("resnet18"))
    label = {n.id: n.label for n in g.nodes}
    stride2 = next(n for n, text in label.items() if text == "3x3 conv, 128, /2")
    assert [e.label for e in g.edges if e.src == stride2] == ["128x28x28"]
    same = [e for e in g.edges if label[e.src] == label[e.dst] == "3x3 conv, 64"]
    assert same and all(e.shape == "64x56x56" and not e.label for e in same)
    projection = next(e for e in g.edges if e.shortcut == "projection")
    assert projection.label == projection.shape == "128x28x28"
    stages = graph.build(prof("resnet18"), "stages").edges
    assert [e.label for e in stages] == ["", "64x56x56", "", "128x28x28", "256x14x14", "512",
                                         "1000"]  # conv2_x keeps 64x56x56: no label


# ---------------------------------------------------------------- any module


def test_a_user_sequential() -> None:
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(4 * 13 * 13, 10))
    p = cnnlib.profile(net, (1, 28, 28))
    labels = [n.label for n in graph.build(p).nodes]
    assert labels == ["input 1x28x28", "3x3 conv, 4", "2x2 max pool, /2", "fc 10", "output 10"]
    dot_accepts("".join(graph.to_dot(p, d) for d in graph.DETAILS))


def test_strides_are_read_as_numbers() -> None:
    """A stride of 11 is labelled (its text "11" is all ones), an uneven one by each side."""
    net = nn.Sequential(nn.Conv2d(1, 4, 11, stride=11), nn.Conv2d(4, 4, (1, 3), stride=(1, 2)),
                        nn.Conv2d(4, 4, 1))
    p = cnnlib.profile(net, (1, 44, 44))
    assert [r.calc.stride for r in p.rows] == [(11, 11), (1, 2), (1, 1)]
    labels = [n.label for n in graph.build(p).nodes][1:-1]
    assert labels == ["11x11 conv, 4, /11", "1x3 conv, 4, /1x2", "1x1 conv, 4"]
    assert list(p.layers["stride"]) == ["11", "1x2", "1"]


class _Odd(nn.Module):
    """A residual at the top level, x + x, a parameter, a grouped and a dilated conv."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 8, 3, padding=1)
        self.b = nn.Conv2d(8, 8, 3, padding=1, groups=4)
        self.d = nn.Conv2d(8, 8, 3, padding=2, dilation=2)
        self.scale = nn.Parameter(torch.ones(1, 8, 1, 1))
        # a layer with no formula, kept whole by the tracer: its name must be escaped
        self.weird = type('Odd<Layer>&"', (nn.Module,), {"__module__": "torch.nn.custom",
                                                         "forward": lambda self, x: 2 * x})()
        self.up = nn.Upsample(scale_factor=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.a(x)
        y = (y + y) * self.scale
        y = torch.relu(self.b(y)) + y
        return self.up(self.weird(torch.cat([self.d(y), y], 1)))


def test_odd_modules_never_raise() -> None:
    name = type('Quote"Back\\slash', (_Odd,), {})
    for model, size in ((name(), (3, 8, 8)), (nn.Identity(), (3, 4, 4)), (nn.ReLU(), (3, 4, 4))):
        p = cnnlib.profile(model, size)
        texts = [graph.to_dot(p, d) for d in graph.DETAILS]
        dot_accepts("".join(texts))
    g = graph.build(cnnlib.profile(name(), (3, 8, 8)))
    labels = [n.label for n in g.nodes]
    assert {"3x3 conv, 8, g=4", "3x3 conv, 8, d=2", 'Odd<Layer>&"', "Upsample"} <= set(labels)
    text = graph.to_dot(cnnlib.profile(name(), (3, 8, 8)))
    assert text.startswith('digraph "Quote\\"Back\\\\slash" {')
    assert 'Odd<Layer>&"' in parse(text)[0].values()  # escaped, and read back whole
    assert [e.shortcut for e in g.edges if e.shortcut] == ["identity"]  # relu(b(y)) + y only


def test_options_and_errors() -> None:
    text = graph.to_dot(prof("lenet5"), "all", font_size=24, rankdir="LR")
    assert "rankdir=LR" in text and "fontsize=24" in text
    with pytest.raises(ValueError, match="detail"):
        graph.to_dot(prof("lenet5"), "everything")
    with pytest.raises(ValueError, match="rankdir"):
        graph.to_dot(prof("lenet5"), rankdir="up")


def test_svg_by_graphviz() -> None:
    require_dot()
    svg = graph.svg(graph.to_dot(prof("resnet18")))
    assert svg is not None and b"<svg" in svg and b"3x3 conv, 128, /2" in svg


def test_no_svg_without_dot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(graph.shutil, "which", lambda _: None)
    assert graph.svg(graph.to_dot(prof("lenet5"))) is None


@pytest.mark.parametrize("name", ["resnet152", "densenet121"])
def test_fast(name: str) -> None:
    for detail in graph.DETAILS:
        best = min(_timed(prof(name), detail) for _ in range(3))
        assert best < 0.1, f"{name} at {detail}: {best * 1000:.0f} ms"


def _timed(p: analysis.Profile, detail: str) -> float:
    start = time.perf_counter()
    graph.to_dot(p, detail)
    return time.perf_counter() - start
