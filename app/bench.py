"""Dashboard benchmarks (they drive Streamlit, so they live with the pages, not in
cnnlib.bench, which never imports streamlit).

``python -m app.bench`` (or ``python -m app.bench pages``): for every zoo model it times the
first view of ``/explore`` (graph), then its table and charts views, in a warm app: the
imports are done and one other model has been shown, but this model's analysis is not cached
yet; that is what a student picking a new network waits for. Beside each figure, measured in
the same run, the peer: ``torchinfo.summary`` of the same model, the per-layer table a page
built on torchinfo would need before drawing anything. It then opens Compare (every view, all
models), Layer lab, Build (every example) and Home and reports the resident memory of the
process that served them all (AppTest runs the pages in this process, as the server would).

``python -m app.bench load --sessions 30``: a class on one link, in two runs, each on a fresh
``streamlit run`` server. First the server's own work: that many light clients (Streamlit's
websocket protocol, drawing nothing) open one of :data:`HEAVY_VIEWS` each at the same moment;
it prints the time until every script run is done and the server's CPU seconds. Then the
same with one headless Chromium and that many sessions (browser contexts), then one more
session on Visualize with VGG-16: the time until the last page has settled (drawn), the
errors shown, the server's peak resident memory. Beside them, peers from the same run: as
many sessions on Home (no torch, nothing computed: Streamlit's and the browsers' own cost),
and a fresh process that only imports torch and torchvision. The suite's load test
(tests/test_load.py) runs the light class with 30 and the browsers with 8.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from streamlit.testing.v1 import AppTest

from app import warm
from cnnlib import bench, spec
from cnnlib.models import registry

ROOT = Path(__file__).parent.parent
ENTRY = str(ROOT / "streamlit_app.py")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking"]
#: The views a class opens at once, each with the element that shows it has drawn its main
#: content: the heaviest first views of the dashboard.
HEAVY_VIEWS = [
    ("explore?model=vgg19&view=graph", '[data-testid="stGraphVizChart"] svg'),
    ("explore?model=resnet152&view=graph", '[data-testid="stGraphVizChart"] svg'),
    ("explore?model=googlenet&view=charts", ".js-plotly-plot"),
    ("explore?model=densenet121&view=graph", '[data-testid="stGraphVizChart"] svg'),
    ("compare?models=alexnet,zfnet,vgg16,vgg19,googlenet,resnet50,resnet152,resnext50_32x4d,"
     "densenet121&view=table", ".js-plotly-plot"),
    ("explore?model=alexnet_original&view=paper", '[data-testid="stDataFrame"]'),
    ("layer-lab", '[data-testid="stMetric"]'),
    ("explore?model=resnext50_32x4d&view=graph", '[data-testid="stGraphVizChart"] svg'),
    ("explore?model=vgg16&view=charts", ".js-plotly-plot"),
    ("compare?models=alexnet,vgg16,googlenet,resnet152&view=accuracy", ".js-plotly-plot"),
    ("explore?model=resnet50&view=memory", ".js-plotly-plot"),
    ("build?view=graph", '[data-testid="stGraphVizChart"] svg'),
]
#: After the class: one session looking inside VGG-16 (random weights offline: the same
#: 528 MB as the ImageNet ones).
VISUALIZE_VGG16 = ("visualize?model=vgg16&weights=random&view=predictions",
                   '[data-testid="stDataFrame"]')
#: The peer of a load run: the same number of sessions on Home, which loads no torch and
#: computes nothing, so its time is the browsers' and Streamlit's own.
HOME = ("", '[data-testid="stDataFrame"]')
_ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
#: Run in every page of a load run before its own scripts: the page notes the moment (ms since
#: the epoch) it has settled, its script done and its main element drawn, so that the
#: harness can read the times afterwards instead of asking 30 busy pages ten times a second.
_MARK_SETTLED = """(sel => { const check = () => {
  if (document.querySelector('[data-testid="stApp"][data-test-script-state="notRunning"]')
      && document.querySelector(sel)) { window.__settled = Date.now(); }
  else { setTimeout(check, 100); } }; check(); })(%s)"""


def _view(page: str, **params: str) -> float:
    """Seconds for one page view, as the user sees it: a fresh session's script run."""
    at = AppTest.from_file(ENTRY, default_timeout=300).run()
    at.switch_page(page)
    for key, value in params.items():
        at.query_params[key] = value
    start = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - start
    if at.exception:
        raise RuntimeError(f"{page} {params}: {at.exception[0].value}")
    return elapsed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running ``streamlit run`` of the dashboard."""

    url: str
    process: subprocess.Popen

    def status(self, field: str) -> float:
        """A memory figure of the server process from /proc (``VmRSS``, ``VmHWM``), in MB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        raise KeyError(field)

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def serve(port: int | None = None, env: dict[str, str] | None = None) -> Iterator[Server]:
    """``streamlit run streamlit_app.py`` on ``port`` (a free one by default), as the suite's
    browser tests and the load benchmark use it; stopped on exit."""
    port = port or free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port",
         str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError("streamlit did not start in 120 s")
        yield Server(url, proc)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@dataclass
