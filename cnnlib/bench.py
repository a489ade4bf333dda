"""Benchmarks that print our figures beside a peer measured in the same run.

``python -m cnnlib.bench analysis`` profiles every zoo model at its default input, cold (build
on meta + trace + walk) and warm (the walk alone, which is what any new input size costs),
next to torchinfo's ``summary`` (which builds the model for real and runs a hooked forward),
with the ratio; then the peak memory of analysing VGG-16 at 224x224 and at 1024x1024, each in
a fresh process. Every timing, ours and the peer's, is the best of ``--repeat`` runs.

``python -m cnnlib.bench analysis --all-torchvision`` does the same for every torchvision
classification model (80), beside a hooked forward on meta tensors under FlopCounterMode.

``python -m cnnlib.bench train --data PATH`` measures each CPU speed-up against the others in one
run (float32 / bfloat16 autocast, contiguous / channels_last, 1 thread / all), then our training
loop against the PyTorch CIFAR-10 tutorial's loop on the same single model, batch and images,
the lockstep's cost per model, and what evaluating after every epoch costs.

``python -m cnnlib.bench lesson --data PATH`` runs the ``cpu-lesson`` preset end to end and
prints its wall time and plain-56's final training error minus plain-20's.

``python -m cnnlib.bench gpu --data PATH`` is the GPU proof in one call (:func:`bench_gpu`).
"""

from __future__ import annotations

import argparse
import functools
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from torch.utils import data as torch_data

from cnnlib import analysis
from cnnlib.models import registry

if TYPE_CHECKING:  # imported where used: the analysis benchmark never loads training
    from cnnlib import train


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _cold(name: str) -> None:
    analysis._traced_zoo.cache_clear()
    analysis.profile(name)


def torchinfo_summary(name: str) -> None:
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
        cold = best(functools.partial(_cold, name), repeat)
        warm = best(functools.partial(analysis.profile, name), repeat)
        if peer:
            ti = best(functools.partial(torchinfo_summary, name), repeat)
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


