"""One background training job per device for the whole server, and a queue behind it.

Why a subprocess per run: training is the one long, heavy thing the dashboard does. In its
own process (``python -m cnnlib train ...``) it cannot stall the web server, and a crash
cannot take the server down. It keeps writing its run folder whatever happens to the
browser. The page only ever reads folders, so a refresh, a second tab or another student's
session all reattach to a live run by reading the same files.

The queue is process-wide (one per server). Each device (the GPU, or the CPU) runs one job at
a time, and later jobs wait their turn. Stopping sends SIGTERM, which the training command
turns into a clean stop: it finishes the step, saves the final checkpoints and writes a
"stopped" record. The child's pid is written to ``<run>/job.json``, so a server restarted
mid-run can still stop it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cnnlib import runs

JOBS_DIR = ".jobs"


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


def training_argv(*, data: str, device: str, out: Path, models: list[str] | None = None,
                  epochs: int | None = None, recipe: str | None = None,
                  batch_size: int | None = None, limit_train: int | None = None,
                  preset: str | None = None) -> list[str]:
    """The ``python -m cnnlib train`` command line for these settings (a ``preset`` fills in
    whatever is left out)."""
    argv = [sys.executable, "-m", "cnnlib", "train", "--data", data, "--device", device,
            "--out", str(out)]
    flags = {"--preset": preset, "--models": ",".join(models) if models else None,
             "--epochs": epochs, "--recipe": recipe, "--batch-size": batch_size,
             "--limit-train": limit_train}
    for flag, value in flags.items():
        if value:
            argv += [flag, str(value)]
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
            job = next((j for j in self._jobs
                        if j.run == Path(run) and j.state == "running"), None)
            if job is not None and job.process is None:
                job.stop_requested = True  # _run signals it as soon as it has started
                return
        if job is not None and job.process.poll() is None:
            job.process.send_signal(signal.SIGTERM)
            return
        stop_orphan(Path(run))

    def _work(self, device: str) -> None:
        while True:
            with self._lock:
                while not (job := next((j for j in self._jobs if j.device == device
                                        and j.state == "queued"), None)):
                    self._wake.wait()
                job.state = "running"
            self._run(job)

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
            job_file(job.run).write_text(json.dumps({"pid": job.process.pid,
                                                     "argv": job.argv}))
            code = job.process.wait()
        status = runs.run_status(job.run) if (job.run / runs.CONFIG).is_file() else None
        if status == "stopped" or code in (-signal.SIGTERM, 128 + signal.SIGTERM):
            job.state = "stopped"
        elif code == 0:
            job.state = "finished"
            job.message = "every model diverged" if status == "diverged" else ""
        else:
            job.state, job.message = "failed", last_lines(log_file(job.run))


def stop_orphan(run: Path) -> bool:
    """SIGTERM the training process recorded in ``run`` (after a server restart)."""
    try:
        pid = json.loads(job_file(run).read_text())["pid"]
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError, KeyError):
        return False
    return True


def last_lines(log: Path, n: int = 3) -> str:
    """The end of a training log: what went wrong, for the page."""
    try:
        return " ".join(log.read_text(errors="replace").strip().splitlines()[-n:])
    except OSError:
        return ""


_QUEUE: JobQueue | None = None
_QUEUE_LOCK = threading.Lock()


def queue() -> JobQueue:
    """The server's one queue."""
    global _QUEUE
    with _QUEUE_LOCK:
        if _QUEUE is None:
            _QUEUE = JobQueue()
        return _QUEUE
