"""Run folders come from anywhere (copied, hand-edited, cut short by a full disk): every
malformed one is listed as unreadable with a sentence, and the Train page never breaks."""

from __future__ import annotations

import io
import json
import random
import struct
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from cnnlib import runs

ENTRY = str(Path(__file__).parent.parent / "streamlit_app.py")
MODELS = ["cifar_plain20", "cifar_resnet20"]


def good_run(run: Path, epochs: int = 2) -> Path:
    """A finished two-model run, written as cnnlib.train writes one (without training)."""
    run.mkdir(parents=True)
    (run / runs.CONFIG).write_text(json.dumps({"models": MODELS, "epochs": epochs}))
    lines = []
    for epoch in range(1, epochs + 1):
        for model in MODELS:
            lines.append({"model": model, "epoch": epoch, "step": 10 * epoch,
                          "train_loss": 2.0 / epoch, "train_error": 0.5, "test_error": 0.6,
                          "test_images": 100, "images_per_s": 900.0, "seconds": 3.0 * epoch})
    lines.append({"event": "finished", "epoch": epochs, "step": 10 * epochs, "seconds": 7.0})
    (run / runs.METRICS).write_text("".join(json.dumps(r) + "\n" for r in lines))
    for model in MODELS:
        folder = run / "filters" / model
        folder.mkdir(parents=True)
        for epoch in range(epochs + 1):
            picture = Image.new("RGB", (17, 17), (40 * epoch, 90, 200))
            picture.save(folder / f"epoch_{epoch:03d}.png")
    return run


def _png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr
            + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)))


def _edit_metrics(run: Path, change: Callable[[list[dict]], list]) -> None:
    records = [json.loads(line) for line in (run / runs.METRICS).read_text().splitlines()]
    (run / runs.METRICS).write_text("".join(json.dumps(r) + "\n" for r in change(records)))


def _set(index: int, **values: object) -> Callable[[list[dict]], list]:
    def change(records: list[dict]) -> list:
        records[index] = {**records[index], **values}
        return records
    return change


def _drop(key: str) -> Callable[[list[dict]], list]:
    def change(records: list[dict]) -> list:
        records[0].pop(key)
        return records
    return change


def _last_picture(run: Path) -> Path:
    return run / "filters" / MODELS[0] / "epoch_002.png"


#: name -> how it breaks a good run folder (each once crashed the page or its helpers).
BREAKAGES: dict[str, Callable[[Path], object]] = {
    "metrics not utf-8": lambda r: (r / runs.METRICS).write_bytes(
        b"\xff\xfe{\"model\": 1}\n" + (r / runs.METRICS).read_bytes()),
    "config not utf-8": lambda r: (r / runs.CONFIG).write_bytes(b"\xff\xfe\x00{"),
    "config a list": lambda r: (r / runs.CONFIG).write_text("[1, 2]"),
    "config a string": lambda r: (r / runs.CONFIG).write_text('"models"'),
    "config without models": lambda r: (r / runs.CONFIG).write_text('{"epochs": 2}'),
    "models not a list": lambda r: (r / runs.CONFIG).write_text('{"models": 5, "epochs": 2}'),
    "models of numbers": lambda r: (r / runs.CONFIG).write_text('{"models": [1], "epochs": 2}'),
    "no models": lambda r: (r / runs.CONFIG).write_text('{"models": [], "epochs": 2}'),
    "epochs 0": lambda r: (r / runs.CONFIG).write_text(json.dumps({"models": MODELS,
                                                                   "epochs": 0})),
    "epochs a string": lambda r: (r / runs.CONFIG).write_text(json.dumps({"models": MODELS,
                                                                          "epochs": "2"})),
    "epochs missing": lambda r: (r / runs.CONFIG).write_text(json.dumps({"models": MODELS})),
    "record without epoch": lambda r: _edit_metrics(r, _drop("epoch")),
    "record without images_per_s": lambda r: _edit_metrics(r, _drop("images_per_s")),
    "epoch a string": lambda r: _edit_metrics(r, _set(0, epoch="1")),
    "epoch a float": lambda r: _edit_metrics(r, _set(0, epoch=1.5)),
    "error None": lambda r: _edit_metrics(r, _set(1, test_error=None)),
    "error a list": lambda r: _edit_metrics(r, _set(1, train_error=[1])),
    "speed a string": lambda r: _edit_metrics(r, _set(-2, images_per_s="fast")),
    "unknown model": lambda r: _edit_metrics(r, _set(0, model="cifar_resnet9000")),
    "model a dict": lambda r: _edit_metrics(r, _set(0, model={"a": 1})),
    "event unknown": lambda r: _edit_metrics(r, _set(-1, event="exploded")),
    "event epoch a string": lambda r: _edit_metrics(r, _set(-1, epoch="two")),
    "diverged without model": lambda r: _edit_metrics(r, lambda rs: [*rs[:-1], {
        "event": "diverged", "epoch": 1, "step": 3}, rs[-1]]),
    "picture corrupt": lambda r: _last_picture(r).write_bytes(_png_header(17, 17) + b"junk"),
    "picture huge": lambda r: _last_picture(r).write_bytes(_png_header(60_000, 60_000)),
    "picture not a png": lambda r: _last_picture(r).write_bytes(b"GIF89a not a png"),
    "picture a folder": lambda r: (_last_picture(r).unlink(), _last_picture(r).mkdir()),
}
#: Breakages after which the run is still shown: the picture is left out, or the line that
#: is not UTF-8 JSON skipped, as a line cut short by a kill is.
SHOWN_ANYWAY = {"picture corrupt", "picture huge", "picture not a png", "picture a folder",
                "metrics not utf-8"}