class Session:
    """One browser session of a load run: what it opened, when it settled, what went wrong."""

    path: str
    seconds: float | None = None  # until settled; None if it never did
    problem: str = ""


def open_at_once(browser, url: str, views: Sequence[tuple[str, str]], timeout_s: float = 180
                 ) -> list[Session]:
    """Open every view in its own browser context at the same moment and wait until each has
    settled (its script done and its main element drawn), up to ``timeout_s``. Each session's
    page is then checked for an error element, a traceback or "Page not found"."""
    pages = []
    for _, main in views:
        page = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
        page.add_init_script(_MARK_SETTLED % json.dumps(main))
        pages.append(page)
    sessions = [Session(path) for path, _ in views]
    start = time.time()
    for page, (path, _) in zip(pages, views, strict=True):
        page.goto(f"{url}/{path}", wait_until="commit")
    waiting = set(range(len(pages)))
    while waiting and time.time() - start < timeout_s:
        time.sleep(1)
        for i in sorted(waiting):
            settled = pages[i].evaluate("() => window.__settled")
            if settled is not None:
                sessions[i].seconds = settled / 1000 - start
                waiting.discard(i)
    for i, (page, session) in enumerate(zip(pages, sessions, strict=True)):
        if i in waiting:
            session.problem = f"not settled after {timeout_s:.0f} s"
        elif page.locator(_ERRORS).count():
            session.problem = "an error is shown: " + page.locator(_ERRORS).first.inner_text()
        elif "Traceback" in page.locator('[data-testid="stMain"]').inner_text():
            session.problem = "a traceback is shown"
        elif "Page not found" in page.content():
            session.problem = "page not found"
        page.context.close()
    return sessions


async def _light_session(url: str, path: str, timeout_s: float) -> Session:
    """One session that draws nothing: Streamlit's own websocket protocol, as the browser
    speaks it (a ``rerun_script`` with the page and its query string), read until the script
    run has finished; an exception or error element, or an unknown page, is its problem."""
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from websockets.typing import Subprotocol

    session, start = Session(path), time.perf_counter()
    page, _, query = path.partition("?")
    rerun = BackMsg()
    rerun.rerun_script.page_name, rerun.rerun_script.query_string = page, query
    stream = url.replace("http://", "ws://") + "/_stcore/stream"

    async def run() -> Session:
        async with websockets.connect(stream, subprotocols=[Subprotocol("streamlit")],
                                      max_size=None) as ws:
            await ws.send(rerun.SerializeToString())
            return await _read_run(ws, session, start)

    try:  # wait_for, not asyncio.timeout(): that came in Python 3.11, and we support 3.10
        return await asyncio.wait_for(run(), timeout_s)
    except asyncio.TimeoutError:  # TimeoutError itself since 3.11
        session.problem = f"not settled after {timeout_s:.0f} s"
        return session


