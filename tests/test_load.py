"""A class on one link: 8 real browser sessions (and 30 light websocket clients) against one
``streamlit run`` server, opening
the heaviest views at the same moment (VGG-19, ResNet-152, GoogLeNet and DenseNet-121 on
Explore, Compare with nine models, AlexNet 2012's paper check, Layer lab, ResNeXt-50).

Every session is a thread of the server, so this is where a race shows: before the locks of
cnnlib.concurrency, Compare showed ``TraceError: ... CURRENT_PATCHER is None`` in 2 of 3
tries. Fails on any error element, traceback or "Page not found", and on a session that has
not settled within the bound. ``python -m app.bench load --sessions 30`` is the benchmark of
the same run. Chromium as for test_browser.py: CI (``CNNLIB_REQUIRE_BROWSER=1``) fails
without it.
"""

from __future__ import annotations

from conftest import require_chromium

from app import bench

CHROMIUM = require_chromium()
from playwright.sync_api import sync_playwright  # noqa: E402 - only once Chromium is there

SESSIONS = 8
BOUND_S = 150  # each session's settling time on a 2-core machine under other load: ~40 s


def test_eight_sessions_open_the_heavy_views_at_once_without_an_error() -> None:
    views = bench.HEAVY_VIEWS[:SESSIONS]
    with bench.serve() as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=bench.CHROMIUM_FLAGS)
        sessions = bench.open_at_once(browser, server.url, views, timeout_s=BOUND_S)
        browser.close()
    problems = [f"{s.path}: {s.problem}" for s in sessions if s.problem]
    print("\n" + "\n".join(f"{s.seconds or 0:6.1f} s  {s.path}" for s in sessions))
    assert not problems, problems


def test_thirty_light_sessions_run_every_heavy_view_at_once_without_an_error() -> None:
    """The class of the benchmark, 30 sessions, with clients that draw nothing (Streamlit's
    websocket protocol): every script run is a thread of the server, so this is the race test
    at full size, and the server's own time for it, without the browsers' drawing."""
    paths = [bench.HEAVY_VIEWS[i % len(bench.HEAVY_VIEWS)][0] for i in range(30)]
    with bench.serve() as server:
        sessions = bench.open_light(server.url, paths, timeout_s=BOUND_S)
    print("\n" + "\n".join(f"{s.seconds or 0:6.1f} s  {s.path}" for s in sessions))
    assert [s.path for s in sessions] == paths
    assert all(s.seconds is not None for s in sessions), [s.problem for s in sessions]
    assert not [s.problem for s in sessions if s.problem]


def test_a_light_session_reports_what_a_browser_would_show() -> None:
    """The light client is a real check: an unknown page and a bad input are its problems."""
    with bench.serve() as server:
        missing, bad, good = bench.open_light(
            server.url, ["no-such-page", "explore?model=alexnet&input=three", "layer-lab"])
    assert missing.problem == "page not found", missing
    assert bad.problem.startswith("an error is shown: Input size 'three' is malformed"), bad
    assert good.problem == "" and good.seconds is not None, good
