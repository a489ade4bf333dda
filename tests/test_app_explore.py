"""Explore and Compare through AppTest: every zoo model renders its graph, table and charts;
deep links are honoured and written back; bad input is a message, never an exception."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torchvision
from streamlit.testing.v1 import AppTest

import cnnlib
from cnnlib import analysis, compare, graph
from cnnlib.models import registry

ENTRY = str(Path(__file__).parent.parent / "streamlit_app.py")


@pytest.mark.parametrize("name", registry.names())
def test_every_model_shows_graph_table_and_charts(open_page, name: str) -> None:
    expected = cnnlib.profile(name)
    at = open_page("app/explore.py", model=name, view="graph")
    assert len(at.get("graphviz_chart")) == 1
    assert at.metric[0].label == "Parameters" and at.metric[0].help == (
        f"{expected.totals['params']:,}")
    assert at.metric[3].value == str(expected.totals["depth"])
    at.radio(key="view").set_value("table").run()
    assert not at.exception
    assert len(at.dataframe[0].value) == len(expected.layers)
    at.radio(key="view").set_value("charts").run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 3
    assert len(at.markdown) >= 1  # the computed sentences under the charts


def test_every_torchvision_classifier_can_be_picked_once() -> None:
    """The picker offers each torchvision classifier exactly once: by its zoo name where a zoo
    model equals it, else as ``torchvision.NAME``."""
    at = AppTest.from_file(ENTRY, default_timeout=120).run()
    at.switch_page("app/explore.py").run()
    options = at.selectbox(key="model").options
    offered = {o.removeprefix("torchvision · ") for o in options if o.startswith("torchvision · ")}
    in_zoo = {registry.get(n).torchvision for n in registry.names()} - {None}
    assert not offered & in_zoo
    assert offered | in_zoo == set(torchvision.models.list_models(module=torchvision.models))


@pytest.mark.parametrize("name", ["convnext_base", "maxvit_t", "swin_v2_t", "inception_v3",
                                  "efficientnet_b7", "vit_h_14"])
def test_a_torchvision_classifier_beyond_the_zoo_on_explore(open_page, name: str) -> None:
    """Built by torchvision's builder at its own input size; the exact parameter count, the
    parameters its forward never reads (Inception-v3's auxiliary classifier) said in a line,
    every view drawn; no paper check (the notes have no numbers for it)."""
    with torch.device("meta"):  # ViT-H/14 would be 2.5 GB for real
        model = torchvision.models.get_model(name)
    at = open_page("app/explore.py", model=f"torchvision.{name}", view="graph")
    used = analysis.profile_torchvision(name).totals["params"]
    assert at.metric[0].help == f"{used:,}"
    unused = sum(p.numel() for p in model.parameters()) - used
    captions = [c.value for c in at.caption]
    assert (unused > 0) == any(f"{unused:,} more parameters" in c for c in captions), captions
    assert f"torchvision's `{name}`" in at.caption[0].value
    assert at.text_input(key="input").value == "x".join(
        map(str, analysis.torchvision_input_size(name)))
    assert len(at.get("graphviz_chart")) == 1
    assert "paper" not in at.radio(key="view").options
    for view in ("table", "charts", "memory"):
        at.radio(key="view").set_value(view).run()
        assert not at.exception and not at.error, view


def test_a_graph_that_cannot_be_drawn_is_plain_boxes_never_an_error(
        open_page, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: object, detail: str) -> None:
        raise RuntimeError("a layer the drawing has no rule for")

    from app import network

    monkeypatch.setattr(graph._Net, "graph", broken)
    try:
        at = open_page("app/explore.py", model="vgg11", view="graph", detail="layers")
        assert len(at.get("graphviz_chart")) == 1
        assert any("plain boxes" in c.value for c in at.caption), [c.value for c in at.caption]
    finally:
        network._dot.clear()  # the server-wide DOT cache must not keep the plain drawing


def test_deep_link_is_honoured_and_written_back(open_page) -> None:
    at = open_page("app/explore.py", model="vgg16", input="3x64x64", view="charts",
                   scale="log", units="flops")
    small = cnnlib.profile("vgg16", "3x64x64", flops=True)
    assert at.selectbox(key="model").value == "vgg16"
    assert at.text_input(key="input").value == "3x64x64"
    assert at.radio(key="scale").value == "log"
    assert at.metric[1].label == "FLOPs" and at.metric[1].help.startswith(
        f"{small.totals['flops']:,}")
    at.radio(key="view").set_value("graph").run()
    assert at.query_params["view"] == "graph" and at.query_params["input"] == "3x64x64"
    assert at.radio(key="detail").value == graph.default_detail(small)
    at.selectbox(key="model").set_value("lenet5").run()  # another net: its own input size
    assert not at.exception and not at.error
    assert at.text_input(key="input").value == "1x32x32"


@pytest.mark.parametrize("text,message", [
    ("3x32x32", "is too small for alexnet"), ("3x32x32", "The smallest input alexnet accepts"),
    ("three", "malformed"), ("1x227x227", "channel")])
def test_bad_input_is_a_clear_message(open_page, text: str, message: str) -> None:
    at = open_page("app/explore.py", clean=False, model="alexnet", input=text)
    assert not at.exception, [e.value for e in at.exception]
    assert message in at.error[0].value


def test_paper_check_shows_the_notes_with_reasons(open_page) -> None:
    """The caption names the input size once ("3x224x224", not a size formatted twice), and
    each number that differs is shown whole with its reason, in a table that wraps (a
    data grid cuts long text at the column's edge)."""
    at = open_page("app/explore.py", model="vgg16", view="paper")
    assert "at the notes' input size 3x224x224," in at.caption[1].value
    differ = at.table[0].value
    assert len(differ) == 3  # the slide's "96 MB" is not its own list's sum, and 19.6B
    assert differ["why"].str.len().gt(40).all()
    assert "15,237,608 values" in differ.loc["forward memory (activations, fp32)", "why"]
    agree = at.dataframe[0].value
    assert len(agree) == 41 and "why" not in agree.columns
    at = open_page("app/explore.py", model="resnext50_32x4d", view="paper")
    assert "no numbers" in at.info[0].value


def test_training_memory_follows_batch_and_optimizer(open_page) -> None:
    at = open_page("app/explore.py", model="resnet18", view="memory", batch="32",
                   optimizer="adam")
    table = at.dataframe[0].value.set_index("part")
    params = cnnlib.profile("resnet18").totals["params"]
    assert table.loc["optimizer state", "bytes"] == 2 * 4 * params  # Adam: two moments


@pytest.mark.parametrize("view", ["table", "accuracy", "history", "notes"])
def test_compare_views_with_every_zoo_model(open_page, view: str) -> None:
    at = open_page("app/compare.py", models=",".join(registry.names()), view=view)
    if view == "table":  # a network the analysis cannot take is named, and the rest compared
        left_out = [w.value for w in at.warning if "cannot be analysed" in w.value]
        assert len(at.dataframe[0].value) == len(registry.names()) - len(left_out)
        assert len(at.get("plotly_chart")) == 1
    elif view == "accuracy":
        assert len(at.get("plotly_chart")) == 1
    elif view == "history":
        assert len(at.get("plotly_chart")) == 2


def test_compare_leaves_no_zoo_model_out(open_page) -> None:
    at = open_page("app/compare.py", models=",".join(registry.names()), view="table")
    assert not at.warning, [w.value for w in at.warning]


def test_the_pickers_group_the_zoo_by_family(open_page) -> None:
    """The families after ResNet are one group in Explore's and Compare's pickers, with
    their years, in the catalogue's order (so a family's members sit together)."""
    explore = open_page("app/explore.py", model="mobilenet_v2", view="table")
    options = explore.selectbox(key="model").options
    after = [o for o in options if o.startswith(f"{registry.AFTER_RESNET} · ")]
    assert after[0] == "After ResNet · mobilenet_v2 (2018)" and len(after) == 8
    assert "After ResNet · vit_b_16 (2020)" in after and "After ResNet · swin_t (2021)" in after
    first = options.index(after[0])
    assert options[first:first + len(after)] == after  # one block
    compare_page = open_page("app/compare.py", models="resnet152,efficientnet_b0")
    zoo = [o for o in options if not o.startswith("torchvision · ")]  # Explore's extras
    assert compare_page.multiselect(key="models").options == zoo
    assert list(compare_page.dataframe[0].value["family"]) == ["ResNet", "After ResNet"]


def test_compare_plots_every_torchvision_classifier_from_a_link(open_page) -> None:
    """``all_torchvision=1`` swaps the chosen networks' chart for all of torchvision's,
    from the weights' metadata, without asking for a network; the toggle writes it back."""
    at = open_page("app/compare.py", view="accuracy", all_torchvision="1", models="")
    assert at.toggle(key="all_torchvision").value is True
    assert len(at.get("plotly_chart")) == 1 and not at.info  # no "choose a network"
    table = at.dataframe[0].value
    assert len(table) == len(compare.torchvision_points()) >= 80
    assert any("SWAG" in c.value for c in at.caption)
    at.toggle(key="all_torchvision").set_value(False).run()
    assert not at.exception and at.query_params["all_torchvision"] == "0"
    assert "measured" in at.dataframe[0].value.columns  # the chosen networks' points again
    bad = open_page("app/compare.py", view="accuracy", all_torchvision="yes")
    assert "'yes' is not 0 or 1" in bad.warning[0].value
    assert bad.toggle(key="all_torchvision").value is False


def test_compare_drops_unknown_names_with_a_warning(open_page) -> None:
    at = open_page("app/compare.py", models="vgg16,vgg99")
    assert "vgg99" in at.warning[0].value
    assert list(at.dataframe[0].value["model"]) == ["vgg16"]
    assert at.query_params["models"] == "vgg16"


def test_home_links_every_page(open_page) -> None:
    at = open_page("app/home.py")
    assert len(at.get("page_link")) == 6


def test_the_first_view_loads_no_torch() -> None:
    """Hosted Streamlit: the entry and Home stay light; torch loads with the first page that
    analyses a model. A fresh process, since this one has long imported torch."""
    code = ("import sys; from streamlit.testing.v1 import AppTest; "
            f"at = AppTest.from_file({ENTRY!r}).run(); assert not at.exception; "
            "print(sorted(m for m in ('torch', 'torchvision', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(ENTRY).parent)
    assert "torch" not in out.stdout.splitlines()[-1], out.stdout


def test_text_in_a_number_field_is_a_warning_with_the_default(open_page) -> None:
    at = open_page("app/explore.py", model="resnet18", view="memory", batch="lots")
    assert "'lots' is not a whole number for Batch size; using 128" in at.warning[0].value
    assert at.number_input(key="batch").value == 128


def test_detail_offers_only_levels_that_differ_and_resets_with_the_network(open_page) -> None:
    """VGG-16 has no blocks, so "blocks" (the same picture as "layers") is not offered; its
    "layers" does not carry over to ResNet-152, which opens at its own default ("blocks"),
    while a link's detail is honoured on first load. The direction is a setting in the URL."""
    at = open_page("app/explore.py", model="vgg16", view="graph", detail="all")
    assert at.radio(key="detail").value == "all"  # the link's
    assert at.radio(key="detail").options == ["stages", "layers", "all"]
    at.radio(key="detail").set_value("layers").run()
    at.selectbox(key="model").set_value("resnet152").run()
    assert not at.exception
    assert at.radio(key="detail").value == "blocks" == graph.default_detail(
        cnnlib.profile("resnet152"))
    assert at.radio(key="detail").options == ["stages", "blocks", "layers", "all"]
    assert at.query_params["detail"] == "blocks"
    at.radio(key="direction").set_value("LR").run()
    assert at.query_params["direction"] == "LR"
    assert "rankdir=LR" in at.get("graphviz_chart")[0].proto.spec


def test_graph_details_leave_out_levels_that_draw_the_same_graph() -> None:
    for name, expected in [("vgg16", ["stages", "layers", "all"]),
                           ("alexnet", ["stages", "layers", "all"]),
                           ("resnet18", ["stages", "blocks", "layers", "all"])]:
        profile = cnnlib.profile(name)
        assert graph.details(profile) == expected
        dots = {graph.to_dot(profile, d) .split("\n", 2)[2] for d in graph.DETAILS}
        assert len(dots) == len(expected)  # the oracle: the DOT each level draws


def test_the_table_shows_thousands_separators_and_units(open_page) -> None:
    """15476410880 reads as 15,476,410,880; the receptive field says it is in pixels."""
    import json

    at = open_page("app/explore.py", model="vgg16", view="table")
    config = json.loads(at.dataframe[0].proto.columns)
    for column in ("params", "activations", "memory_bytes", "macs"):
        assert config[column]["type_config"]["format"] == "localized", column
    assert config["receptive_field"]["label"] == "RF (px)"
    assert config["memory_bytes"]["label"] == "memory (B)"


def test_charts_are_built_once_for_every_session_and_styled_per_type_size() -> None:
    """The per-layer figures are shared by every session (st.cache_resource): a second session
    gets the same figure, and classroom mode its own, with the projector's type size."""
    import json

    def fonts(classroom: bool) -> list[tuple[int, str]]:
        at = AppTest.from_file(ENTRY, default_timeout=120).run()
        at.session_state["classroom"] = classroom
        at.switch_page("app/explore.py")
        at.query_params["model"], at.query_params["view"] = "vgg16", "charts"
        at.run()
        assert not at.exception and len(at.get("plotly_chart")) == 3
        specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
        return [(s["layout"]["font"]["size"], s["layout"]["title"]["text"]) for s in specs]

    plain = fonts(False)
    assert plain == fonts(False)
    assert [size for size, _ in plain] == [13, 13, 13]
    room = fonts(True)
    assert [size for size, _ in room] == [20, 20, 20]
    assert [title for _, title in room] == [title for _, title in plain]
