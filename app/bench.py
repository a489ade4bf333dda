"""Page benchmark: ``python -m app.bench`` (it drives Streamlit, so it lives with the pages,
not in cnnlib.bench, which never imports streamlit).

For every zoo model it times the first view of ``/explore`` (graph), then its table and
charts views, in a warm app: the imports are done and one other model has been shown, but
this model's analysis is not cached yet; that is what a student picking a new network waits
for. Beside each figure, measured in the same run, the peer: ``torchinfo.summary`` of the same
model, the per-layer table a page built on torchinfo would need before drawing anything.
It then opens Compare (every view, all models), Layer lab, Build (every example) and Home and
reports the resident memory of the process that served them all (AppTest runs the pages in
this process, as the server would).
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from cnnlib import bench, spec
from cnnlib.models import registry

ENTRY = str(Path(__file__).parent.parent / "streamlit_app.py")


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


def _rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory of this process, in MB."""
    with open("/proc/self/statm") as f:
        current = int(f.read().split()[1]) * resource.getpagesize() / 2**20
    return current, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="", help="comma-separated (default: the zoo)")
    args = parser.parse_args(argv)
    names = [n for n in args.models.split(",") if n] or registry.names()
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
        peer = bench.best(lambda n=name: bench.torchinfo_summary(n), 1) * 1000
        print(f"{name:<18}{graph:>7.0f}{table:>7.0f}{charts:>8.0f}{memory:>8.0f}{paper:>7.0f}"
              f"{peer:>11.0f}  {peer / graph:.1f}x")
    worst = max(max(t) for t in times.values())
    print(f"slowest first view: {worst:.0f} ms (target: under 1000 ms)")
    print(f"resident memory after every page with every model: {current:.0f} MB now, "
          f"{peak:.0f} MB at its peak (target: under 1200 MB)")


if __name__ == "__main__":
    main()
