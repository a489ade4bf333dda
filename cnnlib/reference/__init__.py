"""The course notes' tables, as printed (CSV files next to this module).

They are what the dashboard checks its computed numbers against (the paper-check panel, the
compare page's recomputed comparison table) and the tests' expected values: numbers here are
never shown as results, only beside results computed from the models.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd

FOLDER = Path(__file__).parent


def table(name: str) -> pd.DataFrame:
    """The notes' table ``name`` (e.g. ``"vgg16_layers"``), every cell as printed (strings).

    Read once per process and shared by every thread; each caller gets its own
    copy-on-write copy, so editing it cannot change what the next caller reads.
    """
    return _table(name).copy(deep=False)


@functools.cache
def _table(name: str) -> pd.DataFrame:
    path = FOLDER / f"{name}.csv"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in FOLDER.glob("*.csv")))
        raise KeyError(f"No reference table '{name}'; there are: {known}.")
    return pd.read_csv(path, dtype=str, keep_default_na=False)
