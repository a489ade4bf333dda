"""The dashboard through streamlit's AppTest: pages render, deep links work, bad input is a
message and never an exception."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from cnnlib import paths, weights
from cnnlib.models import registry

ENTRY = str(Path(__file__).parent.parent / "streamlit_app.py")


def page(**params: str) -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=180)
    if params.pop("_home", None) is None:
        at.switch_page("app/visualize.py")
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def images_shown(at: AppTest) -> int:
    return len(at.get("image"))


def test_home_lists_the_zoo() -> None:
    at = page(_home="1")
    no_exception(at)
    assert at.title[0].value == "CNN Architecture Explorer"
    assert len(at.dataframe[0].value) == len(registry.names())


@pytest.mark.parametrize("view", ["filters", "activations", "projection", "top9", "occlusion",
                                  "predictions"])
def test_every_view_renders(view: str) -> None:
    at = page(model="alexnet", view=view, window="64", stride="32")
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    assert "random initialisation" in at.info[0].value  # offline: the weights are labelled
    assert images_shown(at) >= 1 or at.dataframe


def test_deep_link_settings_are_honoured_and_written_back() -> None:
    at = page(model="vgg11", view="activations", layer="features.3", top="4", image="coffee")
    no_exception(at)
    assert at.subheader[0].value.startswith("features.3: output 128x112x112, top 4 channels")
    assert at.query_params["model"] == "vgg11" and at.query_params["layer"] == "features.3"
    at.sidebar.selectbox(key="model").set_value("lenet5").run()
    no_exception(at)
    assert at.query_params["model"] == "lenet5"
    assert at.sidebar.radio(key="weights").value == "random"  # no ImageNet weights for LeNet


@pytest.mark.parametrize("params,warning", [
    ({"model": "alexnett"}, "'alexnett' is not a valid network"),
    ({"layer": "features.99", "view": "activations"}, "'features.99' is not a valid layer"),
    ({"top": "many", "view": "activations"}, "'many' is not a whole number"),
])
def test_bad_query_values_warn_and_fall_back(params: dict[str, str], warning: str) -> None:
    at = page(**params)
    no_exception(at)
    assert any(warning in w.value for w in at.warning), [w.value for w in at.warning]


def _png(img: Image.Image, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=kwargs.pop("format", "PNG"), **kwargs)
    return buf.getvalue()


def _bad_uploads() -> dict[str, tuple[bytes, str]]:
    """name -> (file bytes, what the page must show: an error's or a caption's text)."""
    jpeg = _png(Image.new("RGB", (64, 64), (10, 200, 30)), format="JPEG")
    gif = io.BytesIO()
    frames = [Image.new("RGB", (32, 32), (80 * i, 0, 0)) for i in range(3)]
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:])
    rgba = Image.new("RGBA", (40, 40), (255, 0, 0, 0))
    deep = Image.fromarray(np.tile(np.arange(0, 65536, 1024, dtype=np.uint16), (64, 1)))
    return {
        "notes.txt": (b"not an image at all", "not an image"),
        "empty.png": (b"", "not an image"),
        "cut.jpg": (jpeg[: len(jpeg) // 2], "corrupt"),
        "bomb.png": (_png(Image.new("1", (8000, 6000))), "megapixels; the limit is 40"),
        "deep.png": (_png(deep), "16-bit greyscale scaled to 8 bits"),
        "cmyk.jpg": (_png(Image.new("CMYK", (40, 40), (0, 255, 255, 0)), format="JPEG"),
                     "CMYK converted to RGB"),
        "alpha.png": (_png(rgba), "transparency composited on white"),
        "palette.png": (_png(Image.new("P", (40, 40), 3)), "palette colours converted to RGB"),
        "anim.gif": (gif.getvalue(), "using frame 1 of 3"),
    }


@pytest.mark.parametrize("name", list(_bad_uploads()))
def test_uploads_bad_or_odd_images(name: str) -> None:
    data, expect = _bad_uploads()[name]
    at = page(model="alexnet", view="activations", image="upload")
    at.sidebar.get("file_uploader")[0].set_value((name, data, "application/octet-stream")).run()
    no_exception(at)
    shown = [e.value for e in at.error] + [c.value for c in at.caption]
    assert any(expect in text for text in shown), shown


def test_checkpoint_weights_from_a_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "runs" / "demo" / "checkpoints"
    run.mkdir(parents=True)
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck"]
    loaded = weights.load("cifar_resnet20", "random")
    weights.save_checkpoint(run / "best.pt", model_name="cifar_resnet20", model=loaded.model,
                            meta={"epoch": 3, "test_error": 0.4, "dataset": "cifar10",
                                  "classes": classes})
    monkeypatch.setenv("CNNLIB_RUNS_DIR", str(tmp_path / "runs"))
    at = page(model="cifar_resnet20", weights="checkpoint", view="predictions",
              image="cifar/ship")
    no_exception(at)
    assert "demo/best.pt" in at.info[0].value
    assert set(at.dataframe[0].value["class"]) <= set(classes)


def test_top9_from_a_folder_with_a_bad_file(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(paths.ALLOW_ENV, str(tmp_path))  # the operator allows this folder
    for i in range(4):
        Image.new("RGB", (48, 48), (60 * i, 100, 30)).save(tmp_path / f"img{i}.png")
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    at = page(model="alexnet", view="top9", layer="features.0", search="folder",
              folder=str(tmp_path))
    no_exception(at)
    assert "among 4 images" in at.subheader[0].value
    assert any("1 file(s) skipped" in c.value for c in at.caption)
    assert images_shown(at) >= 4
    missing = page(model="alexnet", view="top9", search="folder", folder=str(tmp_path / "no"))
    no_exception(missing)
    assert any("is not a folder" in e.value for e in missing.error)


def test_occlusion_follows_the_chosen_class() -> None:
    at = page(model="cifar_resnet20", view="occlusion", image="cifar/ship", window="8",
              stride="8")
    no_exception(at)
    options = at.selectbox(key="target").options
    at.selectbox(key="target").set_value(options[2]).run()
    no_exception(at)
    assert at.subheader[0].value.startswith(f"'{options[2]}'")
    assert at.query_params["target"] == options[2]


@pytest.mark.parametrize("name", registry.names())
def test_every_zoo_model_predicts_on_a_sample(open_page, name: str) -> None:
    """The whole path for every network: weights (random offline, labelled), the sample
    preprocessed to the network's input, a forward pass, the top-5 table."""
    at = open_page("app/visualize.py", model=name, view="predictions", image="cat")
    assert "random initialisation" in at.info[0].value
    assert len(at.dataframe[0].value) == min(5, registry.get(name).num_classes)


def test_offline_the_weights_radio_shows_what_is_used_and_the_download_is_tried_once(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A failed download selects "random" in the radio (the weights really used), and is not
    retried on every rerun, only when asked."""
    calls = []

    def fail(name: str, progress=None) -> str:
        calls.append(name)
        return f"Could not download the ImageNet weights for {name} (no network)."

    monkeypatch.setattr(weights, "download", fail)
    monkeypatch.setattr(weights, "pretrained_path", lambda name: tmp_path / f"{name}.pth")
    at = page(model="alexnet", view="filters")
    no_exception(at)
    assert at.sidebar.radio(key="weights").value == "random"
    assert at.query_params["weights"] == "random"
    assert "no network" in at.warning[0].value and calls == ["alexnet"]
    at.sidebar.radio(key="view").set_value("predictions").run()  # any other rerun
    at.sidebar.radio(key="weights").set_value("pretrained").run()  # even asking again
    no_exception(at)
    assert calls == ["alexnet"] and at.sidebar.radio(key="weights").value == "random"
    at.button[0].click().run()  # "Try the download again"
    assert calls == ["alexnet", "alexnet"]
    assert at.sidebar.radio(key="weights").value == "random"
