"""Files that appear whole or not at all: the one atomic write every writer in cnnlib uses.

A run folder is read while it is written (by a page, a second tab, a later resume), a decode
cache by the next load, a weights file by the next visitor; a kill at any moment must leave
the old file or the new one, never half of either. So each file is written beside its final
name under a temporary one and renamed into place (``os.replace`` is atomic on one file
system). Imports nothing from cnnlib, so the lowest module can use it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


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
            fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
            os.close(fd)
            temps[path] = Path(name)
            write(temps[path])
        for path, tmp in temps.items():
            os.replace(tmp, path)
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
