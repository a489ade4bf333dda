"""What cnnlib shares between threads, and the locks that make the sharing safe.

Why this exists: the dashboard serves every browser session from its own thread of one
process, so two students' page runs call cnnlib at the same moment. Two kinds of
process-wide state are involved:

- **torch.fx tracing patches torch itself.** While ``fx.Tracer().trace`` runs, it replaces
  ``torch.nn.Module.__call__`` and ``__getattr__`` on the class, for every thread. A module
  called in another thread meanwhile goes through the tracer (``NameError: module is not
  installed as a submodule``), a parameter read may come back as a tracer's Proxy, and two
  traces at once corrupt fx's global patcher (``AssertionError: CURRENT_PATCHER is None in
  finally block``). So a trace holds :data:`MODULES` exclusively, and everything in cnnlib
  that calls or reads a module (the walk's meta fallback, every forward of
  :mod:`cnnlib.visualize`) holds it shared: traces run one at a time and never beside a
  forward, while forwards and walks run side by side.
- **Results cached for everyone.** A cache shared by threads must compute each key once
  (thirty students opening VGG-19 at once should not build it thirty times) and hand out
  results nobody can change: :func:`memoize` does the first, the cached types (``Profile``,
  ``Traced``) the second.

A model shared between sessions (the dashboard caches loaded weights) is one more piece of
shared state: hooks registered for one session's forward fire in another's. :func:`model_lock`
gives each module one lock, held for every forward of it (:func:`running`).
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar, cast

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Memoized(Protocol[T_co]):
    """What :func:`memoize` makes of a function: called the same, plus ``cache_clear()``."""

    def __call__(self, *args: Hashable) -> T_co: ...

    def cache_clear(self) -> None: ...


class SharedExclusiveLock:
    """A readers-writer lock, reentrant per thread on both sides.

    ``shared()`` may be held by many threads at once, ``exclusive()`` by one thread with no
    shared holder. A waiting exclusive request stops new shared holders (so a trace is not
    starved by a stream of forwards). Reentrant: a thread may take a side it holds again
    (``project`` calls ``feature_maps``), and the exclusive holder may take it shared; asking
    for it exclusively while holding it shared would deadlock two such threads, so it raises.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._shared: dict[int, int] = {}  # thread id -> depth
        self._owner: int | None = None  # the thread holding it exclusively
        self._depth = 0  # that thread's exclusive depth
        self._waiting = 0  # exclusive requests waiting

    @contextmanager
    def shared(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            if self._owner != me and me not in self._shared:
                while self._owner is not None or self._waiting:
                    self._cond.wait()
            self._shared[me] = self._shared.get(me, 0) + 1
        try:
            yield
        finally:
            with self._cond:
                self._shared[me] -= 1
                if not self._shared[me]:
                    del self._shared[me]
                    self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            if me in self._shared and self._owner != me:
                raise RuntimeError("exclusive() while holding shared(): take it first")
            if self._owner != me:
                self._waiting += 1
                try:
                    while self._owner is not None or self._shared:
                        self._cond.wait()
                finally:
                    self._waiting -= 1
                self._owner = me
            self._depth += 1
        try:
            yield
        finally:
            with self._cond:
                self._depth -= 1
                if not self._depth:
                    self._owner = None
                    self._cond.notify_all()


#: Held exclusively by an fx trace, shared by anything that calls or reads a module.
MODULES = SharedExclusiveLock()

_model_locks: weakref.WeakKeyDictionary[Any, threading.RLock] = weakref.WeakKeyDictionary()
_model_locks_guard = threading.Lock()


def model_lock(module: Any) -> threading.RLock:
    """The one lock of ``module``: held for a forward that registers hooks on it, or runs
    while another thread might (a model the dashboard caches for every session)."""
    with _model_locks_guard:
        lock = _model_locks.get(module)
        if lock is None:
            lock = _model_locks[module] = threading.RLock()
        return lock


@contextmanager
def running(module: Any) -> Iterator[None]:
    """Around one forward (or backward) of ``module``: its own lock, then :data:`MODULES`
    shared. Always in this order, and nothing takes a model lock while holding MODULES, so
    the two cannot deadlock."""
    with model_lock(module), MODULES.shared():
        yield


class KeyedLocks:
    """One lock per key, made on demand and dropped when nobody holds or waits for it: each
    key of a shared cache is computed by one thread while the others wait for its result."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[Hashable, tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, key: Hashable) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (None, 0))
            lock = lock or threading.Lock()
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)


def memoize(maxsize: int) -> Callable[[Callable[..., T]], Memoized[T]]:
    """An LRU cache (positional, hashable arguments) that threads can share: a key being
    computed by one thread is waited for by the others instead of computed again. A failure
    is not cached: the next waiter computes it itself. ``cache_clear()`` empties it."""

    def decorate(fn: Callable[..., T]) -> Memoized[T]:
        done: OrderedDict[Hashable, T] = OrderedDict()
        guard = threading.Lock()
        computing = KeyedLocks()

        def cached(key: Hashable) -> tuple[bool, Any]:
            with guard:
                if key in done:
                    done.move_to_end(key)
                    return True, done[key]
                return False, None

        @functools.wraps(fn)
        def wrapper(*args: Hashable) -> T:
            found, value = cached(args)
            if found:
                return value
            with computing.hold(args):
                found, value = cached(args)  # computed while this thread waited
                if found:
                    return value
                value = fn(*args)
                with guard:
                    done[args] = value
                    while len(done) > maxsize:
                        done.popitem(last=False)
                return value

        def cache_clear() -> None:
            with guard:
                done.clear()

        wrapper.cache_clear = cache_clear  # type: ignore[attr-defined]
        return cast("Memoized[T]", wrapper)

    return decorate