def hooked_meta_forward(model: Any, size: tuple[int, int, int]) -> None:
    """The peer for any-model analysis: what a hook-based counter costs at best, a forward
    on meta tensors under FlopCounterMode with a hook on every leaf (no real weights)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    shapes: list[Any] = []
    hooks = [m.register_forward_hook(lambda m, i, o: shapes.append(getattr(o, "shape", None)))
             for m in model.modules() if not list(m.children())]
    try:
        with FlopCounterMode(display=False), torch.no_grad():
            model(torch.empty(1, *size, device="meta"))
    finally:
        for h in hooks:
            h.remove()


def bench_torchvision(repeat: int, names: Sequence[str] | None = None) -> None:
    """Every torchvision classifier: cold (meta build + trace + walk) and warm (the walk
    alone) beside the peer, a hooked meta forward under FlopCounterMode of the same model."""
    names = list(names or analysis.torchvision_names())
    print(f"{'model':<20} {'input':>9} {'layers':>6} {'cold ms':>9} {'warm ms':>9} "
          f"{'hooked meta fwd ms':>19} {'ratio':>6}")
    colds, warms = [], []
    for name in names:
        def cold(n: str = name) -> None:
            analysis.traced_torchvision.cache_clear()
            analysis.profile_torchvision(n)
        c = best(cold, repeat)
        size = analysis.torchvision_input_size(name)
        result = analysis.profile_torchvision(name)
        def warm(n: str = name) -> None:  # as at a new size: no meta run kept from before
            analysis.traced_torchvision(n).fallbacks.clear()
            analysis.profile_torchvision(n)
        w = best(warm, repeat)
        model = analysis.traced_torchvision(name).root
        peer = best(functools.partial(hooked_meta_forward, model, size), repeat)
        colds.append((c, name))
        warms.append((w, name))
        print(f"{name:<20} {'x'.join(map(str, size)):>9} {len(result.rows):>6} "
              f"{c * 1e3:9.1f} {w * 1e3:9.1f} {peer * 1e3:19.1f} {peer / w:5.1f}x")
    print(f"\n{len(names)} models; slowest cold {max(colds)[0] * 1e3:.0f} ms ({max(colds)[1]}), "
          f"slowest warm {max(warms)[0] * 1e3:.1f} ms ({max(warms)[1]}); cold = build on meta "
          "+ trace + walk, warm = the walk alone, nothing kept from an earlier walk (as at\na new "
          "input size); peer = a forward on meta tensors with a hook on every leaf, under "
          "FlopCounterMode; ratio = peer / warm.")


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
    full = best(lambda: model(x), repeat)
    for layer in ("layer1.0.conv1", "layer3.5.relu#3", "layer4.2.relu#3"):
        ours = best(functools.partial(visualize.feature_maps, model, x, layer), repeat)
        print(f"{'activations of ' + layer:<44} {ours * 1e3:9.0f} {full * 1e3:9.0f}  "
              "a full forward pass")
    for window, stride in ((56, 28), (32, 16)):
        steps = ((224 - window) // stride + 1) ** 2
        ours = best(functools.partial(visualize.occlusion, model, x, 0, window, stride), 1)
        peer = best(functools.partial(
            Occlusion(model).attribute, x, sliding_window_shapes=(3, window, window),
            strides=(3, stride, stride), target=0, perturbations_per_eval=4), 1)
        print(f"{f'occlusion {window}px square, stride {stride} ({steps} passes)':<44} "
              f"{ours * 1e3:9.0f} {peer * 1e3:9.0f}  captum Occlusion, same batches of 4")


class _TutorialCifar(torch_data.Dataset):
    """What torchvision's CIFAR10 does per sample: an HxWx3 uint8 array in memory, made a PIL
    image and put through the transforms. In memory, so the tutorial loop is not charged for
    decoding JPEGs: the ratio is the smaller for it."""

    def __init__(self, images: Any, labels: list[int], transform: Callable) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        from PIL import Image

        return self.transform(Image.fromarray(self.images[index])), self.labels[index]


def tutorial_images_per_s(name: str, dataset: Any, device: Any, steps: int,
                          warmup: int = 5) -> float:
    """Training images/s of the tutorial's loop: per-image torchvision transforms
    (RandomCrop(32, padding=4), RandomHorizontalFlip, ToTensor, Normalize) in a DataLoader
    with 2 worker processes, batch 128, fp32, SGD, ``loss.item()`` every step; timed over
    ``steps`` steps after ``warmup``."""
    import torch
    import torchvision.transforms as T

    transform = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                           T.Normalize(dataset.mean, dataset.std)])
    images = dataset.train_x.permute(0, 2, 3, 1).cpu().numpy()
    loader = torch_data.DataLoader(
        _TutorialCifar(images, dataset.train_y.tolist(), transform), batch_size=128,
        shuffle=True, num_workers=2, drop_last=True, persistent_workers=True)
    model = registry.build(name, num_classes=len(dataset.classes)).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    criterion = torch.nn.CrossEntropyLoss()
    done, running_loss, start = 0, 0.0, 0.0
    while done < warmup + steps:
        for x, y in loader:
            if done == warmup:
                start = time.perf_counter()
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()  # the tutorial's bookkeeping, a sync every step
            done += 1
            if done == warmup + steps:
                break
    return steps * 128 / (time.perf_counter() - start)


def step_images_per_s(name: str, batch: int, channels_last: bool, bf16: bool, threads: int,
                      steps: int = 10) -> float:
    """Images/s of the bare training step (forward, loss, backward, SGD) on one fixed random
    batch: what the hardware gives a model, with no data, bookkeeping or Python loop around
    it. Median step of ``steps`` after two warm-up steps."""
    import statistics

    import torch
    import torch.nn.functional as F

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        torch.manual_seed(0)
        model = registry.build(name, num_classes=10).to(memory_format=fmt).train()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        x = torch.randn(batch, 3, 32, 32).contiguous(memory_format=fmt)
        y = torch.randint(0, 10, (batch,))
        times = []
        for _ in range(steps + 2):
            start = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            times.append(time.perf_counter() - start)
        return batch / statistics.median(times[2:])
    finally:
        torch.set_num_threads(before)


def our_images_per_s(models: Sequence[str], dataset: Any, device: Any, steps: int,
                     batch: int, precision: train.Precision = "auto") -> float:
    """Training images/s of :func:`cnnlib.train.train`'s loop (data on the device, batched
    augmentation, lockstep): the second of two epochs of ``steps`` steps each, as its
    records report it (evaluation not included)."""
    import tempfile
    from pathlib import Path

    from cnnlib import runs, train

    with tempfile.TemporaryDirectory() as tmp:
        settings = train.TrainSettings(models=tuple(models), epochs=2, batch_size=batch,
                                       test_subset=100, precision=precision)
        run = train.train(settings, dataset.with_train_limit(steps * batch), device=device,
                          out=Path(tmp) / "run")
        return [r for r in runs.read_metrics(run) if "images_per_s" in r][-1]["images_per_s"]


def eval_seconds(name: str, dataset: Any, images: int, bf16: bool) -> float:
    """Seconds to evaluate one model on ``images`` test images, in batches as training does."""
    import torch

    from cnnlib.train import EVAL_BATCH

    model = registry.build(name, num_classes=len(dataset.classes)).eval()
    model = model.to(memory_format=torch.channels_last)
    start = time.perf_counter()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for first in range(0, images, EVAL_BATCH):
            x = dataset.prepare(dataset.test_x[first:min(images, first + EVAL_BATCH)])
            model(x.contiguous(memory_format=torch.channels_last))
    return time.perf_counter() - start


def bench_train(args: argparse.Namespace) -> None:
    """Each speed-up measured against the others in one run, then our loop against the
    tutorial's on the same model, batch and images; the lockstep's cost per model; and what
    evaluating after every epoch costs."""
    import torch

    from cnnlib import runs, train
    from cnnlib.data import load_dataset, resolve_device

    device = resolve_device(args.device)
    name, batch = args.model, 128
    dataset = load_dataset(args.data, device=device)
    bf16_ok = train.default_precision(device) == "bf16"
    config = train.machine()
    print(f"{config['cpu']}, {config['cores']} cores, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads); bfloat16 hardware: {bf16_ok}")
    if device.type == "cpu":
        print(f"\n1. The bare training step of {name}, batch {batch}, a fixed random batch "
              "(img/s; ratio to float32 contiguous at the default threads)")
        threads = torch.get_num_threads()
        base = step_images_per_s(name, batch, False, False, threads)
        for bf16 in (False, True) if bf16_ok else (False,):
            for cl in (False, True):
                for t in sorted({1, threads}):
                    rate = step_images_per_s(name, batch, cl, bf16, t)
                    print(f"   {'bfloat16' if bf16 else 'float32':<9} "
                          f"{'channels_last' if cl else 'contiguous':<14} {t} thread(s) "
                          f"{rate:8,.0f}  {rate / base:5.2f}x")
    ours = our_images_per_s([name], dataset, device, args.steps, batch)
    peer = tutorial_images_per_s(name, dataset, device, args.peer_steps)
    print(f"\n2. One model, {name}, batch {batch}, real images, same run:\n"
          f"   ours (cnnlib.train: data on the {device.type}, batched augmentation, "
          f"{train.default_precision(device)}, channels_last) {ours:8,.0f} img/s\n"
          f"   tutorial (ImageFolder-style per-image transforms, 2-worker DataLoader, "
          f"float32)     {peer:8,.0f} img/s\n   ratio {ours / peer:.2f}x (target: 2x)")
    family, depth = runs.family_and_depth(name)
    twin = f"cifar_{'plain' if family == 'residual' else 'resnet'}{depth}"
    pair = our_images_per_s([name, twin], dataset, device, args.steps, batch)
    print(f"\n3. Lockstep: {name} and {twin} (the same cost) race at {pair:,.0f} img/s, "
          f"i.e. {2 * pair:,.0f} model-images/s, {2 * pair / ours:.2f}x the single model's "
          "rate per model (1.00x: the lockstep costs nothing beyond its models)")
    full = eval_seconds(name, dataset, len(dataset.test_y), bf16_ok)
    part = eval_seconds(name, dataset, 2000, bf16_ok)
    epoch = len(dataset.train_y) / ours
    print(f"\n4. Evaluation of {name}: all {len(dataset.test_y):,} test images {full:.1f} s, "
          f"a fixed 2,000 {part:.1f} s, against {epoch:.0f} s for a training epoch of "
          f"{len(dataset.train_y):,} images ({full / epoch:.0%} and {part / epoch:.0%} of it)")


def bench_lesson(args: argparse.Namespace) -> None:
    """The ``cpu-lesson`` preset end to end, as a class would run it: wall time (data loading
    included) and the gap between plain-56's and plain-20's final training errors."""
    import tempfile
    from pathlib import Path

    from cnnlib import runs, train

    chosen = train.preset(args.preset)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out) if args.out else Path(tmp) / "run"
        start = time.perf_counter()
        run = train.train(replace(chosen, note=args.preset), args.data, device="cpu",
                          out=out, on_progress=train.ProgressPrinter())
        wall = time.perf_counter() - start
        curves = runs.curves(run)
        machine = train.machine()
    last = curves[curves["epoch"] == curves["epoch"].max()].set_index("model")
    print(f"\n{args.preset}: {', '.join(chosen.models)}; {chosen.epochs} epochs of "
          f"{chosen.limit_train or 'all'} training images, batch {chosen.batch_size}; "
          f"{machine['cpu']}, {machine['cores']} cores")
    print(f"wall time {wall / 60:.1f} min (target: at most 10)")
    for model, row in last.iterrows():
        print(f"  {model:<16} train error {row['train_error']:6.1%}  test error "
              f"{row['test_error']:6.1%}")
    if {"cifar_plain56", "cifar_plain20"} <= set(last.index):
        gap = last.loc["cifar_plain56", "train_error"] - last.loc["cifar_plain20", "train_error"]
        print(f"plain-56 minus plain-20, final training error: {gap * 100:+.1f} points "
              "(target: at least +5)")


PAPER_ERROR = 0.0875  # ResNet-20's CIFAR-10 test error in He et al. 2016, Table 6


def bench_gpu(args: argparse.Namespace) -> dict[str, Any]:
    """The GPU proof in one call, each figure written as soon as it is known (a lease that
    ends early keeps what was measured; the race's folder resumes with ``--resume``):

    1. the four-model race (:data:`cnnlib.train.FIG6`) for ``--epochs`` with the quick
       recipe into ``OUT/fig6-gpu``, a run folder to copy into ``assets/runs/``;
    2. ResNet-20 alone with the same recipe, and the time its test error first reached the
       paper's 8.75% (91.25% accuracy);
    3. the tutorial loop's images/s on the same GPU and model, beside ours from step 2.

    The figures go to ``OUT/gpu-proof.json`` and a README table to ``OUT/gpu-proof.md``.
    """
    import json
    import statistics
    from pathlib import Path

    import torch

    from cnnlib import runs, train
    from cnnlib.data import load_dataset, resolve_device

    device = resolve_device(args.device)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Any] = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else
        train.machine()["cpu"], "torch": torch.__version__, "epochs": args.epochs}

    def save() -> None:
        (out / "gpu-proof.json").write_text(json.dumps(figures, indent=2) + "\n")
        (out / "gpu-proof.md").write_text(gpu_table(figures))

    start = time.perf_counter()
    dataset = load_dataset(args.data, limit_train=args.limit_train, device=device)
    figures["data"] = f"{dataset.source}: {len(dataset.train_y):,} training images"
    race = train.train(train.TrainSettings(models=train.FIG6, epochs=args.epochs), dataset,
                       device=device, out=out / "fig6-gpu", resume=True,
                       on_progress=train.ProgressPrinter())
    last = runs.curves(race).groupby("model").last()
    figures["race_s"] = runs.read_metrics(race)[-1]["seconds"]
    figures["race_final"] = {m: {"train_error": row["train_error"],
                                 "test_error": row["test_error"]} for m, row in last.iterrows()}
    save()
    solo = train.train(train.TrainSettings(models=("cifar_resnet20",), epochs=args.epochs),
                       dataset, device=device, out=out / "resnet20-gpu", resume=True)
    records = [r for r in runs.read_metrics(solo) if "test_error" in r]
    reached = next((r["seconds"] for r in records if r["test_error"] <= PAPER_ERROR), None)
    figures["resnet20"] = {
        "seconds_to_paper_error": reached, "best_test_error": min(r["test_error"]
                                                                  for r in records),
        "images_per_s": statistics.median(r["images_per_s"] for r in records[1:] or records)}
    save()
    peer = tutorial_images_per_s("cifar_resnet20", dataset, device, args.peer_steps)
    figures["tutorial_images_per_s"] = peer
    figures["ratio"] = figures["resnet20"]["images_per_s"] / peer
    figures["total_s"] = time.perf_counter() - start
    save()
    print(gpu_table(figures))
    return figures


def gpu_table(figures: dict[str, Any]) -> str:
    """The README's table of the GPU proof (rows for what has been measured so far)."""
    rows = [("device", figures["device"]), ("torch", figures["torch"]),
            ("data", figures.get("data", ""))]
    if "race_s" in figures:
        rows.append((f"four-model race, {figures['epochs']} epochs",
                     f"{figures['race_s'] / 60:.1f} min"))
        rows += [(f"{m} final train / test error",
                  f"{v['train_error']:.1%} / {v['test_error']:.1%}")
                 for m, v in figures["race_final"].items()]
    if "resnet20" in figures:
        r20 = figures["resnet20"]
        reached = r20["seconds_to_paper_error"]
        rows.append(("ResNet-20 alone: time to 91.25% test accuracy",
                     f"{reached:.0f} s" if reached is not None else
                     f"not reached (best {1 - r20['best_test_error']:.2%})"))
        rows.append(("ResNet-20 alone: our loop", f"{r20['images_per_s']:,.0f} img/s"))
    if "tutorial_images_per_s" in figures:
        rows.append(("ResNet-20: the tutorial loop", f"{figures['tutorial_images_per_s']:,.0f} "
                     f"img/s (ours {figures['ratio']:.1f}x)"))
        rows.append(("all of it", f"{figures['total_s'] / 60:.1f} min"))
    return "| figure | value |\n|---|---|\n" + "".join(f"| {a} | {b} |\n" for a, b in rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnnlib.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("analysis", help="analysis speed vs torchinfo, and memory")
    p.add_argument("--models", default=",".join(registry.names()),
                   help="comma-separated zoo names (default: all)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--no-peer", action="store_true", help="skip torchinfo")
    p.add_argument("--all-torchvision", action="store_true", help="every torchvision "
                   "classification model instead of the zoo, beside a hooked meta forward")
    v = sub.add_parser("visualize", help="feature maps and occlusion on ResNet-50")
    v.add_argument("--repeat", type=int, default=3)
    t = sub.add_parser("train", help="training speed: each speed-up, ours vs the tutorial's "
                       "loop on one model, the lockstep's cost, evaluation's cost")
    t.add_argument("--data", required=True, help="cifar10 or a folder (as for cnnlib train)")
    t.add_argument("--model", default="cifar_resnet20", help="a CIFAR net")
    t.add_argument("--device", default="auto")
    t.add_argument("--steps", type=int, default=60, help="steps per epoch timed in our loop")
    t.add_argument("--peer-steps", type=int, default=60, help="steps timed in the tutorial loop")
    les = sub.add_parser("lesson", help="the cpu-lesson preset: wall time and the plain gap")
    les.add_argument("--data", required=True, help="cifar10 or a folder (as for cnnlib train)")
    les.add_argument("--preset", default="cpu-lesson")
    les.add_argument("--out", help="keep the run in this folder (default: a temporary one)")
    g = sub.add_parser("gpu", help="the four-model race, ResNet-20's time to 91.25%% and the "
                       "tutorial loop on one GPU, written to JSON and a README table")
    g.add_argument("--data", required=True, help="cifar10 or a folder (as for cnnlib train)")
    g.add_argument("--out", default="gpu-proof", help="folder for the run, JSON and table")
    g.add_argument("--device", default="cuda")
    g.add_argument("--epochs", type=int, default=30)
    g.add_argument("--limit-train", type=int, help="train on this many images only (tests)")
    g.add_argument("--peer-steps", type=int, default=200)
    args = parser.parse_args(argv)
    from cnnlib.errors import CnnlibError

    commands = {"analysis": lambda: (bench_torchvision(args.repeat) if args.all_torchvision
                                     else bench_analysis(args.models.split(","), args.repeat,
                                                         not args.no_peer)),
                "train": lambda: bench_train(args), "lesson": lambda: bench_lesson(args),
                "gpu": lambda: bench_gpu(args), "visualize": lambda: bench_visualize(args.repeat)}
    try:
        commands[args.command]()
    except CnnlibError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
