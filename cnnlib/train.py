"""Training CIFAR nets in lockstep: the race of He et al. 2016, Fig. 6, live in class.

The lesson: a deeper *plain* net (plain-56) ends with a *higher training* error than a
shallower one (plain-20), so depth alone is not overfitting but an optimisation difficulty,
while the deeper *residual* net (ResNet-56) trains better than ResNet-20. :func:`train` trains
several ``cifar_plainN`` / ``cifar_resnetN`` models side by side. Every step draws one
augmented batch and feeds that same tensor to every model, and one seed gives a plain net and
its residual twin the very same initial weights (they have the same parameters), so the
architecture is the only difference between the curves, and they advance together.

Recipes (:data:`RECIPES`):

- ``paper``, He et al. 2016, sec. 4.2: SGD with momentum 0.9, learning rate 0.1, weight decay
  1e-4, batch 128, the rate divided by 10 at 50% and 75% of the steps (the paper's 32k and 48k
  of 64k iterations; 164 epochs of 390 steps are 64k), no label smoothing. For 110-layer nets
  the paper starts at 0.01 until the training error is below 80%, "about 400 iterations",
  then goes back to 0.1: here, 400 steps at 0.01. This is the recipe to reproduce the paper's
  figures, at the paper's cost: on a GPU, tens of minutes per model.
- ``quick``, for a lesson of minutes (30 epochs by default): batch 512, since a 0.3M-parameter
  net cannot fill a GPU with 128 images; peak learning rate 0.4 = 0.1 x 512/128 (the linear
  scaling rule of Goyal et al. 2017), reached by a linear warm-up over the first 15% of the
  steps (a large rate on random weights can blow up, worst in the deep plain nets), then a
  cosine decay to 0 (no step to time by hand, and it ends at the best point of the
  schedule); SGD with Nesterov momentum 0.9, which tolerates the large rate better; weight
  decay 5e-4, the usual value for short CIFAR schedules (with the scaled rate, the decay per
  epoch equals that of 5e-4 at batch 128 and rate 0.1); label smoothing 0.1, which helps
  short schedules generalise. Plain-56 still trains worse than plain-20 under it: that is
  the point of the lesson, and no recipe removes it.

A batch size other than the recipe's scales its learning rate linearly (Goyal et al. 2017):
``quick`` at batch 128 peaks at 0.1, ``paper`` at batch 512 at 0.4.

Speed: the data set lives on the training device as uint8 (:mod:`cnnlib.data`), augmentation
is a few batched tensor ops there, models and inputs are channels_last, and the forward runs
under bfloat16 autocast (no loss scaling needed, unlike float16) on a GPU and on a CPU that
does bfloat16 in hardware (AVX-512 BF16 or AMX, decided at run time by
:func:`default_precision`; elsewhere float32). Measured on the 2-core AMD EPYC development
machine (batch 128, images/s of one training step): ResNet-20 347 in float32, 468 with
channels_last, 715 with both; plain-56 140, 186, 275. ``compile=True`` wraps each model in
``torch.compile``, and nothing waits for the device in a step: losses and error counts are
summed on the device and read once every :data:`CHECK_EVERY` steps and at the end of an epoch,
for all models with one transfer, which is also when a non-finite loss is noticed.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TextIO

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.optim.lr_scheduler import LambdaLR

from cnnlib import runs
from cnnlib.data import Dataset, batches, load_dataset, resolve_device
from cnnlib.errors import CnnlibError
from cnnlib.files import write_atomic_all
from cnnlib.models import registry
from cnnlib.weights import save_checkpoint

CHECK_EVERY = 50  # steps between reads of the losses (one host-device sync for all models)
EVAL_BATCH = 1000  # test images per forward pass
CIFAR_INPUT = (3, 32, 32)
_SLOW_START_DEPTH = 110  # the paper's 0.01 start is for its 110-layer net
# A mean training loss above this is divergence even while finite (1e19 was seen): random
# weights on 10 classes start near ln 10 = 2.3, and a net still learning stays far below.
DIVERGED_LOSS = 1e4
Precision = Literal["auto", "bf16", "fp32"]


@dataclass(frozen=True)
class Recipe:
    """A training recipe; see the module docstring for the two named ones and why."""

    name: str
    lr: float  # the peak learning rate
    momentum: float
    nesterov: bool
    weight_decay: float
    batch_size: int
    label_smoothing: float
    schedule: Literal["step", "warmup_cosine"]
    epochs: int  # the default number of epochs
    milestones: tuple[float, ...] = ()  # "step": fractions of all steps where lr /= 10
    warmup: float = 0.0  # "warmup_cosine": fraction of all steps of linear warm-up
    slow_start_steps: int = 0  # "step": steps at lr/10 for nets of 110+ layers

    def __post_init__(self) -> None:
        if self.schedule not in ("step", "warmup_cosine"):
            raise CnnlibError(f"Unknown schedule '{self.schedule}'; use step or warmup_cosine.")

    def lr_factor(self, step: int, total_steps: int, depth: int = 0) -> float:
        """The learning rate of optimiser step ``step`` (from 0), as a fraction of ``lr``."""
        if self.schedule == "step":
            factor = 0.1 ** sum(step >= m * total_steps for m in self.milestones)
            if depth >= _SLOW_START_DEPTH and step < self.slow_start_steps:
                factor = min(factor, 0.1)
            return factor
        warm = max(1, round(self.warmup * total_steps))
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total_steps - warm)))

    @classmethod
    def from_config(cls, values: dict) -> Recipe:
        """The recipe as ``config.json`` stored it (JSON turned the tuple into a list)."""
        return cls(**{**values, "milestones": tuple(values.get("milestones", ()))})


RECIPES = {
    "paper": Recipe("paper", lr=0.1, momentum=0.9, nesterov=False, weight_decay=1e-4,
                    batch_size=128, label_smoothing=0.0, schedule="step", epochs=164,
                    milestones=(0.5, 0.75), slow_start_steps=400),
    "quick": Recipe("quick", lr=0.4, momentum=0.9, nesterov=True, weight_decay=5e-4,
                    batch_size=512, label_smoothing=0.1, schedule="warmup_cosine", epochs=30,
                    warmup=0.15),
}


FIG6 = ("cifar_plain20", "cifar_plain56", "cifar_resnet20", "cifar_resnet56")


@dataclass(frozen=True, kw_only=True)
class TrainSettings:
    """Every setting of a run, in one place: what the command line's flags, a preset, the job
    queue's command line and the Train page ask for, and what ``config.json`` records.

    As asked for, ``None`` leaves a choice to the recipe: ``recipe=None`` is ``quick``,
    ``batch_size`` and ``epochs`` the recipe's, and ``precision="auto"`` follows the
    hardware. :meth:`resolved` makes every choice (the recipe a :class:`Recipe` at the batch
    size, its learning rate scaled), and its :meth:`config` is the settings part of
    ``config.json``, which :meth:`from_config` reads back, so a resumed run continues with
    exactly the settings it recorded, like nanoGPT's one config saved with its checkpoint."""

    models: tuple[str, ...] = ()
    epochs: int | None = None  # None: the recipe's
    batch_size: int | None = None  # None: the recipe's; another scales its learning rate
    recipe: str | Recipe | None = None  # None: quick
    seed: int = 0
    limit_train: int | None = None  # None: every training image
    eval_every_epoch: bool = True  # False: evaluate after the last epoch only
    test_subset: int | None = None  # None: every test image after every epoch
    precision: Precision = "auto"
    compile: bool = False
    note: str = ""  # free text for the run's reader

    def resolved(self, device: torch.device) -> TrainSettings:
        """These settings with every choice made for ``device``, checked (a one-sentence
        CnnlibError for a bad one)."""
        check_models(self.models)
        recipe = _recipe(self.recipe or "quick", self.batch_size)
        epochs = recipe.epochs if self.epochs is None else self.epochs
        if epochs < 1:
            raise CnnlibError(f"Train for at least 1 epoch, not {epochs}.")
        if self.test_subset is not None and self.test_subset < 1:
            raise CnnlibError(f"The test subset must hold at least 1 image, not "
                              f"{self.test_subset}.")
        precision = default_precision(device) if self.precision == "auto" else self.precision
        if precision not in ("bf16", "fp32"):
            raise CnnlibError(f"Unknown precision '{precision}'; use auto, bf16 or fp32.")
        return replace(self, models=tuple(self.models), recipe=recipe,
                       batch_size=recipe.batch_size, epochs=epochs, precision=precision)

    def config(self) -> dict[str, Any]:
        """The settings as ``config.json`` records them (of resolved settings)."""
        return {**asdict(self), "models": list(self.models)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TrainSettings:
        """The settings a run recorded in its ``config.json``. Runs from before a setting
        existed lack its key and get what they ran with: float32 (no ``precision``), every
        test image (no ``test_subset``), the defaults otherwise."""
        return cls(models=tuple(config["models"]), recipe=Recipe.from_config(config["recipe"]),
                   epochs=config["epochs"], seed=config.get("seed", 0),
                   limit_train=config.get("limit_train"),
                   eval_every_epoch=config.get("eval_every_epoch", True),
                   test_subset=config.get("test_subset"),
                   precision=config.get("precision", "fp32"),
                   compile=config.get("compile", False), note=config.get("note", ""))


@dataclass(frozen=True)
class Preset:
    """A whole lesson's settings under one name, for the command line and the Train page.

    ``cpu-lesson``'s numbers were chosen by measurement (``python -m cnnlib.bench lesson``,
    README): on 2 CPU cores it finishes within 10 minutes and plain-56 ends with a training
    error well above plain-20's. ``gpu`` is the quick recipe's full 30-epoch race on all
    50,000 images, minutes on one GPU."""

    name: str
    label: str  # what the Train page offers
    settings: TrainSettings


PRESETS = {
    "cpu-lesson": Preset("cpu-lesson", "Fig. 6 in ten minutes (CPU)", TrainSettings(
        models=FIG6, recipe="quick", epochs=4, batch_size=128, limit_train=10_000,
        test_subset=2_000)),
    "gpu": Preset("gpu", "Fig. 6, 30 epochs on all 50,000 images (GPU)", TrainSettings(
        models=FIG6, recipe="quick", epochs=30)),
}


def preset(name: str) -> TrainSettings:
    """The settings of the preset ``name``, or a sentence listing the presets there are."""
    if name not in PRESETS:
        raise CnnlibError(f"Unknown preset '{name}'; choose {' or '.join(PRESETS)}.")
    return PRESETS[name].settings


def check_models(models: Sequence[str]) -> None:
    """Raise a one-sentence CnnlibError unless ``models`` are distinct zoo CIFAR nets."""
    if not models:
        raise CnnlibError("Name at least one model to train, e.g. cifar_resnet20.")
    if len(set(models)) != len(models):
        raise CnnlibError(f"A model is named twice in {', '.join(models)}.")
    for name in models:
        info = registry.get(name)  # an unknown name raises with suggestions
        if info.input_size != CIFAR_INPUT:
            size = "x".join(map(str, info.input_size))
            raise CnnlibError(f"{name} takes {size} images, but training is for the CIFAR nets "
                              "(3x32x32): cifar_plainN and cifar_resnetN, N in 20, 32, 44, 56, "
                              "110.")


def train(settings: TrainSettings, data: Dataset | str, *,
          device: str | torch.device = "auto", out: Path | None = None, resume: bool = False,
          stop: threading.Event | None = None, on_record: Callable[[dict], None] | None = None,
          on_progress: Callable[[dict], None] | None = None) -> Path:
    """Train ``settings.models`` in lockstep on ``data``; returns the run folder (see
    :mod:`cnnlib.runs`).

    ``data`` is a :class:`~cnnlib.data.Dataset` or a spec for :func:`~cnnlib.data.load_dataset`.
    ``device="auto"`` is CUDA when available. The settings are :class:`TrainSettings`'s:
    ``eval_every_epoch=False`` evaluates after the last epoch only; ``test_subset=N``
    evaluates the epochs before the last on a fixed random N of the test images (a CPU
    lesson's evaluation then costs little) and the last on all of them; each record says how
    many it used (``test_images``). ``stop`` is checked after every step: once set, the run
    saves final checkpoints, writes a "stopped" record and returns. ``on_record`` sees each
    record as it is written; ``on_progress`` gets a summary every :data:`CHECK_EVERY` steps
    and after each epoch (see :func:`format_progress`). ``resume=True`` continues the run in
    ``out`` from its last completed epoch with the settings in its config.json (the models
    must be the same, and ``epochs``, if given, the run's own); without a run there, it
    starts one with ``settings``.
    """
    device = resolve_device(device)
    out = Path(out) if out is not None else None
    if resume and out is not None and (out / runs.CONFIG).is_file():
        settings = _recorded(out, settings)
    settings = settings.resolved(device)
    recipe = settings.recipe
    assert isinstance(recipe, Recipe) and settings.epochs is not None  # resolved() made sure
    limit_train = settings.limit_train
    dataset = (load_dataset(data, limit_train=limit_train, device=device) if isinstance(data, str)
               else data.with_train_limit(limit_train).to(device))
    if dataset.warning:
        warnings.warn(dataset.warning, stacklevel=2)  # on stderr for the command line
    steps_per_epoch = len(dataset.train_y) // recipe.batch_size
    if steps_per_epoch == 0:
        raise CnnlibError(f"The training split has {len(dataset.train_y)} images, fewer than "
                          f"one batch of {recipe.batch_size}; use a smaller --batch-size.")
    config = {
        **settings.config(), "data": data if isinstance(data, str) else dataset.source,
        "dataset": {"source": dataset.source, "classes": dataset.classes,
                    "train_images": len(dataset.train_y), "test_images": len(dataset.test_y),
                    "mean": list(dataset.mean), "std": list(dataset.std),
                    "skipped": dataset.skipped},
        "steps_per_epoch": steps_per_epoch, "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        **machine(), "torch": torch.__version__,
    }
    run = runs.new_run(out, config, resume=resume)
    if isinstance(stop, SignalStop):
        stop.started = True  # from here a signal stops cleanly, with a "stopped" record
    race = _Lockstep(run, list(settings.models), dataset, recipe, settings.epochs, device,
                     settings.seed, settings.compile, stop, on_record, on_progress,
                     settings.precision == "bf16", settings.test_subset)
    if not resume:
        race.start()
    elif not race.restore():
        return run
    return race.race(settings.eval_every_epoch)


def _recorded(run: Path, asked: TrainSettings) -> TrainSettings:
    """The settings ``run`` recorded, which a resume continues with, or a sentence if
    ``asked`` names other models or (if it names any) other epochs."""
    previous = runs.read_config(run)
    if list(asked.models) != previous["models"]:
        raise CnnlibError(f"{run} trains {', '.join(previous['models'])}, not "
                          f"{', '.join(asked.models)}; resume it with the same models.")
    if asked.epochs is not None and asked.epochs != previous["epochs"]:
        raise CnnlibError(f"{run} was started for {previous['epochs']} epochs, and "
                          f"--resume continues it as it was started; leave out --epochs "
                          f"(not {asked.epochs}), since more epochs would change its learning-"
                          "rate schedule midway. Start a new run for a longer one.")
    return TrainSettings.from_config(previous)


def default_precision(device: torch.device) -> Literal["bf16", "fp32"]:
    """bfloat16 autocast where the hardware does it: any CUDA GPU torch trains on, and a CPU
    with AVX-512 BF16 or AMX (oneDNN's own check); float32 elsewhere, where emulated bfloat16
    would be slower than float32."""
    if device.type == "cuda":
        return "bf16"
    return "bf16" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else "fp32"


def machine() -> dict[str, Any]:
    """Where a run trains, for its config.json: the CPU's model name, its cores and torch's
    threads (a CPU run's speed depends on all three)."""
    name = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    return {"cpu": name, "cores": os.cpu_count(), "threads": torch.get_num_threads()}


def _recipe(recipe: str | Recipe, batch_size: int | None) -> Recipe:
    """The named recipe, at ``batch_size`` with its peak learning rate scaled linearly (a
    recipe already at that size, as a resumed run recorded it, is left exactly as it is)."""
    if isinstance(recipe, str):
        if recipe not in RECIPES:
            raise CnnlibError(f"Unknown recipe '{recipe}'; choose {' or '.join(RECIPES)}.")
        recipe = RECIPES[recipe]
    if batch_size is None or batch_size == recipe.batch_size:
        return recipe
    if batch_size < 1:
        raise CnnlibError(f"The batch size must be at least 1, not {batch_size}.")
    return replace(recipe, batch_size=batch_size, lr=recipe.lr * batch_size / recipe.batch_size)


def _epoch_seed(seed: int, epoch: int) -> int:
    """The data generator is reseeded every epoch, so the batches of an epoch depend on
    (seed, epoch) alone: a resumed run draws what the uninterrupted run would have drawn,
    with no generator state to save (a CUDA generator's state would not fit a CPU one)."""
    return seed * 1_000_003 + epoch


@dataclass
class _Trainee:
    """One model in the race, and its running sums for the current epoch (on the device)."""

    name: str
    module: nn.Module  # for weights, hooks and pictures
    forward: Callable[[Tensor], Tensor]  # the module, or its torch.compile wrapper
    optimizer: torch.optim.Optimizer
    scheduler: LambdaLR
    loss_sum: Tensor
    wrong: Tensor
    train_loss: float = math.nan
    train_error: float = math.nan
    test_error: float | None = None
    best_error: float = math.inf
    diverged: str | None = None  # the message, once its loss was not finite or exploded


@dataclass
class _Lockstep:
    """The models of one run, trained step by step on the same batches."""

    run: Path
    names: list[str]
    dataset: Dataset
    recipe: Recipe
    epochs: int
    device: torch.device
    seed: int
    compile: bool
    stop: threading.Event | None
    on_record: Callable[[dict], None] | None
    on_progress: Callable[[dict], None] | None
    amp: bool  # bfloat16 autocast
    test_subset: int | None
    trainees: list[_Trainee] = field(init=False)
    epoch: int = 0  # the last completed epoch
    step: int = 0  # optimiser steps so far (the same for every model still training)
    seconds_before: float = 0.0  # run time before this session (a resumed run)

    def __post_init__(self) -> None:
        self.memory_format = torch.channels_last  # faster on GPUs and on CPUs alike
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # one input shape: autotuning pays once
        count = len(self.dataset.test_y)
        self.subset = None  # the fixed test images of the epochs before the last
        if self.test_subset is not None and self.test_subset < count:
            self.subset = torch.randperm(count, generator=torch.Generator().manual_seed(
                self.seed))[:self.test_subset].sort().values.to(self.device)
        self.steps_per_epoch = len(self.dataset.train_y) // self.recipe.batch_size
        self.total_steps = self.epochs * self.steps_per_epoch
        self.generator = torch.Generator(device=self.device)
        self.trainees = [self._build(name) for name in self.names]
        self.session_start = time.perf_counter()
        self.session_first_step = 0
        self.checked_step = 0

    def _build(self, name: str) -> _Trainee:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            module = registry.build(name, num_classes=len(self.dataset.classes))
        # torch's stubs omit memory_format, which Module.to takes (channels_last on a GPU)
        module.to(self.device, memory_format=self.memory_format)  # type: ignore[call-overload]
        optimizer = torch.optim.SGD(module.parameters(), lr=self.recipe.lr,
                                    momentum=self.recipe.momentum, nesterov=self.recipe.nesterov,
                                    weight_decay=self.recipe.weight_decay)
        depth = runs.family_and_depth(name)[1]
        scheduler = LambdaLR(optimizer, lambda step: self.recipe.lr_factor(
            step, self.total_steps, depth))
        return _Trainee(name, module, torch.compile(module) if self.compile else module,
                        optimizer, scheduler, torch.zeros((), device=self.device),
                        torch.zeros((), dtype=torch.int64, device=self.device))

    # ---------------------------------------------------------------- start and resume

    def start(self) -> None:
        for t in self.trainees:
            runs.save_filters(self.run, t.name, t.module, 0)

    def restore(self) -> bool:
        """Continue from the states of the last completed epoch; records written after it
        (an epoch cut short, a stop) are dropped, so the history reads as one run. Returns
        whether any epochs are left to train."""
        paths = [runs.state_path(self.run, t.name) for t in self.trainees]
        if not any(path.is_file() for path in paths):  # nothing completed: start over
            runs.rewrite_metrics(self.run, [])
            self.start()
            return True
        states = []
        for path in paths:
            try:
                states.append(torch.load(path, map_location="cpu", weights_only=True))
            except Exception as err:  # missing or damaged
                raise CnnlibError(f"Cannot resume {self.run}: its resume state {path.name} "
                                  f"is missing or unreadable ({err}).") from err
        if len({state["epoch"] for state in states}) != 1:
            raise CnnlibError(f"Cannot resume {self.run}: its models' states are from "
                              "different epochs.")
        for t, state in zip(self.trainees, states, strict=True):
            t.module.load_state_dict(state["model"])
            t.optimizer.load_state_dict(state["optimizer"])
            t.scheduler.load_state_dict(state["scheduler"])
            t.best_error, t.test_error = state["best_error"], state["test_error"]
            t.diverged = state["diverged"]
        self.epoch, self.step = states[0]["epoch"], states[0]["step"]
        self.seconds_before = states[0]["seconds"]
        self.session_first_step = self.checked_step = self.step
        records = runs.read_metrics(self.run)
        if self.epoch >= self.epochs:  # done already, perhaps killed before saying so
            if not records or records[-1].get("event") != "finished":
                self._finish()
            return False
        runs.rewrite_metrics(self.run, [r for r in records if r.get("epoch", 0) <= self.epoch
                                        and r.get("event") not in runs.END_EVENTS])
        return True

    # ---------------------------------------------------------------- the race

    def race(self, eval_every_epoch: bool) -> Path:
        if self._stopping():  # asked to stop before the first step: nothing to train or save
            self._stop(self.epoch, mid_epoch=False)
            return self.run
        for epoch in range(self.epoch + 1, self.epochs + 1):
            active = [t for t in self.trainees if t.diverged is None]
            if not active:
                break
            done, train_seconds = self._train_epoch(epoch, active)
            if self._stopping() and done < self.steps_per_epoch:
                self._stop(epoch, mid_epoch=True)
                return self.run
            self._end_epoch(epoch, eval_every_epoch or epoch == self.epochs, train_seconds)
            if self._stopping() and epoch < self.epochs:
                self._stop(epoch, mid_epoch=False)
                return self.run
        self._finish()
        return self.run

    def _finish(self) -> None:
        self._record({"event": "finished", "epoch": self.epoch, "step": self.step,
                      "seconds": self._seconds()})

    def _stopping(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def _train_epoch(self, epoch: int, active: list[_Trainee]) -> tuple[int, float]:
        """One epoch of lockstep steps (fewer if stopped or all diverged); returns the steps
        done and the training time in seconds."""
        self.generator.manual_seed(_epoch_seed(self.seed, epoch))
        for t in active:
            t.module.train()
            t.loss_sum.zero_()
            t.wrong.zero_()
        start, done = time.perf_counter(), 0
        for index in batches(self.dataset, self.recipe.batch_size, self.generator):
            x = self.dataset.augment(self.dataset.train_x[index], self.generator)
            x = x.contiguous(memory_format=self.memory_format)
            y = self.dataset.train_y[index]
            for t in active:  # the same tensor for every model: a fair race
                self._step(t, x, y)
            done += 1
            self.step += 1
            if done % CHECK_EVERY == 0 and done < self.steps_per_epoch:
                active = self._check(epoch, active, done)
                self._progress(epoch, done, time.perf_counter() - start, epoch_end=False)
            if not active or self._stopping():
                break
        self._check(epoch, active, done)  # also waits for the GPU, so the time is honest
        return done, time.perf_counter() - start

    def _step(self, t: _Trainee, x: Tensor, y: Tensor) -> None:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            logits = t.forward(x)
            loss = F.cross_entropy(logits, y, label_smoothing=self.recipe.label_smoothing)
        t.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        t.optimizer.step()
        t.scheduler.step()
        t.loss_sum += loss.detach()  # summed on the device: no sync per step
        t.wrong += (logits.argmax(1) != y).sum()

    def _check(self, epoch: int, active: list[_Trainee], done: int) -> list[_Trainee]:
        """Read every model's sums with one transfer; a model whose loss is not finite stops
        (its optimiser takes no more steps) and gets a "diverged" record. Returns the rest."""
        if not active or done == 0:
            return active
        sums = torch.stack([torch.stack((t.loss_sum, t.wrong.to(t.loss_sum.dtype)))
                            for t in active]).tolist()
        still, lost = [], []
        for t, (loss_sum, wrong) in zip(active, sums, strict=True):
            if math.isfinite(loss_sum) and loss_sum / done <= DIVERGED_LOSS:
                t.train_loss = loss_sum / done
                t.train_error = wrong / (done * self.recipe.batch_size)
                still.append(t)
            else:
                lost.append((t, loss_sum / done))
        for t, loss in lost:
            lr = t.scheduler.get_last_lr()[0]
            value = ("NaN" if math.isnan(loss) else "infinite" if math.isinf(loss) else
                     f"{loss:.3g} on average, beyond any loss a learning net has")
            others = ("the other models went on" if still else
                      "no model is left training" if len(self.trainees) > 1 else "the run ends")
            t.diverged = (f"{t.name}'s training loss became {value} between steps "
                          f"{self.checked_step + 1} and {self.step} (epoch {epoch}, learning "
                          f"rate {lr:.3g}); it stopped training there, and {others}.")
            self._record({"model": t.name, "event": "diverged", "step": self.step,
                          "epoch": epoch, "message": t.diverged})
        self.checked_step = self.step
        return still

    @torch.no_grad()
    def _evaluate(self, active: list[_Trainee], subset: Tensor | None) -> list[float]:
        """Each model's error on the test split (or the ``subset`` of it); each batch is
        prepared once for all models."""
        for t in active:
            t.module.eval()
        wrong = torch.zeros(len(active), dtype=torch.int64, device=self.device)
        images, labels = self.dataset.test_x, self.dataset.test_y
        if subset is not None:
            images, labels = images[subset], labels[subset]
        count = len(labels)
        for start in range(0, count, EVAL_BATCH):
            x = self.dataset.prepare(images[start:start + EVAL_BATCH])
            x = x.contiguous(memory_format=self.memory_format)
            y = labels[start:start + EVAL_BATCH]
            for i, t in enumerate(active):
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
                    wrong[i] += (t.forward(x).argmax(1) != y).sum()
        return (wrong.double() / count).tolist()

    def _end_epoch(self, epoch: int, evaluate: bool, train_seconds: float) -> None:
        """Records, checkpoints and filter pictures of every model still training, then the
        resume states of all (written last, so a kill in between only repeats this epoch)."""
        active = [t for t in self.trainees if t.diverged is None]
        subset = self.subset if epoch < self.epochs else None
        errors = self._evaluate(active, subset) if evaluate and active else [None] * len(active)
        test_images = len(self.dataset.test_y) if subset is None else len(subset)
        # The race's speed, the same for every model: the training images each model went
        # through per second of the epoch's training loop (which runs all models, so the
        # device's total is this times the number of models; evaluation is not included).
        images_per_s = self.steps_per_epoch * self.recipe.batch_size / train_seconds
        for t, error in zip(active, errors, strict=True):
            t.test_error = error
            if error is not None:
                self._record({"model": t.name, "epoch": epoch, "step": self.step,
                              "train_loss": t.train_loss, "train_error": t.train_error,
                              "test_error": error, "test_images": test_images,
                              "images_per_s": images_per_s, "seconds": self._seconds()})
                if error < t.best_error:
                    t.best_error = error
                    self._checkpoint(t, "best", epoch)
            self._checkpoint(t, "final", epoch)
            runs.save_filters(self.run, t.name, t.module, epoch)
        self.epoch = epoch
        write_atomic_all({runs.state_path(self.run, t.name): self._state_writer(t)
                          for t in self.trainees})
        self._progress(epoch, self.steps_per_epoch, train_seconds, epoch_end=True)

    def _state_writer(self, t: _Trainee) -> Callable[[Path], None]:
        state = {"model": t.module.state_dict(), "optimizer": t.optimizer.state_dict(),
                 "scheduler": t.scheduler.state_dict(), "epoch": self.epoch, "step": self.step,
                 "seconds": self._seconds(), "best_error": t.best_error,
                 "test_error": t.test_error, "diverged": t.diverged}
        return lambda tmp: torch.save(state, tmp)

    def _stop(self, epoch: int, mid_epoch: bool) -> None:
        if mid_epoch:  # the weights moved since the epoch's final checkpoint
            for t in self.trainees:
                if t.diverged is None:
                    t.test_error = None  # not evaluated at this point
                    self._checkpoint(t, "final", self.epoch)
        self._record({"event": "stopped", "epoch": epoch, "step": self.step,
                      "seconds": self._seconds()})

    def _checkpoint(self, t: _Trainee, kind: Literal["best", "final"], epoch: int) -> None:
        save_checkpoint(runs.checkpoint_path(self.run, t.name, kind), model_name=t.name,
                        model=t.module, options={"num_classes": len(self.dataset.classes)},
                        meta={"epoch": epoch, "step": self.step, "test_error": t.test_error,
                              "dataset": self.dataset.name, "classes": self.dataset.classes})

    def _record(self, record: dict) -> None:
        runs.append_metric(self.run, record)
        if self.on_record is not None:
            self.on_record(record)

    def _seconds(self) -> float:
        return self.seconds_before + time.perf_counter() - self.session_start

    def _progress(self, epoch: int, done: int, seconds: float, epoch_end: bool) -> None:
        """Tell ``on_progress`` where the race is: ``done`` steps of ``epoch`` in ``seconds``."""
        if self.on_progress is None:
            return
        now = time.perf_counter()
        steps_this_session = self.step - self.session_first_step
        eta = ((self.total_steps - self.step) * (now - self.session_start) / steps_this_session
               if steps_this_session else math.nan)
        self.on_progress({
            "epoch": epoch, "epochs": self.epochs, "epoch_step": done,
            "steps_per_epoch": self.steps_per_epoch, "step": self.step,
            "steps": self.total_steps, "epoch_end": epoch_end, "eta_s": eta,
            "images_per_s": done * self.recipe.batch_size / seconds,
            "models": {t.name: {"train_loss": t.train_loss, "train_error": t.train_error,
                                "test_error": t.test_error, "diverged": t.diverged}
                       for t in self.trainees}})


# ---------------------------------------------------------------- the command line's view


def format_progress(progress: dict, width: int = 20) -> list[str]:
    """One line per model: a bar of the whole run, epoch, step, loss, errors, speed, ETA."""
    filled = round(width * progress["step"] / progress["steps"])
    bar = "#" * filled + "." * (width - filled)
    tail = f"{progress['images_per_s']:,.0f} img/s  ETA {_duration(progress['eta_s'])}"
    name_width = max(map(len, progress["models"]))
    lines = []
    for name, m in progress["models"].items():
        head = (f"{name:<{name_width}} [{bar}] epoch {progress['epoch']}/{progress['epochs']} "
                f"step {progress['epoch_step']}/{progress['steps_per_epoch']}")
        if m["diverged"]:
            lines.append(f"{head}  diverged")
            continue
        test = f"{m['test_error']:.1%}" if m["test_error"] is not None else "-"
        lines.append(f"{head}  loss {m['train_loss']:.3f}  train err {m['train_error']:.1%}  "
                     f"test err {test}  {tail}")
    return lines


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m{secs:02d}s"


class ProgressPrinter:
    """An ``on_progress`` for a terminal: the models' lines redrawn in place. When the stream
    is not a terminal (a log file, CI), the lines are printed once per epoch instead."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.drawn = 0

    def __call__(self, progress: dict) -> None:
        if not (self.tty or progress["epoch_end"]):
            return
        lines = format_progress(progress)
        if self.tty:
            up = f"\x1b[{self.drawn}F" if self.drawn else ""  # back to the block's first line
            self.stream.write(up + "".join(f"{line}\x1b[K\n" for line in lines))
            self.drawn = len(lines)
        else:
            self.stream.write("".join(f"{line}\n" for line in lines))
        self.stream.flush()


class SignalStop(threading.Event):
    """A stop Event set by a signal; ``signum`` says which (None while none came).
    ``started`` is set by :func:`train` once the run folder exists: before that there is
    nothing to save, so a signal (during the data's download or decoding, which check no
    event) ends the process at once."""

    signum: int | None = None
    started: bool = False


@contextlib.contextmanager
def stop_on_signals(stream: TextIO = sys.stderr) -> Iterator[SignalStop]:
    """A stop Event that the first Ctrl-C (SIGINT) or SIGTERM sets, so that a run ends
    cleanly: final checkpoints and a "stopped" record (the dashboard's job queue stops runs
    with SIGTERM). A second signal, or one before the run has started (see
    :class:`SignalStop`), ends the process at once, as it would have without this.
    Main thread only."""
    stop = SignalStop()

    def handle(signum: int, _frame: Any) -> None:
        if stop.is_set() or not stop.started:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        stop.signum = signum
        stop.set()
        stream.write(f"\n{signal.Signals(signum).name}: stopping after this step (send it "
                     "again to quit at once)\n")

    previous = {signum: signal.signal(signum, handle)
                for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
