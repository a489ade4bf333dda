"""Command line: ``python -m cnnlib list | summary NAME | summary --spec TEXT |
summary --torchvision NAME | train``.

Bad input exits with code 2 and a one-line message on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Sequence
from typing import Any

from cnnlib.errors import CnnlibError


def _option(text: str) -> tuple[str, Any]:
    """``key=value`` with the value read as a Python literal where it is one."""
    key, sep, raw = text.partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"'{text}' is not KEY=VALUE")
    try:
        return key, ast.literal_eval(raw)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return key, raw  # not a literal (or a pathological one): the builder judges the text


def _cmd_list(_: argparse.Namespace) -> None:
    from cnnlib.models import registry

    width = max(len(n) for n in registry.names())
    for name in registry.names():
        print(f"{name:<{width}}  {registry.get(name).description}")


def format_table(result: Any) -> str:
    """The per-layer table as the slides print it: memory in KB, params in k, ops in M."""
    layers = result.layers
    ops = "flops" if result.flops else "macs"
    show = layers[["name", "type", "output_shape", "kernel", "stride", "padding"]].copy()
    show["memory_KB"] = (layers["memory_bytes"] / 1024).map(lambda v: f"{v:,.0f}")
    show["params_k"] = (layers["params"] / 1000).map(lambda v: f"{v:,.0f}")
    show[f"{ops}_M"] = (layers[ops] / 1e6).map(lambda v: f"{v:,.0f}")
    show["rf"] = layers["receptive_field"]
    t = result.totals
    total_ops = t["flops"] if result.flops else t["macs"]
    lines = [show.to_string(index=False), "",
             f"input {'x'.join(map(str, result.input_size))} -> output {t['output_shape']}: "
             f"{t['params']:,} params, {total_ops:,} {ops.upper()} "
             f"({total_ops / 1e9:.2f} G), activations {t['activations']:,} values = "
             f"{t['memory_bytes'] / 2**20:.1f} MB per image (fp32, in-place layers add none), "
             f"depth {t['depth']} weight layers"]
    if t.get("unused_params"):
        from cnnlib.analysis import unused_note

        lines.append(f"unused: {unused_note(t)}")
    lines += [f"warning: {w}" for w in result.warnings]
    return "\n".join(lines)


def _cmd_summary(args: argparse.Namespace) -> None:
    if args.spec is not None:
        from cnnlib.spec import DEFAULT_INPUT, profile_spec

        result = profile_spec(args.spec, args.input or DEFAULT_INPUT, flops=args.flops)
    elif args.torchvision is not None:
        from cnnlib.analysis import profile_torchvision

        result = profile_torchvision(args.torchvision, args.input, flops=args.flops)
    else:
        from cnnlib.analysis import profile

        result = profile(args.name, args.input, flops=args.flops, **dict(args.option))
    if args.format == "csv":
        sys.stdout.write(result.layers.to_csv(index=False))
    elif args.format == "json":
        print(result.to_json())
    else:
        print(format_table(result))


def _cmd_train(args: argparse.Namespace) -> None:
    from dataclasses import replace

    from cnnlib import train

    flags = {"models": tuple(args.models.split(",")) if args.models else None,
             "epochs": args.epochs, "batch_size": args.batch_size, "recipe": args.recipe,
             "limit_train": args.limit_train, "test_subset": args.test_subset}
    # a preset's settings, where the command line names none of its own
    asked = train.preset(args.preset) if args.preset else train.TrainSettings()
    settings = replace(asked, **{k: v for k, v in flags.items() if v is not None},
                       precision=args.precision, compile=args.compile,
                       note=args.note or (f"--preset {args.preset}" if args.preset else ""))
    if not settings.models:
        raise CnnlibError("Name the models to train (--models cifar_plain20,...) or a "
                          f"--preset ({', '.join(train.PRESETS)}).")
    with train.stop_on_signals() as stop:
        run = train.train(settings, args.data, device=args.device, out=args.out,
                          resume=args.resume, stop=stop, on_progress=train.ProgressPrinter())
    print(run)
    if stop.signum is not None:  # stopped cleanly, but say which signal, as a shell would
        sys.exit(128 + stop.signum)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnnlib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="one zoo model a line: name and description")
    summary = sub.add_parser("summary", help="per-layer table of a zoo model or of a --spec")
    summary.add_argument("name", nargs="?", help="a zoo model name (see `list`)")
    summary.add_argument("--spec", help="a network in the notes' notation instead of NAME, e.g. "
                         "'[conv3-64 relu]*2 maxpool fc10' (see cnnlib.spec)")
    summary.add_argument("--torchvision", metavar="NAME", help="any torchvision classification "
                         "model instead of NAME, e.g. vit_b_16 (random init, on meta)")
    summary.add_argument("--input", help="input size C x H x W, e.g. 3x227x227 "
                         "(default: the model's own; 3x224x224 for --spec)")
    summary.add_argument("--format", choices=["table", "csv", "json"], default="table")
    summary.add_argument("--flops", action="store_true", help="FLOPs (2 x MACs) instead of MACs")
    summary.add_argument("--option", type=_option, action="append", default=[],
                         metavar="KEY=VALUE", help="a builder option, e.g. groups=1")
    fit = sub.add_parser("train", help="train CIFAR nets in lockstep on the same batches")
    fit.add_argument("--models", help="comma-separated, e.g. "
                     "cifar_plain20,cifar_plain56,cifar_resnet20,cifar_resnet56")
    fit.add_argument("--preset", help="a lesson's settings: cpu-lesson (Fig. 6 in ten "
                     "minutes on 2 CPU cores) or gpu (30 epochs, all images); other flags "
                     "override it")
    fit.add_argument("--data", default="cifar10", help="cifar10 (downloaded) or a folder of "
                     "class sub-folders (optionally in train/ and test/)")
    fit.add_argument("--epochs", type=int, help="default: the recipe's")
    fit.add_argument("--batch-size", type=int, help="default: the recipe's")
    fit.add_argument("--recipe", choices=["quick", "paper"], help="default: quick")
    fit.add_argument("--device", default="auto", help="auto, cpu or cuda")
    fit.add_argument("--out", help="the run folder (default: runs/<time>-<random>)")
    fit.add_argument("--limit-train", type=int, help="train on this many images only")
    fit.add_argument("--compile", action="store_true", help="torch.compile each model")
    fit.add_argument("--precision", choices=["auto", "bf16", "fp32"], default="auto",
                     help="auto: bfloat16 autocast on a GPU or a CPU with bfloat16 hardware")
    fit.add_argument("--test-subset", type=int, help="evaluate epochs before the last on this "
                     "many test images (the last on all)")
    fit.add_argument("--resume", action="store_true", help="continue the run in --out")
    fit.add_argument("--note", default="", help="free text kept in config.json")
    args = parser.parse_args(argv)
    if args.command == "summary" and (
            [args.name, args.spec, args.torchvision].count(None) != 2
            or (args.name is None and args.option)):
        summary.error("give one of a model NAME (with any --option), --spec TEXT or "
                      "--torchvision NAME")
    try:
        {"list": _cmd_list, "summary": _cmd_summary, "train": _cmd_train}[args.command](args)
    except CnnlibError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
