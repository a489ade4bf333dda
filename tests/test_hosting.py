"""A hosted app that anyone can open (issue 12): what a visitor types or links is never read
as markup, never names a server path outside the allowed folders, and never costs the
server more than a bounded amount of work."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.widgets import MAX_ECHO, plain, shown
from cnnlib import paths, runs, visualize
from cnnlib.errors import CnnlibError
from cnnlib.images import SAMPLES_DIR
from cnnlib.spec import SpecError, parse

ENTRY = str(Path(__file__).parent.parent / "streamlit_app.py")
LINK = "[Log in here](https://evil.example/login)"
IMAGE = "![x](https://evil.example/pixel.png)"


def open_at(page: str, **params: str) -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=180)
    at.switch_page(page)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def messages(at: AppTest) -> list[str]:
    """The markdown source of every message box, caption and markdown element on the page."""
    return [e.value for kind in ("error", "warning", "info", "caption", "markdown", "success")
            for e in getattr(at, kind)]


def outside_code(markdown: str) -> str:
    """``markdown`` without its code spans (CommonMark's matching backtick runs)."""
    return re.sub(r"(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)", "", markdown)


def has_markup(markdown: str) -> bool:
    """Whether ``markdown`` holds an unescaped link or image opener outside code spans."""
    return re.search(r"(?<!\\)[\[!]", outside_code(markdown).replace("\\\\", "")) is not None


# ---------------------------------------------------------------- the one escape


@pytest.mark.parametrize("text", [LINK, IMAGE, "# heading", "- a list", "1. a list",
                                  ":red[coloured] $x^2$", "a | b", "<b>bold</b>",
                                  "`unclosed code", "www.evil.example", "a\n\n[b](c)"])
def test_plain_leaves_no_markup(text: str) -> None:
    out = plain(text)
    assert not has_markup(out)
    assert "\n" not in out
    assert not re.match(r"\s*(#|-|\d+\.)", out)  # no heading or list
    assert not re.search(r"(?<!\\)([$|<`]|://|www\.)", outside_code(out))


def test_plain_keeps_code_spans_and_cuts_long_text() -> None:
    assert plain("`conv3-` at 0: 2*3") == r"`conv3-` at 0: 2\*3"
    assert plain("`` x` `` at 9") == "`` x` `` at 9"
    assert len(plain("y" * 10_000)) == MAX_ECHO
    assert shown("z" * 500).endswith("…'") and len(shown("z" * 500)) < 70


def test_a_spec_token_with_backticks_stays_inside_its_code_span() -> None:
    with pytest.raises(SpecError) as err:
        parse("conv3-64 x`[a](https://evil.example)`")
    assert not has_markup(plain(str(err.value)))


def test_a_url_value_cannot_put_a_link_into_a_warning() -> None:
    at = open_at("app/explore.py", model=LINK)
    assert not at.exception
    warned = [w.value for w in at.warning]
    assert any("is not a valid" in w for w in warned), warned
    assert not any(has_markup(m) for m in messages(at)), messages(at)


def test_a_spec_in_the_url_cannot_escape_its_code_span() -> None:
    at = open_at("app/build.py", spec=f"conv3-64 x`{IMAGE}`")
    assert not at.exception
    assert at.error, "the spec is bad and must say so"
    assert not any(has_markup(m) for m in messages(at)), messages(at)


# ---------------------------------------------------------------- paths from pages


def test_confine_accepts_the_samples_and_the_runs_folder(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNNLIB_RUNS_DIR", str(tmp_path / "runs"))
    (tmp_path / "runs" / "a").mkdir(parents=True)
    assert paths.confine(str(SAMPLES_DIR)) == SAMPLES_DIR.resolve()
    assert paths.confine(str(tmp_path / "runs" / "a")) == (tmp_path / "runs" / "a").resolve()


@pytest.mark.parametrize("where", ["/", "/etc", "~", str(SAMPLES_DIR / ".." / ".."),
                                   "/proc/self", "x" * 300, "/tmp/" + "y" * 300, "a\0b"])
def test_confine_refuses_anything_else_with_a_sentence(where: str) -> None:
    with pytest.raises(CnnlibError, match=r"(inside the bundled samples, the runs folder or a "
                       r"folder listed in \$CNNLIB_ALLOWED_DIRS|not a folder name)"):
        paths.confine(where)


def test_a_symlink_out_of_an_allowed_folder_is_refused(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "escape").symlink_to("/etc")
    monkeypatch.setenv(paths.ALLOW_ENV, os.pathsep.join([str(allowed), "/nonexistent"]))
    assert paths.confine(str(allowed)) == allowed.resolve()
    with pytest.raises(CnnlibError, match="is not one of them"):
        paths.confine(str(allowed / "escape"))
    with pytest.raises(CnnlibError, match="is not a folder"):
        paths.confine(str(allowed / "missing"))


def test_page_data_spec_refuses_an_empty_box_and_outside_folders() -> None:
    assert paths.page_data_spec(" cifar10 ") == "cifar10"
    with pytest.raises(CnnlibError, match="Name the training data"):
        paths.page_data_spec("  ")
    with pytest.raises(CnnlibError, match="is not one of them"):
        paths.page_data_spec("/etc")


def test_visualize_does_not_search_the_servers_disk() -> None:
    at = open_at("app/visualize.py", model="alexnet", view="top9", layer="features.0",
                 search="folder", folder="/")
    assert not at.exception
    assert any("reads folders inside" in e.value for e in at.error), messages(at)
    assert not any("strongest responses" in s.value for s in at.subheader)  # no patches
    long = open_at("app/visualize.py", model="alexnet", view="top9", layer="features.0",
                   search="folder", folder="/tmp/" + "n" * 300)
    assert not long.exception
    assert long.error


def test_the_train_page_refuses_outside_data_and_an_empty_box(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNNLIB_RUNS_DIR", str(tmp_path / "runs"))
    for data, expect in (("/etc", "is not one of them"), ("", "Name the training data")):
        at = open_at("app/train.py")
        at.text_input[0].set_value(data)
        next(b for b in at.button if b.label == "Start").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert any(expect in e.value for e in at.error), messages(at)
        assert not runs.list_runs(tmp_path / "runs")
        assert not at.query_params.get("run", "").startswith(str(tmp_path))  # none started


# ---------------------------------------------------------------- bounded work


def test_occlusion_positions_are_capped_and_the_page_says_so() -> None:
    with pytest.raises(CnnlibError, match=r"49,729 positions.*the limit is 256"):
        visualize.occlusion(None, __import__("torch").zeros(1, 3, 224, 224), window=2,
                            stride=1)
    assert visualize.occlusion_positions(224, 224, 2,
                                         visualize.occlusion_stride(224, 224, 2, 1)) <= 256
    at = open_at("app/visualize.py", model="cifar_resnet20", view="occlusion",
                 image="cifar/ship", window="2", stride="1")
    assert not at.exception, [e.value for e in at.exception]
    assert any("at most 256" in c.value for c in at.caption), messages(at)
    assert not at.error


# ---------------------------------------------------------------- one line, exit code 2


@pytest.mark.parametrize(("args", "message"), [
    (["alexnet", "--input", "3x" + "9" * 5000 + "x3"], "is too large"),
    (["alexnet", "--option", "num_classes=-5"], "num_classes must be a whole number"),
    (["alexnet", "--option", 'num_classes="x"'], "num_classes must be a whole number"),
    (["alexnet", "--option", "num_classes=0"], "num_classes must be a whole number"),
    (["alexnet", "--option", "num_classes=" + "(" * 500], "num_classes must be a whole number"),
    (["alexnet", "--option", "dropout=2"], "dropout must be a probability"),
    (["zfnet", "--option", "conv345=(1,2)"], "conv345 must be 3 whole numbers"),
    (["zfnet", "--option", "conv345=(0,512,256)"], "conv345 must be 3 whole numbers"),
    (["--spec", "conv3-0 fc10"], "the filter count must be at least 1"),
    (["--spec", "[conv1-8p1000]*100", "--input", "3x64x64"],
     "output map is 6,064 pixels a side, over the 4096"),
])
def test_bad_summaries_exit_2_with_one_line(args: list[str], message: str,
                                            capsys: pytest.CaptureFixture) -> None:
    from cnnlib import __main__ as cli

    assert cli.main(["summary", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err


def test_a_checkpoint_with_invalid_options_is_a_sentence(tmp_path: Path) -> None:
    from cnnlib import weights
    from cnnlib.errors import WeightsError

    loaded = weights.load("cifar_resnet20", "random")
    path = tmp_path / "bad.pt"
    weights.save_checkpoint(path, model_name="cifar_resnet20", model=loaded.model)
    import torch

    data = torch.load(path, weights_only=True)
    torch.save({**data, "options": {"num_classes": -5}}, path)  # hand-edited, or another tool
    with pytest.raises(WeightsError, match="num_classes must be a whole number"):
        weights.load_checkpoint(path)


def test_an_out_of_range_url_integer_is_clamped_with_a_word() -> None:
    at = open_at("app/explore.py", model="alexnet", view="memory", batch="99999")
    assert not at.exception
    assert any("outside 1 to 4096; using 4096" in w.value for w in at.warning), messages(at)
    assert at.query_params["batch"] == "4096"


@pytest.mark.parametrize("view", ["graph", "table", "charts", "memory"])
def test_counts_beyond_int64_within_the_limits_show_on_the_build_page(view: str) -> None:
    """[conv3-16384]*1000 at 4096x4096 is inside every documented limit and does 4e19
    multiply-adds, past int64; the page shows it rather than breaking its table."""
    at = open_at("app/build.py", spec="[conv3-16384]*1000", input="3x4096x4096", view=view,
                 vs="vgg16", batch="4096")
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_a_pending_callback_for_a_dropped_widget_state_does_nothing() -> None:
    """The Train page drops the run picker's state after Start; a callback still queued for
    it (the 2 s fragment rerunning) used to raise KeyError: st.session_state has no key."""
    def script() -> None:
        from app import widgets

        widgets._sync("run")

    at = AppTest.from_function(script).run()
    assert not at.exception, [e.value for e in at.exception]
