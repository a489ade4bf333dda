"""Malformed values at every URL key of every page (issue 12): a shared link may hold
anything, and the page must answer with a message, never a traceback, and never echo the
value as markup.

The keys are not listed by hand: each page is opened once per base view and the keys it
writes back into its URL are the ones fuzzed (so a key a page adds later is fuzzed too), plus
the keys that only some inputs bring (Visualize's folder search). Every run sets every key
of the page to a malformed value at once, rotating through :data:`VALUES`, so a few runs
cover each key with several values. Bounded: :data:`ROUNDS` runs per base view.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.test_hosting import has_markup, messages

ENTRY = str(Path(__file__).parent.parent / "streamlit_app.py")
VALUES = ["[Log in here](https://evil.example)", "", "-1", "0", "99999999999999999999",
          "9" * 5000, "nan", "x" * 3000, "`", "../../../etc/passwd", "1e9", ",,,", "3x0x0",
          " 12 ", "∞", "<script>alert(1)</script>", "![i](https://evil.example/i.png)",
          "true", "1_0", "/proc/self"]
ROUNDS = 3
#: (page, base settings): each base opens the views that bring their own keys.
BASES: list[tuple[str, dict[str, str]]] = [
    ("app/home.py", {}),
    ("app/explore.py", {"view": "memory"}),
    ("app/explore.py", {"view": "graph"}),
    ("app/compare.py", {}),
    ("app/compare.py", {"view": "accuracy", "all_torchvision": "1"}),
    *[("app/layer_lab.py", {"section": s}) for s in ("conv", "pool", "1x1", "inception",
                                                    "bottleneck", "stack")],
    ("app/build.py", {"view": "memory"}),
    ("app/visualize.py", {"model": "cifar_resnet20", "image": "cifar/ship",
                          "view": "top9", "search": "folder", "folder": "/"}),
    ("app/visualize.py", {"model": "cifar_resnet20", "image": "cifar/ship",
                          "view": "occlusion"}),
    ("app/visualize.py", {"model": "cifar_resnet20", "image": "cifar/ship",
                          "view": "projection"}),
    ("app/train.py", {}),
]


def open_page(page: str, params: dict[str, str]) -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=120)
    at.switch_page(page)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


@pytest.mark.parametrize(("page", "base"), BASES,
                         ids=[f"{p.removeprefix('app/')}-{'-'.join(b.values()) or 'default'}"
                              for p, b in BASES])
def test_malformed_url_values_never_raise(page: str, base: dict[str, str], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNNLIB_RUNS_DIR", str(tmp_path / "runs"))
    first = open_page(page, base)
    assert not first.exception, [e.value for e in first.exception]
    keys = [*sorted({*first.query_params, *base} - {"classroom"}), "classroom"]
    start = time.monotonic()
    for round_ in range(ROUNDS):
        params = {key: VALUES[(i * 7 + round_ * 3) % len(VALUES)]
                  for i, key in enumerate(keys)}
        # the base's own choice is kept in the first round, so its view's keys are reached
        fuzzed = {**params, **base} if round_ == 0 else params
        at = open_page(page, fuzzed)
        assert not at.exception, (fuzzed, [e.value for e in at.exception])
        assert not any(has_markup(m) for m in messages(at)), (fuzzed, messages(at))
        assert time.monotonic() - start < 120, "fuzzing one page took too long"
