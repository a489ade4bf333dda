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

import fcntl
import json
import os
import re
import secrets
import shutil
import threading
import time
import zlib
from datetime import datetime, timezone
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from cnnlib.errors import CnnlibError
from cnnlib.files import write_atomic

if TYPE_CHECKING:
    import pandas as pd
    from torch import nn

CONFIG = "config.json"
METRICS = "metrics.jsonl"
METRIC_KEYS = ("model", "epoch", "step", "train_loss", "train_error", "test_error",
               "test_images", "images_per_s", "seconds")
END_EVENTS = ("stopped", "finished")
FILTER_ZOOM = 8
# A run with no end event is "incomplete" (it crashed) once nothing was written for this long,
# or for three times its longest gap between evaluations if that is longer: a CPU epoch can
# take many minutes, and metrics are written only when an epoch ends.
STALE_AFTER_S = 600.0
# Settings that describe where a run ran, not what it trains: they may differ on a rerun.
_CIRCUMSTANCES = {"created", "note", "device", "gpu", "torch", "compile"}
_OUTPUTS = (METRICS, "checkpoints", "state", "filters")

LOCK = ".lock"
_LOCKS: dict[Path, int] = {}  # run folder -> the descriptor holding its lock (process-long)
_LOCKS_GUARD = threading.Lock()

Status = Literal["running", "finished", "stopped", "diverged", "incomplete"]


def runs_dir() -> Path:
    """Where new runs go: $CNNLIB_RUNS_DIR, else ``runs`` (as the dashboard looks for them)."""
    return Path(os.environ.get("CNNLIB_RUNS_DIR", "runs"))


def recorded_dir() -> Path:
    """The recorded runs that ship with the app (``assets/runs`` of this checkout, wherever
    the server was started from), or $CNNLIB_RECORDED_RUNS."""
    default = Path(__file__).resolve().parent.parent / "assets" / "runs"
    return Path(os.environ.get("CNNLIB_RECORDED_RUNS") or default)


def run_folders() -> tuple[Path, Path]:
    """Every folder the app looks in for runs: new ones (:func:`runs_dir`) and the recorded
    ones (:func:`recorded_dir`), so the Train page, the checkpoint picker and the paths a page
    may read agree on where runs live."""
    return runs_dir(), recorded_dir()


def reference_run(models: list[str], exclude: Path | None = None) -> Path | None:
    """The recorded run that shares the most of ``models`` (the longest of those on a tie),
    to draw beneath a live run of them; None when no recorded run trains any."""
    best, best_key = None, (0, 0)
    for run in list_runs(recorded_dir()):
        if exclude is not None and run.resolve() == Path(exclude).resolve():
            continue
        if check_run(run) is not None:  # a broken recorded run is no reference
            continue
        config = read_config(run)
        key = (len(set(models) & set(config["models"])), config["epochs"])
        if key[0] and key > best_key:
            best, best_key = run, key
    return best


def new_run(out: Path | None, config: dict, *, resume: bool = False) -> Path:
    """Create the run folder ``out`` (default ``runs_dir() / new_run_id()``) with its
    ``config.json``.

    A folder that already holds a run is left as it is when ``resume``; otherwise it is
    started afresh if its config is the same (apart from where and when it ran), and refused
    if it is a different run, so that a typo in ``--out`` cannot wipe another experiment.
    Other files are left alone: the dashboard's job queue writes its log and pid into the
    folder before the training process starts. The folder is locked first
    (:func:`lock_run`), so a run another process is writing is neither wiped nor resumed.
    """
    if out is None:
        out = runs_dir() / new_run_id()
    run = Path(out)
    lock_run(run)
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


