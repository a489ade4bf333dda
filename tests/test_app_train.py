"""The Train page through AppTest: start a tiny run, see its curves appear, stop it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from cnnlib import jobs, paths, runs

ENTRY = str(Path(__file__).parent.parent / "streamlit_app.py")


def tiny_dataset(root: Path) -> Path:
    """Three colours, 32x32, with train/ and test/ splits: learnable in seconds."""
    for split, count in (("train", 40), ("test", 10)):
        for c, rgb in enumerate([(220, 30, 30), (30, 220, 30), (30, 30, 220)]):
            folder = root / split / f"class{c}"
            folder.mkdir(parents=True)
            for i in range(count):
                shade = tuple(min(255, v + 3 * i) for v in rgb)
                Image.new("RGB", (32, 32), shade).save(folder / f"{i}.png")
    return root


def train_page() -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=120)
    at.switch_page("app/train.py")
    return at.run()


def poll(at: AppTest, until, timeout: float = 120.0) -> AppTest:
    end = time.monotonic() + timeout
    while not until(at):
        assert time.monotonic() < end, [e.value for e in at.error] + [
            jobs.last_lines(jobs.log_file(j.run)) for j in jobs.queue().jobs()]
        time.sleep(1.0)
        at.run()
    return at


def test_start_watch_and_stop_a_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNNLIB_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("CNNLIB_RECORDED_RUNS", str(tmp_path / "recorded"))
    monkeypatch.setenv("CNNLIB_TRAIN_DATA", str(tiny_dataset(tmp_path / "data")))
    monkeypatch.setenv(paths.ALLOW_ENV, str(tmp_path / "data"))
    at = train_page()
    assert not at.exception
    assert any("No runs yet" in i.value for i in at.info)
    at.radio(key="preset").set_value("custom").run()
    at.multiselect(key="depths").set_value([20])
    at.number_input(key="epochs").set_value(200)  # long enough to stop it midway
    at.number_input(key="limit").set_value(0)  # every training image
    at.number_input(key="batch").set_value(16)
    at.button[0].click().run()  # the form's Start
    assert not at.exception, [e.value for e in at.exception]
    run = Path(at.query_params["run"])
    assert run.parent == tmp_path / "runs"
    poll(at, lambda a: len(a.get("plotly_chart")) == 1 and runs.curves(run).shape[0] >= 2)
    curves = runs.curves(run)
    assert set(curves["model"]) == {"cifar_plain20", "cifar_resnet20"}
    assert (curves["train_error"].between(0, 1)).all()
    stop = next(b for b in at.button if b.label == "Stop")
    stop.click().run()
    poll(at, lambda a: runs.run_status(run) == "stopped"
         and not any(b.label == "Stop" for b in a.button))
    assert not at.exception
    assert any(j.run == run and j.state == "stopped" for j in jobs.queue().jobs())
    assert runs.checkpoint_path(run, "cifar_resnet20", "final").is_file()
    assert "stopped" in at.get("progress")[0].proto.text
    assert runs.describe(run).startswith(f"{run.name}: plain20, resnet20 (200 epochs) · ")
