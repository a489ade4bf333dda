"""The server-wide parts of the app: the warm-up of the zoo and Home's about-this-server line."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import cnnlib
from app import about, warm
from cnnlib import analysis, weights
from cnnlib.models import registry


def test_the_warm_up_profiles_every_zoo_model_once_and_pages_then_reuse_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    analysis._traced_zoo.cache_clear()
    analysis._zoo_profile.cache_clear()
    traced: list[str] = []
    real_trace = analysis.trace
    monkeypatch.setattr(analysis, "trace", lambda m, name=None: traced.append(name)
                        or real_trace(m, name))
    warm._warm()
    assert sorted(traced) == sorted(registry.names())
    first = cnnlib.profile("resnet152")
    assert cnnlib.profile("resnet152") is first and len(traced) == len(registry.names())


def test_the_warm_up_starts_one_background_thread_per_process(
        monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[str] = []
    monkeypatch.setattr(warm, "_started", threading.Event())  # conftest skipped the real one
    monkeypatch.setattr(warm, "_warm", lambda: started.append("warm"))
    threads = [threading.Thread(target=warm.start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for t in threading.enumerate():
        if t.name == "cnnlib-warm-up":
            t.join()
    assert started == ["warm"]


def test_the_about_line_names_torch_the_cores_the_memory_and_the_cached_models() -> None:
    import torch

    weights.MODELS.clear()
    weights.MODELS.get(("lenet5", "random", "", False), lambda: weights.load("lenet5", "random"))
    line = about.server_line()
    assert f"torch {torch.__version__} on cpu" in line or "on cuda" in line
    assert "CPU core" in line and "memory " in line and "MB" in line
    assert "cached models: lenet5 (0 MB)" in line and "budget 600 MB" in line
    weights.MODELS.clear()


def test_the_about_line_while_another_session_is_still_importing_torch() -> None:
    """Home's line, read in a loop while another thread imports torch (a second session opening
    Explore): a half-imported torch is "not loaded yet", never an AttributeError on screen. In a
    fresh interpreter, where torch is not imported yet; it failed before about._loaded."""
    script = textwrap.dedent("""
        import threading
        from app import about
        loader = threading.Thread(target=lambda: __import__("cnnlib.weights"))
        loader.start()
        lines = set()
        while loader.is_alive():
            lines.add(about.server_line().split(" · ")[0])
        loader.join()
        lines.add(about.server_line().split(" · ")[0])
        print(sorted(lines))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=Path(__file__).parent.parent, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "torch not loaded yet" in done.stdout, done.stdout
    assert re.search(r"torch \S+ on (cpu|cuda)", done.stdout), done.stdout


def test_the_hosted_config_turns_the_file_watcher_off() -> None:
    config = (Path(__file__).parent.parent / ".streamlit/config.toml").read_text()
    server = config.split("[server]")[1].split("\n[")[0]  # tomllib only from Python 3.11
    assert re.search(r'^fileWatcherType = "none"$', server, re.M)
