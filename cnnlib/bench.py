"""Benchmarks that print our figures beside a peer measured in the same run.

``python -m cnnlib.bench analysis`` profiles every zoo model at its default input, cold (build
on meta + trace + walk) and warm (the walk alone, which is what any new input size costs),
next to torchinfo's ``summary`` (which builds the model for real and runs a hooked forward),
with the ratio; then the peak memory of analysing VGG-16 at 224x224 and at 1024x1024, each in
a fresh process. Every timing, ours and the peer's, is the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

from cnnlib import analysis
from cnnlib.models import registry


def _best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _cold(name: str) -> None:
    analysis._traced_zoo.cache_clear()
    analysis.profile(name)


def _torchinfo(name: str) -> None:
    import torchinfo

    info = registry.get(name)
    model = registry.build(name).eval()
    torchinfo.summary(model, input_size=(1, *info.input_size), verbose=0, device="cpu")


def analysis_rss_mb(name: str, input_size: str) -> float:
    """Peak resident memory a fresh process gains by profiling once, after its imports."""
    code = ("import resource, cnnlib.analysis as a; import pandas, torchvision; "
            "rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; "
            f"before = rss(); a.profile({name!r}, {input_size!r}); print(rss() - before)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024  # ru_maxrss is in KB on Linux


def bench_analysis(models: Sequence[str], repeat: int, peer: bool) -> None:
    print(f"{'model':<20} {'cold ms':>9} {'warm ms':>9} {'torchinfo ms':>13} {'ratio':>7}")
    for name in models:
        cold = _best(lambda n=name: _cold(n), repeat)
        warm = _best(lambda n=name: analysis.profile(n), repeat)
        if peer:
            ti = _best(lambda n=name: _torchinfo(n), repeat)
            print(f"{name:<20} {cold * 1e3:9.1f} {warm * 1e3:9.1f} {ti * 1e3:13.0f} "
                  f"{ti / cold:6.1f}x")
        else:
            print(f"{name:<20} {cold * 1e3:9.1f} {warm * 1e3:9.1f}")
    print("\ncold = build on meta + trace + walk; warm = the walk alone (trace cached, as "
          "for any new input size);\ntorchinfo = real build + summary(); ratio = torchinfo / cold.")
    base = analysis_rss_mb("vgg16", "3x224x224")
    big = analysis_rss_mb("vgg16", "3x1024x1024")
    weights = analysis.profile("vgg16").totals["params"] * 4 / 2**20
    acts = analysis.profile("vgg16", "3x1024x1024").totals["memory_bytes"] / 2**20
    print(f"\nVGG-16 analysis, peak memory added after imports (fresh process each): "
          f"224x224 {base:.0f} MB, 1024x1024 {big:.0f} MB;\na real model and forward at "
          f"1024x1024 would hold {weights:,.0f} MB of weights and {acts:,.0f} MB of activations.")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnnlib.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("analysis", help="analysis speed vs torchinfo, and memory")
    p.add_argument("--models", default=",".join(registry.names()),
                   help="comma-separated zoo names (default: all)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--no-peer", action="store_true", help="skip torchinfo")
    args = parser.parse_args(argv)
    bench_analysis(args.models.split(","), args.repeat, not args.no_peer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
