"""The "about this server" line on Home: what this process has and holds.

Computed without importing torch: Home must stay torch-free on its first view (a hosted
server answers its first visitor at once). Torch's facts (version, device) and the models
held for Visualize are shown once some page has loaded torch in this process, which is also
when they start to matter; before that the line says torch is not loaded yet. The memory and
CPU budget come from the cgroup a hosting platform puts the app in, where there is one.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import ModuleType


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _loaded(name: str) -> ModuleType | None:
    """The module ``name`` if this process has finished importing it, else None.

    Why not ``sys.modules.get``: every session is a thread, and while one session's page is
    still importing torch, ``sys.modules`` already holds the half-built module; reading
    ``torch.cuda`` from it then raises "partially initialized module 'torch' has no attribute
    'cuda'" on Home, a race that CI's light load test caught.
    """
    module = sys.modules.get(name)
    if module is None or getattr(getattr(module, "__spec__", None), "_initializing", False):
        return None
    return module


def _mb(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:,.0f} MB"


def memory_text() -> str:
    """This process's resident memory, and the cgroup's limit where there is one."""
    status = _read("/proc/self/status") or ""
    rss = next((int(line.split()[1]) * 1024 for line in status.splitlines()
                if line.startswith("VmRSS:")), None)
    limit = _read("/sys/fs/cgroup/memory.max")  # cgroup v2; "max" means none
    text = f"memory {_mb(rss)}" if rss is not None else "memory unknown"
    return text + (f" of {_mb(int(limit))}" if limit and limit.isdigit() else "")


def cpu_text() -> str:
    """The cores this process may use (the cgroup's quota where there is one)."""
    cores: float = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else os.cpu_count() or 1
    quota = (_read("/sys/fs/cgroup/cpu.max") or "max").split()
    if quota and quota[0].isdigit():
        cores = min(cores, int(quota[0]) / int(quota[1]))
    return f"{cores:g} CPU core{'s' if cores != 1 else ''}"


def server_line() -> str:
    """E.g. "torch 2.14.1 on cpu · 2 CPU cores · memory 1,010 MB · cached models: vgg16
    (528 MB)"."""
    parts = []
    torch = _loaded("torch")
    if torch is None:
        parts.append("torch not loaded yet (it loads with the first analysis)")
    else:
        device = "cuda" if torch.cuda.is_available() else "cpu"
        parts.append(f"torch {torch.__version__} on {device}")
    parts += [cpu_text(), memory_text()]
    weights = _loaded("cnnlib.weights")
    if weights is not None:
        held = weights.MODELS.held()
        parts.append("cached models: " + (", ".join(f"{name} ({_mb(size)})"
                                                   for name, size in held) or "none")
                     + f" (budget {_mb(weights.MODELS.budget_bytes)})")
    return " · ".join(parts)
