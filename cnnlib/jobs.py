"""One background training job per device for the whole server, and a queue behind it.

Why a subprocess per run: training is the one long, heavy thing the dashboard does. In its
own process (``python -m cnnlib train ...``) it cannot stall the web server, and a crash
cannot take the server down. It keeps writing its run folder whatever happens to the
browser. The page only ever reads folders, so a refresh, a second tab or another student's
session all reattach to a live run by reading the same files.

The queue is process-wide (one per server). Each device (the GPU, or the CPU) runs one job at
a time, and later jobs wait their turn. Stopping sends SIGTERM, which the training command
turns into a clean stop: it finishes the step, saves the final checkpoints and writes a
"stopped" record. The child's pid, command and device are written to a job file
(:func:`job_file`), so that a restarted server rebuilds its queue from them
(:meth:`JobQueue.adopt`): a training process still alive, and ours (its command line is the
one recorded), is shown as running with its Stop button, and its device counts as busy, so
Start queues behind it instead of launching a second process on the same device.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

from cnnlib import runs
from cnnlib.train import Recipe, TrainSettings

JOBS_DIR = ".jobs"
WATCH_EVERY_S = 1.0  # how often an adopted process (not our child) is checked for its end


def job_file(run: Path) -> Path:
    """Where the queue records the training process of ``run`` (its pid, its command)."""
    return Path(run).parent / JOBS_DIR / f"{Path(run).name}.json"


def log_file(run: Path) -> Path:
    """The training process's output (progress lines, or the error that stopped it)."""
    return Path(run).parent / JOBS_DIR / f"{Path(run).name}.log"


@dataclass
class Job:
    """A training run asked for: its folder, its command line and where it stands."""

    run: Path
    argv: list[str]
    device: str
    state: str = "queued"  # queued | running | finished | stopped | failed
    message: str = ""
    process: subprocess.Popen | None = field(default=None, repr=False)
    stop_requested: bool = False  # asked to stop before its process existed
    pid: int | None = None  # a process this server did not start (adopted after a restart)


# The command line's flag for each setting (cnnlib/__main__.py); seed and eval_every_epoch
# have none, so a job cannot ask for other values of them.
_FLAGS = {"models": "--models", "epochs": "--epochs", "recipe": "--recipe",
          "batch_size": "--batch-size", "limit_train": "--limit-train",
          "test_subset": "--test-subset", "precision": "--precision", "compile": "--compile",
          "note": "--note"}


def training_argv(*, data: str, device: str, out: Path, settings: TrainSettings | None = None,
                  preset: str | None = None) -> list[str]:
    """The ``python -m cnnlib train`` command line for ``settings`` (a ``preset`` fills in
    whatever they leave at its default): a flag for each setting that is not its default."""
    argv = [sys.executable, "-m", "cnnlib", "train", "--data", data, "--device", device,
            "--out", str(out)]
    if preset:
        argv += ["--preset", preset]
    default = TrainSettings()
    chosen = {f.name: getattr(settings, f.name) for f in fields(TrainSettings)
              if settings is not None and getattr(settings, f.name) != getattr(default, f.name)}
    unsaid = [name for name, value in chosen.items()
              if name not in _FLAGS or isinstance(value, Recipe)]
    if unsaid:
        raise ValueError(f"The command line cannot say {', '.join(unsaid)}.")
    for name, flag in _FLAGS.items():
        value = chosen.get(name)
        if value is True:
            argv.append(flag)
        elif value is not None:
            argv += [flag, ",".join(value) if isinstance(value, tuple) else str(value)]
    return argv


