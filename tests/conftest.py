"""Shared test helpers: opening a dashboard page headless through Streamlit's AppTest, and
the rule for the real-browser tests' Chromium."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app import warm

# No background warm-up in the test process: tests that count traces or clear cnnlib's caches
# would see its work (tests/test_app_server.py tests the warm-up itself, test_load.py a real
# server with it).
warm.skip()
ENTRY = str(Path(__file__).parent.parent / "streamlit_app.py")

def _open_page(page: str, *, clean: bool = True, **params: str) -> AppTest:
    """Run ``page`` (e.g. "app/explore.py") with ``params`` in its URL's query string.

    ``clean`` asserts that the page shows no exception and no error message. The app runs
    once first: st.navigation finds a page whose url_path differs from its file name
    (layer_lab.py at /layer-lab) only after a first run.
    """
    at = AppTest.from_file(ENTRY, default_timeout=120).run()
    at.switch_page(page)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    if clean:
        assert not at.exception, [e.value for e in at.exception]
        assert not at.error, [e.value for e in at.error]
    return at


@pytest.fixture
def open_page() -> Callable[..., AppTest]:
    return _open_page


def require_chromium() -> str:
    """Debian's Chromium for a real-browser test module: without it the module skips, except
    with ``CNNLIB_REQUIRE_BROWSER=1`` (set by CI), where a missing browser is a failure."""
    from app.bench import CHROMIUM

    if CHROMIUM is None:
        if os.environ.get("CNNLIB_REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium is missing: install Debian's 'chromium' package (.ci/run "
                        "does).", pytrace=False)
        pytest.skip("no Chromium on this machine (apt-get install chromium)",
                    allow_module_level=True)
    pytest.importorskip("playwright.sync_api")
    return CHROMIUM