async def _read_run(ws, session: Session, start: float) -> Session:
    """Read one script run's messages into ``session`` (see :func:`_light_session`)."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    while True:
        msg = ForwardMsg.FromString(await ws.recv())
        kind = msg.WhichOneof("type")
        element = msg.delta.new_element if kind == "delta" else None
        if element is not None and element.WhichOneof("type") == "exception":
            session.problem = "an exception is shown: " + element.exception.message
        elif element is not None and element.WhichOneof("type") == "alert" and \
                element.alert.format == element.alert.ERROR:
            session.problem = "an error is shown: " + element.alert.body
        elif kind == "page_not_found":
            session.problem = "page not found"
        elif kind == "script_finished" and \
                msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
            session.seconds = time.perf_counter() - start
            return session


def open_light(url: str, paths: Sequence[str], timeout_s: float = 180) -> list[Session]:
    """Open every path at once with a light client (:func:`_light_session`): the server's
    own work for that many sessions, without the browsers' (their drawing and the static
    files), for a load run whose browsers would share the server's cores."""
    async def all_at_once() -> list[Session]:
        return await asyncio.gather(*(_light_session(url, p, timeout_s) for p in paths))

    return asyncio.run(all_at_once())


def torch_baseline_mb() -> float:
    """Resident memory of a fresh process that has imported torch and torchvision, in MB."""
    code = ("import torch, torchvision, resource; "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout)


def load(sessions: int, timeout_s: float = 300, port: int | None = None
         ) -> tuple[list[Session], list[Session], list[Session], dict]:
    """A class on one link (see the module's docstring): the light sessions, the browser
    sessions, the Visualize session after them, and the server's figures. Each of the two
    runs starts its own server, so both see the first views of a fresh one."""
    from playwright.sync_api import sync_playwright

    if CHROMIUM is None:
        raise RuntimeError("Chromium is missing: apt-get install chromium")
    views = [HEAVY_VIEWS[i % len(HEAVY_VIEWS)] for i in range(sessions)]
    with serve(port) as server:  # the server's own work: clients that draw nothing
        cpu, start = server.cpu_seconds(), time.perf_counter()
        open_light(server.url, [HOME[0]] * sessions, timeout_s)
        figures = {"light_home_wall": time.perf_counter() - start,
                   "light_home_cpu": server.cpu_seconds() - cpu}
        cpu, start = server.cpu_seconds(), time.perf_counter()
        light = open_light(server.url, [path for path, _ in views], timeout_s)
        figures |= {"light_wall": time.perf_counter() - start,
                    "light_cpu": server.cpu_seconds() - cpu}
    with serve(port) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        idle = {"rss": server.status("VmRSS"), "cpu": server.cpu_seconds()}
        # the peer: as many sessions on Home (no torch, no model)
        home = open_at_once(browser, server.url, [HOME] * sessions, timeout_s)
        figures |= {"home_wall": _all_settled(home, timeout_s),
                    "home_cpu": server.cpu_seconds() - idle["cpu"],
                    "home_unsettled": sum(s.seconds is None for s in home)}
        cpu = server.cpu_seconds()
        class_ = open_at_once(browser, server.url, views, timeout_s)
        figures |= {"wall": _all_settled(class_, timeout_s),
                    "server_cpu": server.cpu_seconds() - cpu,
                    "peak_after_class": server.status("VmHWM"), "idle": idle["rss"]}
        visualize = open_at_once(browser, server.url, [VISUALIZE_VGG16], timeout_s)
        figures["peak"] = server.status("VmHWM")
        figures["now"] = server.status("VmRSS")
        browser.close()
    figures["torch_baseline"] = torch_baseline_mb()
    return light, class_, visualize, figures


def _all_settled(sessions: list[Session], timeout_s: float) -> float:
    """Seconds until the last of ``sessions`` settled (the bound if one never did)."""
    return max((timeout_s if s.seconds is None else s.seconds for s in sessions), default=0.0)


def _problems(sessions: list[Session]) -> str:
    unsettled = sum(s.seconds is None for s in sessions)
    errors = sum(bool(s.problem) and s.seconds is not None for s in sessions)
    return f"{unsettled} not settled in time, {errors} showing an error (target: none)"


