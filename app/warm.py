"""Warm first views: the zoo's analyses, computed once per server process in the background.

Why on first use rather than at start-up: the entry and Home stay torch-free, so a hosted
server answers its first visitor (and its health check) at once. The first page that needs
torch (Explore, Compare, Build) calls :func:`start`; from then on a daemon thread profiles
every zoo model at its default input size into cnnlib's process-wide cache
(``cnnlib.profile`` computes each once and hands the same read-only Profile to every session),
so the thirty students who open Explore or Compare next find their analyses done. A session
asking for a model the thread has not reached yet computes it itself; the cache makes sure
the two never compute the same model twice.
"""

from __future__ import annotations

import threading

_started = threading.Event()
_lock = threading.Lock()


def start() -> None:
    """Start the warm-up once per process; later calls return at once."""
    if _started.is_set():
        return
    with _lock:
        if not _started.is_set():
            threading.Thread(target=_warm, name="cnnlib-warm-up", daemon=True).start()
            _started.set()


def skip() -> None:
    """Never warm up in this process: for measuring cold first views (``app.bench pages``)
    and for tests that count traces, which a background thread would disturb."""
    _started.set()


def _warm() -> None:
    import cnnlib  # here: importing this module must stay free of torch
    from cnnlib.errors import CnnlibError
    from cnnlib.models import registry

    for name in registry.names():
        try:
            cnnlib.profile(name)
        except CnnlibError:  # a page showing this model reports it; nothing to warm
            continue
