"""The Fig. 6 lesson: presets, the sentences under the chart, the replay, the overlay beneath a
live run, and the GPU proof's logic (on the CPU, with tiny settings)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from app import curves as charts
from cnnlib import __main__ as cli
from cnnlib import bench, runs, train
from cnnlib.errors import CnnlibError

ENTRY = str(Path(__file__).parent.parent / "streamlit_app.py")
EPOCHS = 5
# plain-56 above plain-20 in every epoch; ResNet-56 below ResNet-20 from epoch 2
ERRORS = {"cifar_plain20": [0.60, 0.45, 0.35, 0.28, 0.22],
          "cifar_plain56": [0.80, 0.62, 0.50, 0.41, 0.33],
          "cifar_resnet20": [0.55, 0.40, 0.31, 0.25, 0.20],
          "cifar_resnet56": [0.56, 0.38, 0.28, 0.21, 0.16]}


def recorded_run(folder: Path, errors: dict[str, list[float]] = ERRORS) -> Path:
    """A finished run folder as cnnlib.train writes it, with the given training errors."""
    folder.mkdir(parents=True)
    epochs = len(next(iter(errors.values())))
    config = {"models": list(errors), "epochs": epochs, "test_subset": None,
              "dataset": {"train_images": 50_000, "test_images": 10_000},
              "recipe": {"name": "quick", "batch_size": 128, "lr": 0.1},
              "cpu": "AMD EPYC", "cores": 2, "precision": "bf16", "device": "cpu",
              "torch": "2.14.1"}
    (folder / runs.CONFIG).write_text(json.dumps(config))
    for epoch in range(1, epochs + 1):
        for model, errs in errors.items():
            runs.append_metric(folder, {
                "model": model, "epoch": epoch, "step": 390 * epoch, "train_loss": 1.0,
                "train_error": errs[epoch - 1], "test_error": errs[epoch - 1] + 0.05,
                "test_images": 10_000, "images_per_s": 100.0, "seconds": 600.0 * epoch})
    runs.append_metric(folder, {"event": "finished", "epoch": epochs, "step": 390 * epochs,
                                "seconds": 600.0 * epochs})
    for model in errors:
        for epoch in range(epochs + 1):
            path = folder / "filters" / model / f"epoch_{epoch:03d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (8, 8), (epoch * 40, 0, 0)).save(path)
    return folder


# ---------------------------------------------------------------- sentences and the line


def test_the_lesson_names_the_gap_and_how_long_it_held(tmp_path: Path) -> None:
    sentences = runs.lesson(runs.curves(recorded_run(tmp_path / "r")))
    assert sentences[0] == ("After epoch 5, plain-56 has 33.0% training error and plain-20 "
                            "22.0%: the deeper net is 11.0 points worse, and was above over "
                            "5 of 5 epochs — the degradation problem.")
    assert sentences[1].startswith("After epoch 5, ResNet-56 has 16.0% training error and "
                                   "ResNet-20 20.0%: the deeper net is 4.0 points better")


def test_a_run_that_does_not_separate_two_nets_says_so(tmp_path: Path) -> None:
    close = {"cifar_resnet20": [0.5, 0.3], "cifar_resnet56": [0.52, 0.305]}
    sentences = runs.lesson(runs.curves(recorded_run(tmp_path / "r", close)))
    assert sentences == ["After epoch 2, ResNet-56 has 30.5% training error and ResNet-20 "
                         "30.0%: they do not separate yet (under a point apart) in 2 epochs."]
    assert runs.lesson(runs.curves(recorded_run(tmp_path / "one", {"cifar_plain20": [.5]}))) \
        == []


def test_the_run_line_says_data_recipe_machine_time_and_torch(tmp_path: Path) -> None:
    line = runs.describe(recorded_run(tmp_path / "fig6"))
    assert line == ("fig6: plain20, plain56, resnet20, resnet56 (5 epochs) · 50,000 training "
                    "/ 10,000 test images · quick recipe, batch 128, peak learning rate 0.1 · "
                    "AMD EPYC (2 cores), bf16 · 50 min of training · torch 2.14.1")


# ---------------------------------------------------------------- the figure


def test_a_replay_draws_up_to_its_epoch_on_the_whole_runs_axes(tmp_path: Path) -> None:
    curves = runs.curves(recorded_run(tmp_path / "r"))
    full = charts.figure(curves, epochs=EPOCHS)
    part = charts.figure(curves, epochs=EPOCHS, until=2)
    assert len(full.data) == len(part.data) == 8  # 4 models x (train, test)
    assert all(len(t.x) == 5 for t in full.data) and all(len(t.x) == 2 for t in part.data)
    assert part.layout.xaxis.range == full.layout.xaxis.range == (0.5, 5.5)
    assert part.layout.yaxis.range == full.layout.yaxis.range  # the axes stay still
    assert part.layout.xaxis.dtick == 1  # whole epochs, never 1.2, 1.4
    plain = [t.line.color for t in full.data if t.name.startswith("plain")]
    residual = [t.line.color for t in full.data if t.name.startswith("ResNet")]
    assert set(plain) <= set(charts.COLOURS["plain"])
    assert set(residual) <= set(charts.COLOURS["residual"])


def test_a_live_run_draws_the_recorded_one_faded_beneath(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    monkeypatch.setenv("CNNLIB_RECORDED_RUNS", str(tmp_path / "recorded"))
    reference = recorded_run(tmp_path / "recorded" / "fig6")
    recorded_run(tmp_path / "recorded" / "other", {"cifar_plain110": [0.9]})
    live = recorded_run(tmp_path / "live", {m: ERRORS[m][:2] for m in ("cifar_plain20",
                                                                       "cifar_plain56")})
    assert runs.reference_run(["cifar_plain20", "cifar_plain56"]) == reference
    assert runs.reference_run(["cifar_resnet110"]) is None
    fig = charts.figure(runs.curves(live), epochs=2, reference=runs.curves(reference),
                        reference_name="recorded")
    faded = [t for t in fig.data if t.opacity == charts.REFERENCE_OPACITY]
    bold = [t for t in fig.data if t.opacity is None]
    assert len(faded) == 4 and len(bold) == 4  # only the live run's two models, beneath
    assert fig.data.index(faded[-1]) < fig.data.index(bold[0])
    assert all(len(t.x) == 5 for t in faded) and fig.layout.xaxis.range == (0.5, 5.5)


# ---------------------------------------------------------------- the Train page


def train_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("CNNLIB_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("CNNLIB_RECORDED_RUNS", str(tmp_path / "recorded"))
    recorded_run(tmp_path / "recorded" / "fig6")
    at = AppTest.from_file(ENTRY, default_timeout=60)
    at.switch_page("app/train.py")
    return at.run()


def points(at: AppTest) -> list[int]:
    """Points per trace of the page's chart (plotly sends arrays as typed base64 data)."""
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    xs = [t["x"] for t in spec["data"]]
    return [len(np.frombuffer(base64.b64decode(x["bdata"]), dtype=x["dtype"]))
            if isinstance(x, dict) else len(x) for x in xs]


