"""The real app in a real browser: ``streamlit run`` on a free port, every page opened in
headless Chromium through Playwright, at a projector's 1280x720, with and without classroom
mode. AppTest cannot see what only the browser does (the graph drawn by viz.js, CSS, page
paths), so this test and the load test (test_load.py) do.

Chromium comes from Debian (``.ci/run`` installs it when missing). Without it the test skips,
unless ``CNNLIB_REQUIRE_BROWSER=1`` (set by CI), where a missing browser is a failure.
Screenshots go to ``$CNNLIB_SCREENSHOTS`` or a temporary folder, printed at the end.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import require_chromium

from app.bench import CHROMIUM_FLAGS as FLAGS
from app.bench import serve

#: Each page, with the element that shows it has really drawn its main content.
PAGES = {
    "home": ("", '[data-testid="stDataFrame"]'),
    "explore": ("explore?model=resnet18&view=graph", '[data-testid="stGraphVizChart"] svg'),
    "explore-charts": ("explore?model=vgg16&view=charts", ".js-plotly-plot"),
    "compare": ("compare?models=alexnet,vgg16,googlenet,resnet152",
                '[data-testid="stDataFrame"]'),
    "layer-lab": ("layer-lab", ".js-plotly-plot"),
    "build": ("build?view=graph", '[data-testid="stGraphVizChart"] svg'),
    "visualize": ("visualize?model=alexnet&view=filters", '[data-testid="stImage"]'),
    "train": ("train", ".js-plotly-plot"),  # the recorded run in assets/runs, drawn
    "compare-history": ("compare?view=history", ".js-plotly-plot"),
    "occlusion": ("visualize?model=cifar_resnet20&view=occlusion&image=cifar/ship",
                  ".js-plotly-plot"),
}
#: The main figure of each page, which classroom mode must put on the first 1280x720 screen
#: (its top at most FOLD - MIN_VISIBLE px down). A page is checked once it is listed here.
MAIN_FIGURE = {
    "home": '[data-testid="stDataFrame"]',
    "explore": '[data-testid="stGraphVizChart"] svg',
    "explore-charts": ".js-plotly-plot",
    "compare": '[data-testid="stDataFrame"]',
    "layer-lab": ".js-plotly-plot",
    "build": '[data-testid="stGraphVizChart"] svg',
    "visualize": '[data-testid="stImage"]',
    "compare-history": ".js-plotly-plot",
    "occlusion": ".js-plotly-plot",
    "train": ".js-plotly-plot",
}
FOLD = 720
MIN_VISIBLE = 150

CHROMIUM = require_chromium()
from playwright.sync_api import sync_playwright  # noqa: E402 - only once Chromium is there


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve(env={"CNNLIB_RUNS_DIR": str(tmp_path_factory.mktemp("runs"))}) as running:
        yield running.url


def wait_until_drawn(page, selector: str) -> None:
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]',
                           timeout=90_000)
    page.wait_for_selector(selector, timeout=60_000)


def test_every_page_in_a_real_browser(server: str, tmp_path: Path) -> None:
    shots = Path(os.environ.get("CNNLIB_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        for classroom in (False, True):
            for name, (path, drawn) in PAGES.items():
                sep = "&" if "?" in path else "?"
                page.goto(f"{server}/{path}{sep if classroom else ''}"
                          f"{'classroom=1' if classroom else ''}")
                wait_until_drawn(page, drawn)
                label = f"{name}{'-classroom' if classroom else ''}"
                page.screenshot(path=shots / f"{label}.png")
                text = page.locator('[data-testid="stMain"]').inner_text()
                if page.locator('[data-testid="stException"]').count() or "Traceback" in text:
                    problems.append(f"{label}: an exception is shown")
                if "Page not found" in page.content():
                    problems.append(f"{label}: page not found")
                overflow = page.evaluate(
                    "() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
                    " return m.scrollWidth - m.clientWidth; }")
                if overflow > 0:
                    problems.append(f"{label}: {overflow}px of horizontal scrolling at 1280x720")
                if classroom and name in MAIN_FIGURE:
                    top = page.locator(MAIN_FIGURE[name]).first.bounding_box()["y"]
                    if top > FOLD - MIN_VISIBLE:
                        problems.append(f"{label}: the main figure starts at y = {top:.0f} px, "
                                        f"not on the first screen (< {FOLD - MIN_VISIBLE} px)")
        browser.close()
    print(f"\nscreenshots: {shots}")
    assert not problems, problems


def test_graph_downloads_as_svg_and_png_from_the_browser(server: str, tmp_path: Path) -> None:
    """The SVG and PNG buttons save the graph the browser drew (no dot binary on the server)."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 720}, accept_downloads=True)
        page.goto(f"{server}/explore?model=resnet18&view=graph&detail=stages")
        wait_until_drawn(page, '[data-testid="stGraphVizChart"] svg')
        saved = {}
        for kind in ("svg", "png"):
            with page.expect_download() as download:
                page.click(f"#graph-{kind}")
            saved[kind] = (download.value.suggested_filename,
                           Path(download.value.path()).read_bytes())
        browser.close()
    name, svg = saved["svg"]
    assert name == "resnet18-3x224x224-stages.svg"
    assert svg.startswith(b"<svg") and b"input 3x224x224" in svg and b"fc 1000" in svg
    name, png = saved["png"]
    assert name == "resnet18-3x224x224-stages.png" and png.startswith(b"\x89PNG")
    assert int.from_bytes(png[16:20], "big") > 100  # the image's width, from its header