class JobQueue:
    """Jobs by device, run one at a time per device by a worker thread each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: list[Job] = []
        self._wake = threading.Condition(self._lock)
        self._workers: dict[str, threading.Thread] = {}

    def submit(self, run: Path, argv: list[str], device: str) -> Job:
        """Queue a run; it starts as soon as its device is free."""
        with self._lock:
            if any(j.run == run and j.state in ("queued", "running") for j in self._jobs):
                raise ValueError(f"{run} is already queued or running.")
            job = Job(Path(run), argv, device)
            self._jobs.append(job)
            if device not in self._workers:
                worker = threading.Thread(target=self._work, args=(device,), daemon=True,
                                          name=f"cnnlib-jobs-{device}")
                self._workers[device] = worker
                worker.start()
            self._wake.notify_all()
            return job

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs)

    def active(self) -> list[Job]:
        """Running jobs first, then queued ones, in the order they will run."""
        with self._lock:
            running = [j for j in self._jobs if j.state == "running"]
            return running + [j for j in self._jobs if j.state == "queued"]

    def stop(self, run: Path) -> None:
        """Stop a run: a queued one is dropped, a running one asked to stop cleanly."""
        with self._lock:
            for job in self._jobs:
                if job.run == Path(run) and job.state == "queued":
                    job.state, job.message = "stopped", "removed from the queue"
                    return
            running = next((j for j in self._jobs
                            if j.run == Path(run) and j.state == "running"), None)
            if running is not None:
                running.stop_requested = True
            if running is not None and running.process is None and running.pid is None:
                return  # _run signals it as soon as it has started
        if (running is not None and running.process is not None
                and running.process.poll() is None):
            running.process.send_signal(signal.SIGTERM)
            return
        stop_orphan(Path(run))

    def adopt(self, folder: Path) -> list[Job]:
        """Rebuild the queue from the job files under ``folder`` (a runs folder) after a
        server restart: each training process still alive and ours becomes a running job
        (stoppable, its device busy) until it exits. Returns the adopted jobs."""
        adopted = []
        for path in sorted((Path(folder) / JOBS_DIR).glob("*.json")):
            run = Path(folder) / path.stem
            recorded = _read_job_file(run)
            if recorded is None or not _alive_and_ours(*recorded[:2]):
                continue
            pid, argv, device = recorded
            with self._lock:
                if any(j.run == run and j.state in ("queued", "running") for j in self._jobs):
                    continue
                job = Job(run, argv, device, state="running", pid=pid)
                self._jobs.append(job)
            threading.Thread(target=self._guard, args=(job, self._watch), daemon=True,
                             name=f"cnnlib-jobs-watch-{pid}").start()
            adopted.append(job)
        return adopted

    def _watch(self, job: Job) -> None:
        """Wait for an adopted process (not our child, so no wait(): poll its pid)."""
        while _alive_and_ours(job.pid, job.argv):
            time.sleep(WATCH_EVERY_S)
        self._settle(job, None)

    def _work(self, device: str) -> None:
        while True:
            with self._lock:
                # a device runs one job at a time, an adopted one included
                while any(j.device == device and j.state == "running" for j in self._jobs) \
                        or not (job := next((j for j in self._jobs if j.device == device
                                             and j.state == "queued"), None)):
                    self._wake.wait()
                job.state = "running"
            self._guard(job, self._run)

    def _guard(self, job: Job, work: Callable[[Job], None]) -> None:
        """``work(job)``, and whatever it raises (a job folder that is not writable, a full
        disk) marks the job failed with the reason, rather than killing the worker thread
        and leaving its device "running" for ever."""
        try:
            work(job)
        except Exception as exc:  # any failure is the job's, not the queue's
            with self._lock:
                job.state, job.message = "failed", f"the job queue failed: {exc}"
                self._wake.notify_all()

    def _run(self, job: Job) -> None:
        log_file(job.run).parent.mkdir(parents=True, exist_ok=True)
        with open(log_file(job.run), "ab") as log:
            try:
                process = subprocess.Popen(job.argv, stdout=log, stderr=subprocess.STDOUT,
                                           start_new_session=True)
            except OSError as exc:
                job.state, job.message = "failed", f"could not start: {exc}"
                return
            with self._lock:
                job.process = process
                if job.stop_requested:
                    process.send_signal(signal.SIGTERM)
            try:
                job_file(job.run).write_text(json.dumps({"pid": process.pid, "argv": job.argv,
                                                         "device": job.device}))
            except OSError:
                process.send_signal(signal.SIGTERM)  # unrecorded, it could not be stopped
                process.wait()
                raise
            code = process.wait()
        self._settle(job, code)

    def _settle(self, job: Job, code: int | None) -> None:
        """The job's final state from its exit ``code`` (None: unknown, an adopted process)
        and what its run folder says; wakes the device's worker."""
        status = (runs.run_status(job.run) if (job.run / runs.CONFIG).is_file()
                  and runs.check_run(job.run) is None else None)
        with self._lock:
            if status == "stopped" or job.stop_requested or \
                    code in (-signal.SIGTERM, 128 + signal.SIGTERM):
                job.state = "stopped"
            elif code == 0 or (code is None and status in ("finished", "diverged")):
                job.state = "finished"
                job.message = "every model diverged" if status == "diverged" else ""
            else:
                job.state = "failed"
                job.message = last_lines(log_file(job.run)) or "the training process ended " \
                                                                "without finishing its run"
            self._wake.notify_all()


def stop_orphan(run: Path) -> bool:
    """SIGTERM the training process recorded for ``run`` (after a server restart), if it is
    still alive and ours: a recycled pid belongs to someone else and is left alone."""
    recorded = _read_job_file(run)
    if recorded is None or not _alive_and_ours(*recorded[:2]):
        return False
    try:
        os.kill(recorded[0], signal.SIGTERM)
    except OSError:
        return False
    return True


def _read_job_file(run: Path) -> tuple[int, list[str], str] | None:
    """(pid, argv, device) from ``run``'s job file, or None if it is missing or malformed.
    Files written before the device was recorded give the command line's ``--device``."""
    try:
        recorded = json.loads(job_file(run).read_bytes().decode())
        pid, argv = recorded["pid"], recorded["argv"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not (isinstance(pid, int) and pid > 0 and isinstance(argv, list)
            and all(isinstance(a, str) for a in argv)):
        return None
    device = recorded.get("device")
    if not isinstance(device, str):
        device = argv[argv.index("--device") + 1] if "--device" in argv[:-1] else "cpu"
    return pid, argv, device


def _alive_and_ours(pid: int | None, argv: list[str]) -> bool:
    """Whether process ``pid`` is alive and runs exactly ``argv`` (read from /proc, so a pid
    the system gave to another program since is not taken for our training process)."""
    if pid is None:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return cmdline.split(b"\0")[:-1] == [os.fsencode(a) for a in argv]


def last_lines(log: Path, n: int = 3) -> str:
    """The end of a training log: what went wrong, for the page."""
    try:
        return " ".join(log.read_text(errors="replace").strip().splitlines()[-n:])
    except OSError:
        return ""


_QUEUE: JobQueue | None = None
_QUEUE_LOCK = threading.Lock()


def queue() -> JobQueue:
    """The server's one queue, rebuilt on first use from the job files of the runs folder
    (training processes that outlived a server restart)."""
    global _QUEUE
    with _QUEUE_LOCK:
        if _QUEUE is None:
            _QUEUE = JobQueue()
            _QUEUE.adopt(runs.runs_dir())
        return _QUEUE