def test_a_fresh_checkout_opens_on_the_recorded_run_and_replays_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = train_page(tmp_path, monkeypatch)
    assert not at.exception and not at.error
    assert points(at) == [5] * 8  # the whole run, no training started
    assert any("degradation problem" in m.value for m in at.markdown)
    assert any("fig6: plain20, plain56" in c.value for c in at.caption)
    play = next(b for b in at.button if b.label == "Play")
    play.click().run()  # at the end, so it starts again from epoch 1
    assert points(at) == [1] * 8 and at.query_params["epoch"] == "1"
    at.run()  # a tick of the replay's timer
    assert points(at) == [2] * 8
    assert any(b.label == "Pause" for b in at.button)
    next(b for b in at.button if b.label == "Pause").click().run()
    at.run()
    assert points(at) == [2] * 8  # paused: no more ticks
    at.slider(key="epoch").set_value(4).run()  # scrub
    assert points(at) == [4] * 8
    assert all(i.proto.imgs[0].caption.endswith("after epoch 4") for i in at.get("image"))


def test_the_presets_are_what_the_page_and_the_command_line_run(tmp_path: Path) -> None:
    lesson = train.preset("cpu-lesson")
    assert lesson.models == train.FIG6 and lesson.recipe == "quick"
    assert lesson.limit_train and lesson.test_subset and lesson.epochs >= 2
    assert train.preset("gpu").epochs == 30 and train.preset("gpu").limit_train is None
    with pytest.raises(CnnlibError, match="Unknown preset 'fast'; choose cpu-lesson or gpu"):
        train.preset("fast")
    assert cli.main(["train", "--preset", "fast", "--data", str(tmp_path)]) == 2


def test_the_command_line_expands_a_preset_and_its_flags_override_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(train.PRESETS, "tiny", train.Preset("tiny", "tiny", train.TrainSettings(
        models=("cifar_plain20", "cifar_resnet20"), recipe="quick", epochs=2, batch_size=8,
        limit_train=24, test_subset=5)))
    data = colour_folder(tmp_path / "data", 12)
    assert cli.main(["train", "--preset", "tiny", "--data", str(data), "--epochs", "1",
                     "--device", "cpu", "--out", str(tmp_path / "run")]) == 0
    config = runs.read_config(tmp_path / "run")
    assert config["models"] == ["cifar_plain20", "cifar_resnet20"] and config["epochs"] == 1
    assert config["batch_size"] == 8 and config["limit_train"] == 24
    assert config["test_subset"] == 5 and config["note"] == "--preset tiny"


def colour_folder(root: Path, per_class: int) -> Path:
    """Three colour classes with train/ and test/ splits."""
    for split, count in (("train", per_class), ("test", max(2, per_class // 4))):
        for c, rgb in enumerate([(220, 30, 30), (30, 220, 30), (30, 30, 220)]):
            folder = root / split / f"class{c}"
            folder.mkdir(parents=True)
            for i in range(count):
                Image.new("RGB", (32, 32), tuple(min(255, v + i % 30) for v in rgb)).save(
                    folder / f"{i}.png")
    return root


def test_the_gpu_proof_writes_its_run_figures_and_table(tmp_path: Path) -> None:
    """The one-call GPU script's logic on the CPU: one epoch of one quick-recipe batch (512)
    for the four nets, ResNet-20 alone, and two tutorial steps."""
    data = colour_folder(tmp_path / "data", 172)  # 516 training images: one batch of 512
    out = tmp_path / "proof"
    assert bench.main(["gpu", "--data", str(data), "--out", str(out), "--device", "cpu",
                       "--epochs", "1", "--peer-steps", "2"]) == 0
    figures = json.loads((out / "gpu-proof.json").read_text())
    assert set(figures["race_final"]) == set(train.FIG6)
    assert runs.run_status(out / "fig6-gpu") == "finished"
    assert runs.read_config(out / "fig6-gpu")["epochs"] == 1
    assert figures["resnet20"]["images_per_s"] > 0 and figures["tutorial_images_per_s"] > 0
    assert figures["ratio"] == pytest.approx(figures["resnet20"]["images_per_s"]
                                             / figures["tutorial_images_per_s"])
    table = (out / "gpu-proof.md").read_text()
    assert table.startswith("| figure | value |") and "time to 91.25%" in table
    assert pd.notna(figures["total_s"])
