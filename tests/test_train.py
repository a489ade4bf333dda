"""The training engine on easy synthetic data, on the CPU: learning, lockstep, records, kills,
resumes, stops, divergence, and the command line.

Three classes of 32x32 images that differ by colour (plus noise), 64 training images each,
batch 16: an epoch is 12 steps of cifar_plain20 and cifar_resnet20, about a second.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from cnnlib import __main__ as cli
from cnnlib import runs, train, weights
from cnnlib.data import Dataset
from cnnlib.errors import CnnlibError
from cnnlib.models import registry
from cnnlib.train import RECIPES, Recipe

MODELS = ["cifar_plain20", "cifar_resnet20"]
EPOCHS = 3
BATCH = 16
COLOURS = torch.tensor([[200, 40, 40], [40, 200, 40], [40, 40, 200]], dtype=torch.float32)
REPO = Path(__file__).resolve().parent.parent


def colour_images(per_class: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    y = torch.arange(3).repeat_interleave(per_class)
    noise = torch.randn(len(y), 3, 32, 32, generator=generator) * 40
    x = (COLOURS[y].view(-1, 3, 1, 1) + noise).clamp(0, 255).to(torch.uint8)
    return x, y


@pytest.fixture(scope="module")
def easy() -> Dataset:
    train_x, train_y = colour_images(64, seed=0)
    test_x, test_y = colour_images(16, seed=1)
    return Dataset.from_splits(train_x, train_y, test_x, test_y, ["red", "green", "blue"],
                               "three colours", "colours")


def run_easy(easy: Dataset, out: Path, **kwargs: object) -> Path:
    calls = {"stop", "on_record", "on_progress", "resume"}  # not settings
    options = {"epochs": EPOCHS, "batch_size": BATCH, "recipe": "paper",
               **{k: v for k, v in kwargs.items() if k not in calls}}
    return train.train(train.TrainSettings(models=tuple(MODELS), **options), easy, out=out,
                       device="cpu", **{k: v for k, v in kwargs.items() if k in calls})


class Watch:
    """Wraps registry.build (as cnnlib.train sees it) to hook every model it builds."""

    def __init__(self, hook: Callable[[str, nn.Module], None]) -> None:
        self.hook = hook
        self.build = registry.build

    def __call__(self, name: str, **options: object) -> nn.Module:
        model = self.build(name, **options)
        self.hook(name, model)
        return model


@pytest.fixture(scope="module")
def recorded(easy: Dataset, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[Path, dict[str, list[torch.Tensor]], list[dict]]]:
    """One uninterrupted run, with every training batch each model's forward received."""
    inputs: dict[str, list[torch.Tensor]] = {}

    def record_inputs(name: str, model: nn.Module) -> None:
        inputs.setdefault(name, [])  # (saving a checkpoint builds the model again, on meta)
        model.register_forward_pre_hook(
            lambda m, args: inputs[name].append(args[0].clone()) if m.training else None)

    seen: list[dict] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(train.registry, "build", Watch(record_inputs))
        run = run_easy(easy, tmp_path_factory.mktemp("runs") / "easy", on_record=seen.append,
                       note="the reference run")
    yield run, inputs, seen


def epoch_records(run: Path) -> list[dict]:
    return [r for r in runs.read_metrics(run) if "test_error" in r]


def test_the_loss_falls_and_the_test_error_ends_below_chance(recorded) -> None:
    run, _, _ = recorded
    for model in MODELS:
        mine = [r for r in epoch_records(run) if r["model"] == model]
        assert [r["epoch"] for r in mine] == [1, 2, 3]
        assert mine[-1]["train_loss"] < mine[0]["train_loss"]
        assert mine[-1]["test_error"] < 0.5  # chance is 2/3


