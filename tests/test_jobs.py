"""The server's training queue, with stand-in commands instead of training."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from cnnlib import jobs
from cnnlib.train import TrainSettings


def wait_for(predicate, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def sleeper(seconds: float, code: int = 0) -> list[str]:
    return [sys.executable, "-c", f"import time, sys; time.sleep({seconds}); "
            f"print('done'); sys.exit({code})"]


def test_one_job_per_device_in_order_and_stop(tmp_path: Path) -> None:
    q = jobs.JobQueue()
    first = q.submit(tmp_path / "a", sleeper(30), "cpu")
    second = q.submit(tmp_path / "b", sleeper(0.1), "cpu")
    other = q.submit(tmp_path / "c", sleeper(0.1), "cuda")  # another device runs alongside
    wait_for(lambda: first.state == "running" and other.state == "finished")
    assert second.state == "queued" and [j.run.name for j in q.active()] == ["a", "b"]
    with pytest.raises(ValueError, match="already queued or running"):
        q.submit(tmp_path / "b", sleeper(0.1), "cpu")
    assert jobs.job_file(tmp_path / "a").exists()
    q.stop(tmp_path / "a")
    wait_for(lambda: first.state != "running")
    assert first.state == "stopped"
    wait_for(lambda: second.state == "finished")
    assert "done" in jobs.log_file(tmp_path / "b").read_text()


def test_a_queued_job_is_dropped_and_a_failure_reported(tmp_path: Path) -> None:
    q = jobs.JobQueue()
    blocker = q.submit(tmp_path / "a", sleeper(30), "cpu")
    queued = q.submit(tmp_path / "b", sleeper(0.1), "cpu")
    q.stop(tmp_path / "b")
    assert queued.state == "stopped" and queued.message == "removed from the queue"
    q.stop(tmp_path / "a")
    wait_for(lambda: blocker.state == "stopped")
    failing = q.submit(tmp_path / "c", [sys.executable, "-c", "raise SystemExit('no data')"],
                       "cpu")
    wait_for(lambda: failing.state not in ("queued", "running"))
    assert failing.state == "failed" and "no data" in failing.message


def test_training_argv() -> None:
    settings = TrainSettings(models=("cifar_plain20", "cifar_resnet20"), epochs=3,
                             recipe="quick", limit_train=500)
    argv = jobs.training_argv(settings=settings, data="cifar10", device="cpu",
                              out=Path("runs/x"))
    assert argv[1:] == ["-m", "cnnlib", "train", "--data", "cifar10", "--device", "cpu",
                        "--out", "runs/x", "--models", "cifar_plain20,cifar_resnet20",
                        "--epochs", "3", "--recipe", "quick", "--limit-train", "500"]
    preset = jobs.training_argv(preset="cpu-lesson", data="d", device="cpu", out=Path("r"))
    assert preset[4:] == ["--data", "d", "--device", "cpu", "--out", "r", "--preset",
                          "cpu-lesson"]


def test_a_restarted_server_adopts_a_live_run_stops_it_and_keeps_its_device_busy(
        tmp_path: Path) -> None:
    before = jobs.JobQueue()  # the server that started the run, then "restarted"
    first = before.submit(tmp_path / "a", sleeper(60), "cpu")
    wait_for(lambda: first.state == "running" and jobs.job_file(tmp_path / "a").exists())
    after = jobs.JobQueue()
    adopted = after.adopt(tmp_path)
    assert [(j.run.name, j.state, j.device) for j in adopted] == [("a", "running", "cpu")]
    assert [j.run.name for j in after.active()] == ["a"]  # so the page shows its Stop
    second = after.submit(tmp_path / "b", sleeper(0.1), "cpu")
    time.sleep(1.5)
    assert second.state == "queued"  # the device is busy: no second process on it
    after.stop(tmp_path / "a")
    wait_for(lambda: adopted[0].state == "stopped")
    wait_for(lambda: second.state == "finished")
    assert first.process is not None and first.process.poll() is not None


def test_a_job_file_whose_pid_is_not_ours_is_neither_adopted_nor_signalled(
        tmp_path: Path) -> None:
    import json
    import os

    jobs.job_file(tmp_path / "a").parent.mkdir(parents=True)
    jobs.job_file(tmp_path / "a").write_text(json.dumps({"pid": os.getpid(),
                                                         "argv": ["not", "this"]}))
    jobs.job_file(tmp_path / "b").write_text("{not json")
    assert jobs.JobQueue().adopt(tmp_path) == []
    assert not jobs.stop_orphan(tmp_path / "a")  # we are still alive to assert this


def test_a_job_queue_failure_marks_the_job_failed_and_frees_the_device(
        tmp_path: Path) -> None:
    (tmp_path / jobs.JOBS_DIR).write_text("a file where the job folder should be")
    q = jobs.JobQueue()
    broken = q.submit(tmp_path / "a", sleeper(0.1), "cpu")
    wait_for(lambda: broken.state != "queued" and broken.state != "running")
    assert broken.state == "failed" and "job queue failed" in broken.message
    (tmp_path / jobs.JOBS_DIR).unlink()
    fine = q.submit(tmp_path / "b", sleeper(0.1), "cpu")
    wait_for(lambda: fine.state == "finished")
