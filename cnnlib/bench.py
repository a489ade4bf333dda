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


def bench_visualize(repeat: int) -> None:
    """ResNet-50 (random weights: the arithmetic is the same as trained) at 224x224."""
    import torch
    from captum.attr import Occlusion

    from cnnlib import visualize

    torch.manual_seed(0)
    model = registry.build("resnet50_v1_5").eval()
    x = torch.randn(1, 3, 224, 224)
    print(f"torch threads: {torch.get_num_threads()}")
    print(f"{'ResNet-50, 224x224':<44} {'ours ms':>9} {'peer ms':>9}  peer")
    full = _best(lambda: model(x), repeat)
    for layer in ("layer1.0.conv1", "layer3.5.relu#3", "layer4.2.relu#3"):
        ours = _best(lambda ly=layer: visualize.feature_maps(model, x, ly), repeat)
        print(f"{'activations of ' + layer:<44} {ours * 1e3:9.0f} {full * 1e3:9.0f}  "
              "a full forward pass")
    for window, stride in ((56, 28), (32, 16)):
        steps = ((224 - window) // stride + 1) ** 2
        ours = _best(lambda w=window, s=stride: visualize.occlusion(model, x, 0, w, s), 1)
        peer = _best(lambda w=window, s=stride: Occlusion(model).attribute(
            x, sliding_window_shapes=(3, w, w), strides=(3, s, s), target=0,
            perturbations_per_eval=4), 1)
        print(f"{f'occlusion {window}px square, stride {stride} ({steps} passes)':<44} "
              f"{ours * 1e3:9.0f} {peer * 1e3:9.0f}  captum Occlusion, same batches of 4")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnnlib.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("analysis", help="analysis speed vs torchinfo, and memory")
    p.add_argument("--models", default=",".join(registry.names()),
                   help="comma-separated zoo names (default: all)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--no-peer", action="store_true", help="skip torchinfo")
    v = sub.add_parser("visualize", help="feature maps and occlusion on ResNet-50")
    v.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if args.command == "analysis":
        bench_analysis(args.models.split(","), args.repeat, not args.no_peer)
    else:
        bench_visualize(args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
