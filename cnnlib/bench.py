"""Benchmarks that print our figures beside a peer measured in the same run.

``python -m cnnlib.bench analysis`` profiles every zoo model at its default input, cold (build
on meta + trace + walk) and warm (the walk alone, which is what any new input size costs),
next to torchinfo's ``summary`` (which builds the model for real and runs a hooked forward),
with the ratio; then the peak memory of analysing VGG-16 at 224x224 and at 1024x1024, each in
a fresh process. Every timing, ours and the peer's, is the best of ``--repeat`` runs.

``python -m cnnlib.bench train --data PATH`` trains with :func:`cnnlib.train.train` and reports
per model its images/s, epoch time, time to 91% and 93% test accuracy and final test error,
next to the images/s of the PyTorch CIFAR-10 tutorial's loop on the same model and images.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from torch.utils import data as torch_data

from cnnlib import analysis
from cnnlib.models import registry


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
        cold = best(lambda n=name: _cold(n), repeat)
        warm = best(lambda n=name: analysis.profile(n), repeat)
        if peer:
            ti = best(lambda n=name: torchinfo_summary(n), repeat)
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
    full = best(lambda: model(x), repeat)
    for layer in ("layer1.0.conv1", "layer3.5.relu#3", "layer4.2.relu#3"):
        ours = best(lambda ly=layer: visualize.feature_maps(model, x, ly), repeat)
        print(f"{'activations of ' + layer:<44} {ours * 1e3:9.0f} {full * 1e3:9.0f}  "
              "a full forward pass")
    for window, stride in ((56, 28), (32, 16)):
        steps = ((224 - window) // stride + 1) ** 2
        ours = best(lambda w=window, s=stride: visualize.occlusion(model, x, 0, w, s), 1)
        peer = best(lambda w=window, s=stride: Occlusion(model).attribute(
            x, sliding_window_shapes=(3, w, w), strides=(3, s, s), target=0,
            perturbations_per_eval=4), 1)
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


def bench_train(args: argparse.Namespace) -> None:
    import statistics
    import tempfile
    from itertools import pairwise
    from pathlib import Path

    from cnnlib import runs, train
    from cnnlib.data import load_dataset, resolve_device

    device = resolve_device(args.device)
    models = args.models.split(",")
    start = time.perf_counter()
    dataset = load_dataset(args.data, limit_train=args.limit_train, device=device)
    print(f"{dataset.source}: {len(dataset.train_y):,} training and {len(dataset.test_y):,} "
          f"test images on {device}, loaded in {time.perf_counter() - start:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        run = train.train(models, dataset, epochs=args.epochs, batch_size=args.batch_size,
                          recipe=args.recipe, device=device, out=Path(tmp) / "run",
                          compile=args.compile)
        config, records = runs.read_config(run), runs.read_metrics(run)
    print(f"{'model':<16} {'img/s':>9} {'epoch s':>8} {'91% at s':>12} {'93% at s':>12} "
          f"{'final err':>9} {'tutorial img/s':>15} {'ratio':>7}")
    for name in models:
        mine = [r for r in records if r.get("model") == name and "test_error" in r]
        if not mine:
            print(f"{name:<16} diverged or not evaluated")
            continue
        steady = mine[1:] or mine  # the first epoch pays for cuDNN autotuning and compiling
        speed = statistics.median(r["images_per_s"] for r in steady)
        epochs = [b - a for a, b in pairwise([0.0, *(r["seconds"] for r in mine)])]
        epoch_s = statistics.median(epochs[1:] or epochs)
        reached = [next((f"{r['seconds']:.0f}" for r in mine if r["test_error"] <= 1 - goal),
                        "not reached") for goal in (0.91, 0.93)]
        peer = tutorial_images_per_s(name, dataset, device, args.peer_steps)
        print(f"{name:<16} {speed:9,.0f} {epoch_s:8.1f} {reached[0]:>12} {reached[1]:>12} "
              f"{mine[-1]['test_error']:9.2%} {peer:15,.0f} {speed / peer:6.1f}x")
    fast = "bfloat16, channels_last" if device.type == "cuda" else "float32"
    print(f"\nimg/s: ours = training images per second of the lockstep loop ({len(models)} "
          f"model(s) at once, each counted once), {config['recipe']['name']} recipe, batch "
          f"{config['batch_size']}, {fast}{', compiled' if args.compile else ''}, data and "
          f"augmentation on the {device.type}, median of epochs 2+; tutorial = one model, "
          "per-image transforms on the CPU in a 2-worker DataLoader, batch 128, float32, "
          f"{args.peer_steps} steps.\nepoch s and the 91%/93% times include evaluation on the "
          f"test split; {config['epochs']} epochs.")


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
    t = sub.add_parser("train", help="training speed and accuracy vs the tutorial's loop")
    t.add_argument("--data", required=True, help="cifar10 or a folder (as for cnnlib train)")
    t.add_argument("--models", default="cifar_resnet20", help="comma-separated CIFAR nets")
    t.add_argument("--epochs", type=int, help="default: the recipe's")
    t.add_argument("--device", default="auto")
    t.add_argument("--recipe", choices=["quick", "paper"], default="quick")
    t.add_argument("--batch-size", type=int, help="default: the recipe's")
    t.add_argument("--limit-train", type=int, help="train on this many images only")
    t.add_argument("--compile", action="store_true")
    t.add_argument("--peer-steps", type=int, default=100, help="steps timed in the tutorial loop")
    args = parser.parse_args(argv)
    if args.command == "analysis":
        bench_analysis(args.models.split(","), args.repeat, not args.no_peer)
    elif args.command == "train":
        bench_train(args)
    else:
        bench_visualize(args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
