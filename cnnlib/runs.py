"""A training run is a folder, written as it goes; the app only ever reads folders.

Why a folder of plain files rather than a process to talk to: a run can be killed at any
moment (a closed laptop, a GPU lease that ends) and must keep everything up to its last
record, and the dashboard must show a run whether it is going on in another process, was
recorded last week, or was copied from another machine. Layout of ``runs/<id>/``:

- ``config.json``: what was trained and how (models, data, epochs, recipe with all its
  hyper-parameters, device and GPU, torch version, seed, ...) and a free-text ``note``.
- ``metrics.jsonl``: one JSON record a line, appended and fsync'ed one at a time, so a kill
  loses at most the line being written, which :func:`read_metrics` skips. Per model and
  evaluation: ``{"model", "epoch", "step", "train_loss", "train_error", "test_error",
  "test_images", "images_per_s", "seconds"}`` (errors are fractions; ``train_error`` is the
  running mean over the epoch's augmented batches; ``test_images`` how many test images the
  error is over; ``seconds`` since the run started).
  Events: ``{"model", "event": "diverged", "step", "epoch", "message"}``, and at the end
  ``{"event": "stopped" | "finished", "epoch", "step", "seconds"}``.
- ``checkpoints/<model>-best.pt`` and ``<model>-final.pt``: cnnlib checkpoints
  (:func:`cnnlib.weights.save_checkpoint`), which the app's weight picker loads.
- ``state/<model>.pt``: what resuming needs besides the weights.
- ``filters/<model>/epoch_NNN.png``: the first layer's filters after each epoch (000: the
  initialisation), 8x enlarged so they stay crisp on a projector.

Every file except ``metrics.jsonl`` appears atomically (written beside, then renamed).
Reading runs needs neither torch nor PIL, so a page that lists runs stays light.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cnnlib.errors import CnnlibError

if TYPE_CHECKING:
    import pandas as pd
    from torch import nn

CONFIG = "config.json"
METRICS = "metrics.jsonl"
METRIC_KEYS = ("model", "epoch", "step", "train_loss", "train_error", "test_error",
               "test_images", "images_per_s", "seconds")
END_EVENTS = ("stopped", "finished")
FILTER_ZOOM = 8
#: The recorded runs shipped with the app (relative, as the pages list and link them).
RECORDED = Path("assets/runs")
# A run with no end event is "incomplete" (it crashed) once nothing was written for this long,
# or for three times its longest gap between evaluations if that is longer: a CPU epoch can
# take many minutes, and metrics are written only when an epoch ends.
STALE_AFTER_S = 600.0
# Settings that describe where a run ran, not what it trains: they may differ on a rerun.
_CIRCUMSTANCES = {"created", "note", "device", "gpu", "torch", "compile"}
_OUTPUTS = (METRICS, "checkpoints", "state", "filters")

Status = Literal["running", "finished", "stopped", "diverged", "incomplete"]


def runs_dir() -> Path:
    """Where new runs go: $CNNLIB_RUNS_DIR, else ``runs`` (as the dashboard looks for them)."""
    return Path(os.environ.get("CNNLIB_RUNS_DIR", "runs"))


def write_atomic(path: Path, write: Callable[[Path], Any]) -> None:
    """``write(tmp)`` into a temporary file beside ``path``, then rename it to ``path``, so a
    reader (or a kill) never sees half a file."""
    write_atomic_all({path: write})


def write_atomic_all(files: dict[Path, Callable[[Path], Any]]) -> None:
    """Several files written first and renamed together: a kill leaves all old or all new
    (but for the microseconds between the renames), e.g. every model's resume state."""
    temps: dict[Path, Path] = {}
    try:
        for path, write in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
            os.close(fd)
            temps[path] = Path(tmp)
            write(temps[path])
        for path, tmp in temps.items():
            os.replace(tmp, path)
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)