def _load_main(sessions: int, port: int | None) -> None:
    light, class_, visualize, f = load(sessions, port=port)
    for s in sorted(class_ + visualize, key=lambda s: -(s.seconds or 1e9)):
        print(f"{(f'{s.seconds:.1f}' if s.seconds is not None else '-'):>7} s  {s.path}"
              f"{'  ' + s.problem if s.problem else ''}")
    for s in light:
        if s.problem:
            print(f"light client, {s.path}: {s.problem}")
    slowest = max((s.seconds for s in light if s.seconds is not None), default=float("nan"))
    print(f"The server's own work, {sessions} light clients (no drawing) on a fresh server: "
          f"all script runs done after {f['light_wall']:.1f} s, the slowest {slowest:.1f} s, "
          f"server CPU {f['light_cpu']:.1f} s (target: under 15 s); {_problems(light)}. "
          f"Peer, the same run: {sessions} on Home, {f['light_home_wall']:.1f} s, CPU "
          f"{f['light_home_cpu']:.1f} s")
    print(f"{sessions} browsers at once on a fresh server: all settled after {f['wall']:.1f} s "
          f"(target: under 60 s); {_problems(class_ + visualize)}. Peer, the same run: "
          f"{sessions} browsers on Home settled after {f['home_wall']:.1f} s "
          f"({f['home_unsettled']} not in time)")
    print(f"server CPU time while the browsers loaded: {f['server_cpu']:.1f} s (their static "
          f"files and websockets included, their drawing not); Home's: {f['home_cpu']:.1f} s")
    print(f"server memory: {f['idle']:.0f} MB idle, peak {f['peak_after_class']:.0f} MB after "
          f"the class, {f['peak']:.0f} MB after Visualize with VGG-16, {f['now']:.0f} MB now; "
          f"a process that only imports torch + torchvision: {f['torch_baseline']:.0f} MB, so "
          f"the peak is {f['peak'] - f['torch_baseline']:.0f} MB above it "
          "(target: under 1200 MB)")


def _rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory of this process, in MB."""
    with open("/proc/self/statm") as f:
        current = int(f.read().split()[1]) * resource.getpagesize() / 2**20
    return current, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command")
    pages = commands.add_parser("pages", help="first views of every page (the default)")
    pages.add_argument("--models", default="", help="comma-separated (default: the zoo)")
    many = commands.add_parser("load", help="many browser sessions at once on one server")
    many.add_argument("--sessions", type=int, default=30)
    many.add_argument("--port", type=int, default=None, help="default: a free one")
    args = parser.parse_args(argv if argv is not None else sys.argv[1:] or ["pages"])
    if args.command == "load":
        _load_main(args.sessions, args.port)
    else:
        _pages_main([n for n in args.models.split(",") if n] or registry.names())


def _pages_main(names: list[str]) -> None:
    warm.skip()  # first views before the model is cached: what the warm-up would hide
    _view("app/explore.py", model="lenet5")  # warm: imports, the first session
    times = {name: [_view("app/explore.py", model=name, view=view) * 1000
                    for view in ("graph", "table", "charts", "memory", "paper")]
             for name in names}
    for view in ("table", "accuracy", "history", "notes"):
        _view("app/compare.py", models=",".join(names), view=view)
    for section in ("conv", "pool", "1x1", "inception", "bottleneck", "stack"):
        _view("app/layer_lab.py", section=section)
    for example in spec.EXAMPLES:
        _view("app/build.py", spec=spec.EXAMPLES[example],
              input="x".join(map(str, spec.EXAMPLE_INPUTS[example])))
    _view("app/home.py")
    current, peak = _rss_mb()  # before the peer builds real models
    print(f"{'model':<18}{'graph':>7}{'table':>7}{'charts':>8}{'memory':>8}{'paper':>7}"
          f"{'torchinfo':>11}  (ms)  torchinfo / graph view")
    for name, (graph, table, charts, memory, paper) in times.items():
        peer = bench.best(functools.partial(bench.torchinfo_summary, name), 1) * 1000
        print(f"{name:<18}{graph:>7.0f}{table:>7.0f}{charts:>8.0f}{memory:>8.0f}{paper:>7.0f}"
              f"{peer:>11.0f}  {peer / graph:.1f}x")
    worst = max(max(t) for t in times.values())
    print(f"slowest first view: {worst:.0f} ms (target: under 1000 ms)")
    print(f"resident memory after every page with every model: {current:.0f} MB now, "
          f"{peak:.0f} MB at its peak (target: under 1200 MB)")


if __name__ == "__main__":
    main()