def lock_run(run: Path) -> None:
    """Hold ``run``'s lock (an exclusive ``flock`` on ``<run>/.lock``) until this process
    ends, or raise a one-sentence CnnlibError naming the process that holds it. Two
    processes writing one folder (``--out`` given twice, ``--resume`` while the first is
    alive) would interleave their epochs and both write "finished"; the kernel drops the
    lock of a process however it ends, kill -9 included, so a stale lock cannot exist."""
    key = Path(run).resolve()
    with _LOCKS_GUARD:
        if key in _LOCKS:
            return  # this process holds it already (a resume in the same process)
        Path(run).mkdir(parents=True, exist_ok=True)
        fd = os.open(Path(run) / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise CnnlibError(f"{run} is being written by another training process (pid "
                              f"{holder}); wait for it to end or stop it, or choose another "
                              "--out.") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        _LOCKS[key] = fd


def new_run_id() -> str:
    """``<date>-<time>-<4 hex digits>``: sorts by time, and two runs started in the same
    second (two tabs, a queue) still get different folders."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def _identity(config: dict) -> dict:
    """What makes two configs the same run, as JSON sees it (tuples and lists alike)."""
    return json.loads(json.dumps({k: v for k, v in config.items() if k not in _CIRCUMSTANCES}))


def read_config(run: Path) -> dict:
    """``config.json`` as a dict; a CnnlibError if it is missing, not JSON or not an object."""
    path = Path(run) / CONFIG
    try:
        config = json.loads(path.read_bytes().decode())
    except (OSError, ValueError) as err:  # UnicodeDecodeError is a ValueError
        raise CnnlibError(f"{run} is not a readable run folder ({path.name}: {err}).") from err
    if not isinstance(config, dict):
        raise CnnlibError(f"{run} is not a readable run folder ({path.name} holds a "
                          f"{type(config).__name__}, not an object).")
    return config


def read_metrics(run: Path) -> list[dict]:
    """Every complete record of ``metrics.jsonl`` in order; a partial last line (a run killed
    while writing it), a line that is not UTF-8 JSON, or a missing file gives nothing for
    that line. Whether the records make sense is :func:`check_run`'s question."""
    try:
        lines = (Path(run) / METRICS).read_bytes().splitlines()
    except FileNotFoundError:
        return []
    records = []
    for line in lines:
        try:
            record = json.loads(line.decode())
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_count(value: Any, least: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _record_problem(record: dict, models: list[str]) -> str | None:
    """What is wrong with one metrics record, as the dashboard reads it (None: nothing)."""
    event = record.get("event")
    if event is None:
        missing = [k for k in METRIC_KEYS if k not in record]
        if missing:
            return f"a record lacks {', '.join(missing)}"
        if record["model"] not in models:
            return f"a record is for {str(record['model'])[:40]!r}, which the run does not train"
        if not (_is_count(record["epoch"], 1) and _is_count(record["step"])
                and _is_count(record["test_images"])
                and all(_is_number(record[k]) for k in ("train_loss", "train_error",
                                                        "test_error", "images_per_s",
                                                        "seconds"))):
            return "a record has a value of the wrong type"
        return None
    if event not in (*END_EVENTS, "diverged"):
        return f"an event {str(event)[:40]!r} that no run writes"
    if event == "diverged" and (record.get("model") not in models
                                or not isinstance(record.get("message", ""), str)):
        return "a diverged event without its model"
    if not _is_count(record.get("epoch", 0)) or not _is_number(record.get("seconds", 0)):
        return "an event with a value of the wrong type"
    return None


def check_run(run: Path) -> str | None:
    """Why the dashboard cannot show ``run`` (one sentence), or None when it can.

    A run folder may come from anywhere (copied from another machine, edited by hand, cut
    short by a full disk), so a page asks this before drawing one and lists the folder as
    unreadable instead of failing: config.json must be a JSON object naming a list of
    models and at least one epoch, and every record of metrics.jsonl must have the keys
    and types its writer gives it (see the module docstring)."""
    try:
        config = read_config(run)
    except CnnlibError as err:
        return str(err)
    models, epochs = config.get("models"), config.get("epochs")
    if not (isinstance(models, list) and models and all(isinstance(m, str) for m in models)):
        return f"{Path(run).name}: config.json does not name the models it trains."
    if not _is_count(epochs, 1):
        return f"{Path(run).name}: config.json gives {str(epochs)[:20]!r} epochs, not a whole " \
               "number of at least 1."
    try:
        records = read_metrics(run)
    except OSError as err:
        return f"{Path(run).name}: {METRICS} cannot be read ({err})."
    for number, record in enumerate(records, 1):
        problem = _record_problem(record, models)
        if problem:
            return f"{Path(run).name}: {METRICS} record {number}: {problem}."
    return None


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


def snapshot_epoch(path: Path) -> int:
    """The epoch a filter picture shows, from its name (``epoch_007.png`` -> 7)."""
    return int(Path(path).stem.removeprefix("epoch_"))


def filter_snapshots(run: Path, model: str) -> list[Path]:
    """The model's filter pictures in epoch order (``epoch_000.png`` is the initialisation);
    a file that is not a PNG of sensible size (see :func:`_is_filter_picture`) is left out, so
    a damaged or planted picture never reaches a page."""
    return [p for p in sorted((Path(run) / "filters" / model).glob("epoch_[0-9][0-9][0-9].png"))
            if _is_filter_picture(p)]


#: A filter picture's largest side and file size. A CIFAR net's 16 filters of 3x3 at 8x zoom
#: are 136 pixels a side, so this leaves room, and it stays under the width up to which
#: Streamlit sends a picture as it is (1,460): a wider one it decodes to shrink, and a
#: damaged body would then raise inside the page.
MAX_FILTER_SIDE = 1024
MAX_FILTER_BYTES = 8 * 2**20
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _is_filter_picture(path: Path) -> bool:
    """Whether ``path`` is a regular file that is a well-formed PNG (signature, an IHDR of at
    most :data:`MAX_FILTER_SIDE` a side first, every chunk's CRC right, an IEND last) of at
    most :data:`MAX_FILTER_BYTES`: a page hands the picture to Streamlit, whose PIL would
    raise on a broken one. Checked without decoding, so reading runs needs no PIL."""
    try:
        if not path.is_file() or path.stat().st_size > MAX_FILTER_BYTES:
            return False
        data = path.read_bytes()
    except OSError:
        return False
    if not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR" or len(data) < 24:
        return False
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if not (0 < width <= MAX_FILTER_SIDE and 0 < height <= MAX_FILTER_SIDE):
        return False
    at = len(_PNG_SIGNATURE)
    while at + 12 <= len(data):
        length = int.from_bytes(data[at:at + 4], "big")
        kind, body = data[at + 4:at + 8], data[at + 8:at + 8 + length]
        crc = data[at + 8 + length:at + 12 + length]
        if len(body) != length or len(crc) != 4 or \
                zlib.crc32(kind + body) != int.from_bytes(crc, "big"):
            return False
        if kind == b"IEND":
            return True
        at += 12 + length
    return False


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
    """One line about a run: its id, models and epochs, then what a reader needs to trust
    its curves: the data, the recipe, the machine, the wall time so far and torch."""
    if not (Path(run) / CONFIG).is_file():
        return f"{Path(run).name}: starting"  # queued, or its process is starting up
    config = read_config(run)
    models = ", ".join(m.removeprefix("cifar_") for m in config.get("models", []))
    parts = [f"{Path(run).name}: {models} ({config.get('epochs')} epochs)"]
    data = config.get("dataset") or {}
    if data.get("train_images"):
        parts.append(f"{data['train_images']:,} training / {data.get('test_images', 0):,} "
                     "test images")
    recipe = config.get("recipe") or {}
    if recipe.get("name"):
        parts.append(f"{recipe['name']} recipe, batch {recipe.get('batch_size')}, peak "
                     f"learning rate {recipe.get('lr', 0):.3g}")
    machine = config.get("gpu") or (f"{config['cpu']} ({config.get('cores')} cores)"
                                    if config.get("cpu") else config.get("device"))
    if machine:
        parts.append(f"{machine}, {config.get('precision', 'fp32')}")
    seconds = [r["seconds"] for r in read_metrics(run)
               if isinstance(r.get("seconds"), (int, float))]
    if seconds:
        parts.append(f"{_minutes(max(seconds))} of training")
    if config.get("torch"):
        parts.append(f"torch {config['torch']}")
    return " · ".join(parts)


def _minutes(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else \
        f"{max(1, minutes)} min" if seconds >= 60 else f"{seconds:.0f} s"


def lesson(curves: pd.DataFrame) -> list[str]:
    """What the curves show about depth, in sentences computed from them: per family (plain,
    residual) with two depths or more, the deepest net's training error against the
    shallowest's at the last epoch shown, and over how many epochs it was above. A gap under
    one point is said to be none, so a short run that does not separate two nets says so."""
    sentences: list[str] = []
    if curves.empty:
        return sentences
    last = int(curves["epoch"].max())
    for family in ("plain", "residual"):
        nets = sorted({m for m in curves["model"] if family_and_depth(m)[0] == family},
                      key=lambda m: family_and_depth(m)[1])
        if len(nets) < 2:
            continue
        low, high = nets[0], nets[-1]
        a = curves[curves["model"] == low].set_index("epoch")["train_error"]
        b = curves[curves["model"] == high].set_index("epoch")["train_error"]
        both = a.index.intersection(b.index)
        if both.empty:
            continue
        at = both.max()
        gap = (b[at] - a[at]) * 100
        above = int((b[both] > a[both]).sum())
        deep, shallow = short_name(high), short_name(low)
        head = (f"After epoch {at}, {deep} has {b[at]:.1%} training error and {shallow} "
                f"{a[at]:.1%}: ")
        if abs(gap) < 1:
            sentences.append(head + f"they do not separate yet (under a point apart) in "
                                    f"{last} epochs.")
        elif gap > 0:
            sentences.append(head + f"the deeper net is {gap:.1f} points worse, and was "
                             f"above over {above} of {len(both)} epochs"
                             + (" — the degradation problem." if family == "plain" else
                                "."))
        else:
            sentences.append(head + f"the deeper net is {-gap:.1f} points better"
                             + (": depth helps once there are shortcuts." if
                                family == "residual" else "."))
    return sentences


def short_name(model: str) -> str:
    """The papers' name of a CIFAR net: cifar_plain56 -> "plain-56", cifar_resnet20 ->
    "ResNet-20" (for sentences, legends and captions)."""
    family, depth = family_and_depth(model)
    return f"{'plain' if family == 'plain' else 'ResNet'}-{depth}"


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