def new_run(out: Path | None, config: dict, *, resume: bool = False) -> Path:
    """Create the run folder ``out`` (default ``runs_dir() / new_run_id()``) with its
    ``config.json``.

    A folder that already holds a run is left as it is when ``resume``; otherwise it is
    started afresh if its config is the same (apart from where and when it ran), and refused
    if it is a different run, so that a typo in ``--out`` cannot wipe another experiment.
    Other files are left alone: the dashboard's job queue writes its log and pid into the
    folder before the training process starts.
    """
    if out is None:
        out = runs_dir() / new_run_id()
    run = Path(out)
    config = {**config, "created": config.get("created") or
              datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if (run / CONFIG).is_file():
        if resume:
            return run
        old = read_config(run)
        if _identity(old) != _identity(config):
            raise CnnlibError(f"{run} holds a different run ({', '.join(old.get('models', []))}"
                              f", {old.get('epochs')} epochs); choose another --out, or pass "
                              "--resume to continue that run.")
        for name in _OUTPUTS:
            target = run / name
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
    write_atomic(run / CONFIG, lambda tmp: tmp.write_text(json.dumps(config, indent=2) + "\n"))
    return run


def new_run_id() -> str:
    """``<date>-<time>-<4 hex digits>``: sorts by time, and two runs started in the same
    second (two tabs, a queue) still get different folders."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def _identity(config: dict) -> dict:
    """What makes two configs the same run, as JSON sees it (tuples and lists alike)."""
    return json.loads(json.dumps({k: v for k, v in config.items() if k not in _CIRCUMSTANCES}))


def read_config(run: Path) -> dict:
    path = Path(run) / CONFIG
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise CnnlibError(f"{run} is not a readable run folder ({path.name}: {err}).") from err


def read_metrics(run: Path) -> list[dict]:
    """Every complete record of ``metrics.jsonl`` in order; a partial last line (a run killed
    while writing it) or a missing file gives nothing for that line."""
    try:
        lines = (Path(run) / METRICS).read_text().splitlines()
    except FileNotFoundError:
        return []
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def append_metric(run: Path, record: dict) -> None:
    """Append one record as a line and fsync it, so a kill right after loses nothing."""
    with open(Path(run) / METRICS, "a") as f:
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())


def rewrite_metrics(run: Path, records: list[dict]) -> None:
    """Replace ``metrics.jsonl`` with ``records`` (atomically): a resumed run drops what was
    written after the state it resumes from, and any partial last line with it."""
    text = "".join(json.dumps(r) + "\n" for r in records)
    write_atomic(Path(run) / METRICS, lambda tmp: tmp.write_text(text))


def list_runs(*folders: Path) -> list[Path]:
    """Every run folder (one with a config.json) in ``folders`` (default :func:`runs_dir`),
    newest first."""
    found = {path.parent for folder in (folders or (runs_dir(),))
             for path in Path(folder).glob(f"*/{CONFIG}")}
    return sorted(found, key=lambda run: ((run / CONFIG).stat().st_mtime, str(run)),
                  reverse=True)


def run_status(run: Path, *, now: float | None = None, stale_after: float = STALE_AFTER_S,
               records: list[dict] | None = None, config: dict | None = None) -> Status:
    """What the records say: the last record's end event ("diverged" if every model diverged),
    else "running", or "incomplete" (a crash) when nothing was written for a long while.
    ``records``/``config`` spare a caller that has read them already a second read."""
    run = Path(run)
    records = read_metrics(run) if records is None else records
    config = read_config(run) if config is None else config
    models = set(config.get("models", []))
    diverged = {r.get("model") for r in records if r.get("event") == "diverged"}
    if records and records[-1].get("event") in END_EVENTS:
        return "diverged" if models and models <= diverged else records[-1]["event"]
    seconds = sorted({r["seconds"] for r in records
                      if isinstance(r.get("seconds"), (int, float))})
    gaps = [b - a for a, b in pairwise([0.0, *seconds])]
    last_write = max((run / name).stat().st_mtime for name in (CONFIG, METRICS)
                     if (run / name).exists())
    idle = (time.time() if now is None else now) - last_write
    return "incomplete" if idle > max([stale_after, *(3 * g for g in gaps)]) else "running"


def checkpoint_path(run: Path, model: str, kind: Literal["best", "final"]) -> Path:
    return Path(run) / "checkpoints" / f"{model}-{kind}.pt"


def state_path(run: Path, model: str) -> Path:
    return Path(run) / "state" / f"{model}.pt"


def filter_snapshots(run: Path, model: str) -> list[Path]:
    """The model's filter pictures in epoch order (``epoch_000.png`` is the initialisation)."""
    return sorted((Path(run) / "filters" / model).glob("epoch_*.png"))


def save_filters(run: Path, model_name: str, model: nn.Module, epoch: int) -> Path:
    """The first conv's filters after ``epoch`` as a PNG, each weight an 8x8 block of pixels."""
    from PIL import Image  # here, not at the top: only a training process writes pictures

    from cnnlib.visualize import enlarge, filter_grid

    picture = Image.fromarray(enlarge(filter_grid(model).image, FILTER_ZOOM))
    path = Path(run) / "filters" / model_name / f"epoch_{epoch:03d}.png"
    write_atomic(path, lambda tmp: picture.save(tmp, format="PNG"))
    return path


# ---------------------------------------------------------------- what the dashboard shows


def family_and_depth(model: str) -> tuple[str, int]:
    """("plain" | "residual", layers) of a zoo CIFAR name: cifar_plain56 -> ("plain", 56)."""
    found = re.search(r"\d+$", model)
    return ("plain" if "plain" in model else "residual"), int(found.group()) if found else 0


def describe(run: Path) -> str:
    """One line about a run: its id, models, epochs and the GPU it ran on."""
    if not (Path(run) / CONFIG).is_file():
        return f"{Path(run).name}: starting"  # queued, or its process is starting up
    config = read_config(run)
    models = ", ".join(m.removeprefix("cifar_") for m in config.get("models", []))
    gpu = f", {config['gpu']}" if config.get("gpu") else ""
    return f"{Path(run).name}: {models} ({config.get('epochs')} epochs{gpu})"


def curves(run: Path) -> pd.DataFrame:
    """The evaluation records as a table (one row per model and epoch), events left out."""
    import pandas as pd

    rows = [r for r in read_metrics(run) if "event" not in r]
    return pd.DataFrame(rows, columns=list(METRIC_KEYS))


def summary(run: Path) -> dict[str, Any]:
    """Where a run stands: the fraction of epochs done, a line with speed and time left, and
    a sentence per model that diverged."""
    config, records = read_config(run), read_metrics(run)
    evaluations = [r for r in records if "event" not in r]
    epochs = int(config.get("epochs", 1))
    done = max((int(r["epoch"]) for r in evaluations), default=0)
    status = run_status(run, records=records, config=config)
    text = f"{status}: epoch {done} of {epochs}"
    if evaluations:
        last = evaluations[-1]
        text += f" · {last['images_per_s']:,.0f} images/s"
        if status == "running" and done:
            left = last["seconds"] / done * (epochs - done)
            text += f" · about {left / 60:.0f} min left" if left >= 90 else \
                f" · about {left:.0f} s left"
    diverged = [f"{r['model']} diverged at epoch {r.get('epoch')}: {r.get('message', '')}"
                for r in records if r.get("event") == "diverged"]
    return {"fraction": min(1.0, done / epochs), "text": text, "status": status,
            "diverged": diverged}
