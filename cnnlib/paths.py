"""Which server folders a dashboard page may read from what a visitor types: the one policy.

A hosted app is open to anyone with the link, and a text box that takes a path would otherwise
let a visitor list and show any image on the server (``/visualize?...&folder=/``), or point
training at any folder (and its decoder's cache file written into it). So a path that comes
from a page is accepted only inside:

- the bundled samples (:data:`cnnlib.images.SAMPLES_DIR`);
- the folders runs live in (:func:`cnnlib.runs.run_folders`): new ones and the recorded ones;
- the folders the operator lists in ``$CNNLIB_ALLOWED_DIRS`` (separated by ``os.pathsep``,
  ``:`` on Linux), e.g. a class's image collection.

Paths are compared after resolving symbolic links and ``..``, so neither leads out. The
command line is the operator's own tool and keeps full freedom: only pages call this module.
"""

from __future__ import annotations

import os
from pathlib import Path

from cnnlib import runs
from cnnlib.errors import CnnlibError
from cnnlib.images import SAMPLES_DIR

ALLOW_ENV = "CNNLIB_ALLOWED_DIRS"
#: The data spec that downloads CIFAR-10 (into the data cache, not a path a visitor names).
CIFAR10_SPEC = "cifar10"
#: Longest path a page accepts; a real one is far shorter, and the echo stays readable.
MAX_PATH_CHARS = 1000


def allowed_roots() -> list[Path]:
    """The folders a page's paths must lie in, resolved (see the module docstring)."""
    extra = [p for p in os.environ.get(ALLOW_ENV, "").split(os.pathsep) if p.strip()]
    roots: list[str | Path] = [SAMPLES_DIR, *runs.run_folders(), *extra]
    return [Path(p).expanduser().resolve() for p in roots]


def confine(text: str) -> Path:
    """The existing folder ``text`` names, resolved, if it lies inside :func:`allowed_roots`;
    otherwise a one-sentence CnnlibError that says where paths may point (never whether the
    folder exists, which would itself tell a visitor about the server)."""
    text = text.strip()
    where = (f"the bundled samples, the runs folder or a folder listed in ${ALLOW_ENV} "
             "by whoever runs this server")
    if not text:
        raise CnnlibError(f"Name a folder: inside {where}.")
    if len(text) > MAX_PATH_CHARS or "\0" in text:
        raise CnnlibError(f"That is not a folder name this app accepts: folders must be inside "
                          f"{where}.")
    try:
        path = Path(text).expanduser().resolve()
        inside = any(path.is_relative_to(root) for root in allowed_roots())
        is_dir = inside and path.is_dir()
    except (OSError, RuntimeError):  # a name too long, a symlink loop...
        inside = is_dir = False
    if not inside:
        raise CnnlibError(f"This app reads folders inside {where} only, and "
                          f"'{_short(text)}' is not one of them.")
    if not is_dir:
        raise CnnlibError(f"'{_short(text)}' is not a folder.")
    return path


def page_data_spec(text: str) -> str:
    """The ``--data`` value for a data spec typed on a page: ``cifar10``, or a folder that
    :func:`confine` accepts (resolved, so the training process reads exactly that folder).
    An empty box is refused rather than read as the app's own folder."""
    text = text.strip()
    if text == CIFAR10_SPEC:
        return text
    if not text:
        raise CnnlibError(f"Name the training data: {CIFAR10_SPEC}, or a folder of class "
                          "sub-folders.")
    return str(confine(text))


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"