def test_every_model_sees_the_same_batches_and_starts_from_the_same_weights(recorded) -> None:
    run, inputs, _ = recorded
    plain, residual = inputs["cifar_plain20"], inputs["cifar_resnet20"]
    assert len(plain) == len(residual) == EPOCHS * (192 // BATCH)
    assert all(torch.equal(a, b) for a, b in zip(plain, residual, strict=True))
    assert not torch.equal(plain[0], plain[1])  # fresh batches, not one batch repeated
    first = {m: runs.filter_snapshots(run, m)[0].read_bytes() for m in MODELS}
    assert first["cifar_plain20"] == first["cifar_resnet20"]  # one seed, the same init


def test_records_follow_the_schema(recorded) -> None:
    run, _, seen = recorded
    records = runs.read_metrics(run)
    assert records == seen  # on_record saw exactly what was written
    for r in records[:-1]:
        assert tuple(r) == runs.METRIC_KEYS
        assert r["model"] in MODELS and isinstance(r["model"], str)
        assert all(type(r[k]) is int for k in ("epoch", "step", "test_images"))
        assert all(type(r[k]) is float for k in runs.METRIC_KEYS[3:] if k != "test_images")
        assert all(0 <= r[k] <= 1 for k in ("train_error", "test_error"))
        assert r["train_loss"] >= 0 and r["images_per_s"] > 0 and r["seconds"] > 0
        assert r["step"] == r["epoch"] * 12
    assert records[-1]["event"] == "finished" and records[-1]["step"] == 36
    assert runs.run_status(run) == "finished"


def test_the_run_folder(recorded, easy: Dataset) -> None:
    run, _, _ = recorded
    config = runs.read_config(run)
    assert config["models"] == MODELS and config["epochs"] == EPOCHS
    assert config["recipe"] == {**vars(RECIPES["paper"]), "batch_size": BATCH,
                                "lr": 0.1 * BATCH / 128, "milestones": [0.5, 0.75]}
    assert config["device"] == "cpu" and config["gpu"] is None
    assert config["torch"] == torch.__version__ and config["note"] == "the reference run"
    assert config["seed"] == 0 and config["limit_train"] is None and config["created"]
    for model in MODELS:
        best = weights.load_checkpoint(runs.checkpoint_path(run, model, "best"))
        final = weights.load_checkpoint(runs.checkpoint_path(run, model, "final"))
        assert best.categories == final.categories == easy.classes
        assert "epoch 3" in final.label and "colours" in final.label
        assert [p.name for p in runs.filter_snapshots(run, model)] == [
            "epoch_000.png", "epoch_001.png", "epoch_002.png", "epoch_003.png"]
        picture = Image.open(runs.filter_snapshots(run, model)[-1])
        assert picture.size == (8 * 17, 8 * 17)  # 16 3x3 filters: 4x4 tiles of 3+1, x8
        assert runs.state_path(run, model).is_file()
    assert runs.list_runs(run.parent) == [run]


def test_a_killed_run_resumes_where_the_uninterrupted_one_went(recorded, easy: Dataset,
                                                                tmp_path: Path) -> None:
    def crash_in_epoch_2(record: dict) -> None:
        if record.get("epoch") == 2:
            raise KeyboardInterrupt("killed")

    with pytest.raises(KeyboardInterrupt):
        run_easy(easy, tmp_path / "run", on_record=crash_in_epoch_2)
    run = tmp_path / "run"
    with open(run / runs.METRICS, "a") as f:
        f.write('{"model": "cifar_plain20", "epo')  # killed while writing a line
    assert len(runs.read_metrics(run)) == 3  # epoch 1 of both, epoch 2 of the first
    assert runs.run_status(run) == "running"
    assert runs.run_status(run, now=time.time() + 3600) == "incomplete"
    assert run_easy(easy, run, resume=True) == run
    records = runs.read_metrics(run)
    assert [(r["model"], r["epoch"]) for r in records[:-1]] == [
        (m, e) for e in (1, 2, 3) for m in MODELS]
    assert records[-1]["event"] == "finished" and runs.run_status(run) == "finished"
    reference = epoch_records(recorded[0])
    for mine, theirs in zip(records[:-1], reference, strict=True):  # same batches, same math
        assert mine["train_loss"] == pytest.approx(theirs["train_loss"], rel=1e-4)
        assert mine["test_error"] == pytest.approx(theirs["test_error"])
    assert run_easy(easy, run, resume=True) == run  # a finished run has nothing left to do
    assert runs.read_metrics(run) == records


def test_stop_saves_final_checkpoints_then_resume_finishes(easy: Dataset, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    monkeypatch.setattr(train, "CHECK_EVERY", 4)
    stop = threading.Event()
    progress: list[dict] = []

    def stop_at_step_16(p: dict) -> None:
        progress.append(p)
        if p["step"] >= 16:
            stop.set()

    run = run_easy(easy, tmp_path / "run", stop=stop, on_progress=stop_at_step_16)
    records = runs.read_metrics(run)
    assert records[-1] == {"event": "stopped", "epoch": 2, "step": 16,
                           "seconds": records[-1]["seconds"]}
    assert runs.run_status(run) == "stopped"
    final = torch.load(runs.checkpoint_path(run, "cifar_plain20", "final"), weights_only=True)
    assert final["meta"]["step"] == 16 and final["meta"]["test_error"] is None
    assert progress[0]["models"]["cifar_plain20"]["train_loss"] > 0
    assert train.format_progress(progress[-1])[0].startswith("cifar_plain20  [")
    run_easy(easy, run, resume=True)
    records = runs.read_metrics(run)
    assert [r["epoch"] for r in records if r.get("model") == "cifar_resnet20"] == [1, 2, 3]
    assert [r.get("event") for r in records].count("stopped") == 0
    assert runs.run_status(run) == "finished"


def inject_nan(victims: set[str], after: int) -> Callable[[str, nn.Module], None]:
    """A hook that makes the victims' outputs NaN from their ``after``-th training forward."""
    def hook(name: str, model: nn.Module) -> None:
        calls = [0]

        def poison(m: nn.Module, args: tuple, out: torch.Tensor) -> torch.Tensor | None:
            calls[0] += m.training
            return out * math.nan if name in victims and calls[0] > after else None

        model.register_forward_hook(poison)
    return hook


def test_a_diverging_model_stops_and_the_others_go_on(easy: Dataset, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(train.registry, "build", Watch(inject_nan({"cifar_plain20"}, 14)))
    run = run_easy(easy, tmp_path / "run", epochs=2)
    records = runs.read_metrics(run)
    diverged = [r for r in records if r.get("event") == "diverged"]
    assert len(diverged) == 1 and diverged[0]["model"] == "cifar_plain20"
    assert diverged[0]["epoch"] == 2 and diverged[0]["step"] == 24
    assert "became NaN between steps 13 and 24" in diverged[0]["message"]
    assert [r["epoch"] for r in epoch_records(run) if r["model"] == "cifar_plain20"] == [1]
    assert [r["epoch"] for r in epoch_records(run) if r["model"] == "cifar_resnet20"] == [1, 2]
    assert runs.run_status(run) == "finished"


def test_a_run_whose_models_all_diverge_says_so(easy: Dataset, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(train.registry, "build", Watch(inject_nan(set(MODELS), 0)))
    run = run_easy(easy, tmp_path / "run", epochs=2)
    records = runs.read_metrics(run)
    assert [r.get("event") for r in records] == ["diverged", "diverged", "finished"]
    assert runs.run_status(run) == "diverged"
    assert all("no model is left training" in r["message"] for r in records[:2])
    assert not any("the other models went on" in r["message"] for r in records[:2])


def explode(victims: set[str], after: int, scale: float = 1e19
            ) -> Callable[[str, nn.Module], None]:
    """A hook that scales the victims' logits (not their gradients, so the weights stay
    finite) so far that the loss is huge but finite."""
    def hook(name: str, model: nn.Module) -> None:
        calls = [0]

        def blow(m: nn.Module, args: tuple, out: torch.Tensor) -> torch.Tensor | None:
            calls[0] += m.training
            return (out + (scale - 1) * out.detach() if name in victims
                    and calls[0] > after else None)

        model.register_forward_hook(blow)
    return hook


def test_a_finite_but_exploded_loss_is_divergence(easy: Dataset, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(train.registry, "build", Watch(explode({"cifar_plain20"}, 14)))
    run = run_easy(easy, tmp_path / "run", epochs=2)
    diverged = [r for r in runs.read_metrics(run) if r.get("event") == "diverged"]
    assert [r["model"] for r in diverged] == ["cifar_plain20"]
    assert "on average, beyond any loss" in diverged[0]["message"]
    assert "the other models went on" in diverged[0]["message"]
    assert all(r["train_loss"] < train.DIVERGED_LOSS for r in epoch_records(run))


def test_recipes_follow_their_schedules() -> None:
    paper, quick = RECIPES["paper"], RECIPES["quick"]
    assert (paper.lr, paper.momentum, paper.weight_decay, paper.batch_size) == (0.1, 0.9, 1e-4,
                                                                                128)
    assert [paper.lr_factor(s, 64000) for s in (0, 31999, 32000, 47999, 48000, 63999)] == \
        pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])
    assert paper.lr_factor(0, 64000, depth=110) == pytest.approx(0.1)  # the paper's 0.01 start
    assert paper.lr_factor(400, 64000, depth=110) == 1
    assert paper.lr_factor(0, 64000, depth=56) == 1
    factors = [quick.lr_factor(s, 1000) for s in range(1000)]
    assert factors[149] == 1 and factors[0] == pytest.approx(1 / 150)
    assert all(a <= b for a, b in pairwise(factors[:150]))
    assert all(a >= b for a, b in pairwise(factors[150:]))
    assert factors[-1] < 1e-4
    assert Recipe.from_config(json.loads(json.dumps(vars(paper)))) == paper


def test_bad_requests_are_one_sentence(easy: Dataset, tmp_path: Path) -> None:
    with pytest.raises(CnnlibError, match="vgg16 takes 3x224x224 images"):
        train.train(train.TrainSettings(models=("vgg16",)), easy, device="cpu")
    with pytest.raises(CnnlibError, match="Unknown model"):
        train.train(train.TrainSettings(models=("cifar_resnet21",)), easy,
                    device="cpu")
    with pytest.raises(CnnlibError, match="at least 1 epoch"):
        train.train(train.TrainSettings(models=tuple(MODELS), epochs=0), easy, device="cpu")
    with pytest.raises(CnnlibError, match="fewer than one batch of 512"):
        train.train(train.TrainSettings(models=tuple(MODELS), epochs=1, limit_train=100), easy,
                    device="cpu")
    with pytest.raises(CnnlibError, match="Unknown recipe"):
        train.train(train.TrainSettings(models=tuple(MODELS), recipe="fast"), easy, device="cpu")
    run = runs.new_run(tmp_path / "r", {"models": MODELS, "epochs": 3})
    with pytest.raises(CnnlibError, match="holds a different run"):
        runs.new_run(run, {"models": MODELS, "epochs": 4})
    with pytest.raises(CnnlibError, match="trains cifar_plain20, cifar_resnet20, not"):
        train.train(train.TrainSettings(models=("cifar_resnet20",)), easy, out=run, resume=True,
                    device="cpu")


def test_a_rerun_with_the_same_config_starts_afresh(tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "train.log").write_text("the job queue's log, written first")
    config = {"models": MODELS, "epochs": 3, "device": "cpu"}
    run = runs.new_run(tmp_path / "r", config)
    runs.append_metric(run, {"event": "finished"})
    (run / "checkpoints").mkdir()
    assert runs.new_run(run, {**config, "device": "cuda", "note": "again"}) == run
    assert runs.read_metrics(run) == [] and not (run / "checkpoints").exists()
    assert runs.read_config(run)["note"] == "again"
    assert (run / "train.log").read_text() == "the job queue's log, written first"


def write_folder(folder: Path, per_class: int = 20) -> None:
    rng = np.random.default_rng(0)
    for c, colour in enumerate(COLOURS.tolist()):
        (folder / f"class{c}").mkdir(parents=True)
        for i in range(per_class):
            pixels = np.clip(np.array(colour) + rng.normal(0, 40, (32, 32, 3)), 0, 255)
            Image.fromarray(pixels.astype(np.uint8)).save(folder / f"class{c}" / f"{i}.jpg")


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "cnnlib", "train", *args]


def test_the_command_line_trains_into_a_folder(tmp_path: Path) -> None:
    write_folder(tmp_path / "data")
    out = tmp_path / "runs" / "cli"
    done = subprocess.run(command("--models", "cifar_plain20,cifar_resnet20", "--data",
                                  str(tmp_path / "data"), "--epochs", "1", "--limit-train",
                                  "32", "--batch-size", "16", "--device", "cpu", "--out",
                                  str(out)), capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == str(out)
    assert "cifar_resnet20 [####################] epoch 1/1" in done.stderr
    assert {p.name for p in out.iterdir()} >= {"config.json", "metrics.jsonl", "checkpoints",
                                               "filters", "state"}
    assert runs.read_config(out)["limit_train"] == 32
    assert len(epoch_records(out)) == 2 and runs.run_status(out) == "finished"


def test_sigterm_stops_the_command_cleanly(tmp_path: Path) -> None:
    """The dashboard's job queue stops a run with SIGTERM; it must end as a "stopped" run."""
    write_folder(tmp_path / "data", per_class=30)
    out = tmp_path / "run"
    process = subprocess.Popen(command("--models", "cifar_resnet20", "--data",
                                       str(tmp_path / "data"), "--epochs", "50",
                                       "--batch-size", "8", "--device", "cpu", "--out",
                                       str(out)), cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not epoch_records(out):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 128 + signal.SIGTERM
    assert "SIGTERM: stopping after this step" in stderr
    assert runs.run_status(out) == "stopped"
    assert runs.checkpoint_path(out, "cifar_resnet20", "final").is_file()


@pytest.mark.parametrize(("args", "message"), [
    (["--models", "vgg16"], "error: vgg16 takes 3x224x224 images"),
    (["--models", "cifar_resnet21"], "error: Unknown model 'cifar_resnet21'"),
    (["--models", "cifar_resnet20", "--data", "/no/such/folder"],
     "error: There is no data folder at /no/such/folder"),
])
def test_bad_command_lines_exit_2_with_one_line(args: list[str], message: str,
                                                capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["train", *args, "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_a_batch_size_scales_the_recipes_learning_rate_linearly() -> None:
    """Goyal et al. 2017: quick is 0.4 at its 512, so 0.1 at 128; paper is 0.1 at 128."""
    assert train._recipe("quick", 128).lr == pytest.approx(0.1)
    assert train._recipe("paper", 512).lr == pytest.approx(0.4)
    assert train._recipe("quick", None).lr == RECIPES["quick"].lr


def test_precision_follows_the_hardware_and_a_test_subset_labels_its_records(
        easy: Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    assert train.default_precision(torch.device("cpu")) == "fp32"
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    assert train.default_precision(torch.device("cpu")) == "bf16"
    run = run_easy(easy, tmp_path / "sub", epochs=2, test_subset=5, precision="auto")
    config = runs.read_config(run)
    assert config["precision"] == "bf16" and config["test_subset"] == 5
    assert config["cores"] == os.cpu_count() and config["cpu"]
    counts = [r["test_images"] for r in runs.read_metrics(run) if "test_images" in r]
    assert counts == [5] * len(MODELS) + [len(easy.test_y)] * len(MODELS)  # all at the end


def test_a_stop_before_the_first_step_trains_nothing(easy: Dataset, tmp_path: Path) -> None:
    stop = threading.Event()
    stop.set()
    run = run_easy(easy, tmp_path / "run", stop=stop)
    assert runs.read_metrics(run) == [{"event": "stopped", "epoch": 0, "step": 0,
                                       "seconds": runs.read_metrics(run)[0]["seconds"]}]
    assert not runs.checkpoint_path(run, MODELS[0], "final").exists()


SLOW_LOAD = """
import sys, time
from cnnlib import __main__ as cli, train
def slow(*args, **kwargs):  # a data set that takes a minute to decode
    print("loading", flush=True)
    time.sleep(60)
train.load_dataset = slow
sys.exit(cli.main(sys.argv[1:]))
"""


def test_sigterm_while_the_data_loads_ends_the_command_at_once(tmp_path: Path) -> None:
    """Stop on the page while a big folder decodes: nothing is written yet, so the command
    ends at once instead of after the decode (and the first step)."""
    process = subprocess.Popen([sys.executable, "-c", SLOW_LOAD, "train", "--models",
                                "cifar_resnet20", "--data", "x", "--device", "cpu", "--out",
                                str(tmp_path / "run")], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "loading"
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
        assert time.monotonic() - started < 10
    finally:
        process.kill()
    assert process.returncode == -signal.SIGTERM
    assert not (tmp_path / "run").exists()


HOLD_LOCK = """
import sys, time
from cnnlib import runs
run = runs.new_run(sys.argv[1], {"models": ["cifar_resnet20"], "epochs": 3})
runs.append_metric(run, {"model": "cifar_resnet20", "epoch": 1})
print("locked", flush=True)
time.sleep(60)
"""


def test_a_run_folder_another_process_writes_is_neither_wiped_nor_resumed(
        tmp_path: Path) -> None:
    run = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(run)], cwd=REPO,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        for resume in (False, True):  # the same command again, or --resume, while it lives
            with pytest.raises(CnnlibError, match=rf"is being written by another training "
                               rf"process \(pid {holder.pid}\)"):
                runs.new_run(run, runs.read_config(run), resume=resume)
        assert runs.read_metrics(run) == [{"model": "cifar_resnet20", "epoch": 1}]
    finally:
        holder.kill()
        holder.wait()
    assert runs.new_run(run, runs.read_config(run)) == run  # its writer gone, the folder frees
    assert runs.read_metrics(run) == []


def test_resume_with_other_epochs_is_refused(easy: Dataset, tmp_path: Path) -> None:
    run = run_easy(easy, tmp_path / "run", epochs=1)
    with pytest.raises(CnnlibError, match=r"was started for 1 epochs, and --resume continues "
                       r"it as it was started; leave out --epochs \(not 2\)"):
        run_easy(easy, run, epochs=2, resume=True)
    assert train.train(train.TrainSettings(models=tuple(MODELS)), easy, out=run, resume=True,
                       device="cpu") == run


def test_a_run_recorded_in_the_old_format_resumes_with_its_settings(
        easy: Dataset, tmp_path: Path) -> None:
    """A config.json from before precision and test_subset existed (float32, every test image
    then), killed after epoch 1: --resume finishes it with the settings it recorded."""
    run = run_easy(easy, tmp_path / "run", epochs=2, precision="fp32")
    config = runs.read_config(run)
    for key in ("precision", "test_subset", "cpu", "cores", "threads"):
        del config[key]
    (run / runs.CONFIG).write_text(json.dumps(config))
    runs.rewrite_metrics(run, [r for r in runs.read_metrics(run) if r.get("epoch") == 1
                               and "event" not in r])
    for model in MODELS:  # back to the end of epoch 1
        state = torch.load(runs.state_path(run, model), weights_only=True)
        state["epoch"], state["step"] = 1, 12
        torch.save(state, runs.state_path(run, model))
    asked = train.TrainSettings(models=tuple(MODELS), precision="bf16", test_subset=5)
    assert train.train(asked, easy, out=run, resume=True, device="cpu") == run
    assert train.TrainSettings.from_config(runs.read_config(run)).precision == "fp32"
    counts = [r["test_images"] for r in runs.read_metrics(run) if "test_images" in r]
    assert counts == [len(easy.test_y)] * 2 * len(MODELS) and runs.run_status(run) == "finished"