@pytest.mark.parametrize("name", list(BREAKAGES))
def test_check_run_names_the_problem(tmp_path: Path, name: str) -> None:
    run = good_run(tmp_path / "run")
    assert runs.check_run(run) is None
    BREAKAGES[name](run)
    problem = runs.check_run(run)
    if name == "metrics not utf-8":
        assert problem is None and len(runs.read_metrics(run)) == 5
    elif name in SHOWN_ANYWAY:
        assert problem is None
        assert all(p.stat().st_size < 1000 and p.is_file()
                   for p in runs.filter_snapshots(run, MODELS[0]))
        assert len(runs.filter_snapshots(run, MODELS[0])) == 2
    else:
        assert problem and problem.endswith(".") and "\n" not in problem, problem


def test_every_broken_run_folder_leaves_the_train_page_working(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each broken folder made the newest (the page's default), next to one good run: the
    page lists the broken ones with one warning, shows the good one, and never raises."""
    monkeypatch.setenv("CNNLIB_RUNS_DIR", str(tmp_path / "runs"))
    good = good_run(tmp_path / "runs" / "good")
    names = list(BREAKAGES)
    random.Random(0).shuffle(names)
    deadline = time.monotonic() + 120  # bounded: the folders are checked in a few seconds
    for i, name in enumerate(names):
        run = good_run(tmp_path / "runs" / f"broken-{i:02d}")
        BREAKAGES[name](run)
        at = AppTest.from_file(ENTRY, default_timeout=60)
        at.switch_page("app/train.py")
        at.run()
        assert not at.exception, (name, [e.value for e in at.exception])
        assert not at.error, (name, [e.value for e in at.error])
        unreadable = [w.value for w in at.warning if "cannot be shown" in w.value]
        assert len(unreadable) <= 1, unreadable
        assert bool(unreadable) == (i > 0 or name not in SHOWN_ANYWAY) or unreadable, name
        options = at.selectbox(key="run").options
        assert good.name in options, (name, options)
        assert time.monotonic() < deadline
    # every folder but the ones with only a bad picture is listed as unreadable
    assert f"{sum(n not in SHOWN_ANYWAY for n in names)} run folder(s)" in unreadable[0]


def test_filter_picture_check_reads_no_more_than_the_header(tmp_path: Path) -> None:
    picture = tmp_path / "epoch_000.png"
    buffer = io.BytesIO()
    Image.new("RGB", (136, 136)).save(buffer, format="PNG")
    picture.write_bytes(buffer.getvalue())
    assert runs._is_filter_picture(picture)
    picture.write_bytes(_png_header(2000, 10))
    assert not runs._is_filter_picture(picture)
