"""Train: plain vs residual nets on CIFAR-10, racing each other live (He et al. 2016, Fig. 6).

Training runs in the server's job queue (one job per device, in its own process). This page
only reads run folders, so a refresh, a second tab or another student's browser shows the
same live run, and a recorded run (``assets/runs``, shipped with the app) replays the same
way: epoch by epoch, with play / pause, a speed and a slider, so a host with no training at
all still shows the race. A live run draws the recorded run of the same models faded
beneath it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import cast

import streamlit as st

from app import curves as charts
from app import widgets
from app.style import show
from app.widgets import query_int, query_select
from cnnlib import jobs, paths, runs
from cnnlib.errors import CnnlibError
from cnnlib.train import PRESETS, TrainSettings

SPEEDS = {"slow": 1.0, "normal": 0.5, "fast": 0.2}  # seconds per epoch of a replay
DEPTHS = charts.DEPTHS


def gpu_available() -> bool:
    import torch

    return torch.cuda.is_available()


def start_form(expanded: bool) -> None:
    """A preset (Fig. 6 in ten minutes on a CPU, or 30 epochs on a GPU) or custom settings;
    Start queues the run on the server's job queue and shows it."""
    with st.expander("Start a run", expanded=expanded):
        cuda = gpu_available()
        offered = [p for p in PRESETS.values() if cuda or p.name != "gpu"]
        # cast: Streamlit's stubs take typing.Never from Python 3.11, so mypy's 3.10 mode
        # (the oldest Python we support) reads every st.radio as its no-options overload
        choice = cast(str, st.radio("What to train", [*(p.name for p in offered), "custom"],
                                    format_func=lambda n: PRESETS[n].label if n in PRESETS
                                    else "custom settings", horizontal=True, key="preset"))
        with st.form("new-run"):
            a, b, c = st.columns(3)
            if choice == "custom":
                depths = a.multiselect("Depths", DEPTHS, default=[20, 56] if cuda else [20],
                                       key="depths", help="On a CPU, 20 layers take minutes.")
                plain = b.checkbox("plain nets", value=True)
                residual = b.checkbox("residual nets", value=True)
                recipe = a.radio("Recipe", ["quick", "paper"], format_func={
                    "quick": "quick (warm-up + cosine, label smoothing)",
                    "paper": "the paper's (SGD 0.1, /10 at 50% and 75%)"}.get)
                epochs = b.number_input("Epochs", 1, 200, 30 if cuda else 2, key="epochs")
                limit = c.number_input("Training images (0: all 50,000)", 0, 50_000,
                                       0 if cuda else 5_000, step=1_000, key="limit")
                batch = a.number_input("Batch size (0: the recipe's)", 0, 2048,
                                       0 if cuda else 128, step=64, key="batch",
                                       help="The learning rate scales with it (0.1 per 128).")
            else:
                chosen = PRESETS[choice].settings
                a.markdown(f"**{', '.join(runs.short_name(m) for m in chosen.models)}**")
                b.markdown(f"{chosen.epochs} epochs of "
                           f"{chosen.limit_train or 50_000:,} training images")
                c.markdown(f"{chosen.recipe} recipe, batch "
                           f"{chosen.batch_size or 'of the recipe'}")
            devices = ["cuda", "cpu"] if cuda else ["cpu"]
            device = cast(str, c.radio("Device", devices,  # cast: see choice above
                                       format_func={"cuda": "GPU", "cpu": "CPU"}.get))
            data = st.text_input("Data", os.environ.get("CNNLIB_TRAIN_DATA", "cifar10"),
                                 help="'cifar10' downloads it once; or a folder with train/ "
                                      "and test/ sub-folders of one folder per class.")
            start = st.form_submit_button("Start", type="primary")
    if not start:
        return
    try:
        data = paths.page_data_spec(data)  # a visitor's path: confined, never the cwd
    except CnnlibError as exc:
        st.error(widgets.plain(str(exc)))
        return
    run = runs.runs_dir() / runs.new_run_id()
    if choice == "custom":
        models = [f"cifar_{kind}{d}" for d in sorted(depths)
                  for kind, wanted in (("plain", plain), ("resnet", residual)) if wanted]
        if not models:
            st.error("Choose at least one depth and plain and/or residual nets.")
            return
        settings = TrainSettings(models=tuple(models), epochs=int(epochs), recipe=recipe,
                                 batch_size=int(batch) or None, limit_train=int(limit) or None)
        argv = jobs.training_argv(settings=settings, data=data, device=device, out=run)
    else:
        argv = jobs.training_argv(preset=choice, data=data, device=device, out=run)
    jobs.queue().submit(run, argv, device)
    st.query_params["run"] = str(run)
    st.session_state.pop("run", None)
    st.rerun()


def job_controls(run: Path) -> bool:
    """The run's job line with its Stop button, and any failure; whether it is going."""
    going = False
    for job in jobs.queue().jobs():
        if job.run != run:
            continue
        if job.state in ("queued", "running"):
            going = True
            left, right = st.columns([4, 1])
            left.write(f"**{job.state}** on {job.device}")
            if right.button("Stop", key=f"stop-{job.run}"):
                jobs.queue().stop(job.run)
                st.toast(f"Stopping {job.run.name}: it saves its checkpoints first.")
        elif job.state == "failed" and job.message:
            st.error(widgets.plain(f"{job.run.name} failed: {job.message}"))
    return going


def draw(run: Path, until: int | None = None, reference: Path | None = None,
         below: Callable[[], int] | None = None) -> None:
    """The curves of ``run`` (up to epoch ``until``), then under the chart ``below`` (the
    replay's slider, which returns the epoch), the lesson in sentences and the filters: the
    figure first, so it is on a projector's first screen."""
    config = runs.read_config(run)
    data = runs.curves(run)
    chart = st.container()
    if below is not None:
        until = below()
    shown = data if until is None else data[data["epoch"] <= until]
    ref = runs.curves(reference) if reference is not None else None
    with chart:
        show(charts.figure(data, epochs=int(config.get("epochs", 1)), until=until,
                           reference=ref,
                           reference_name=f"recorded ({reference.name})" if reference else ""))
    for sentence in runs.lesson(shown):
        st.markdown(sentence)
    subset = config.get("test_subset")
    st.caption("Solid: training error, the running mean over each epoch's augmented batches "
               "(the weights change during the epoch). Dashed: test error after the epoch"
               + (f", on a fixed {subset:,} of the test images before the last epoch and on "
                  "all of them after it." if subset else ", on every test image.")
               + (" Faded: the recorded run of the same models." if reference else ""))
    models = config["models"]
    for col, model in zip(st.columns(len(models)), models, strict=True):
        shots = [(runs.snapshot_epoch(path), path) for path in runs.filter_snapshots(run, model)]
        shots = [(epoch, path) for epoch, path in shots if until is None or epoch <= until]
        if shots:
            epoch, path = shots[-1]
            col.image(str(path), caption=f"{runs.short_name(model)}: first-layer filters after "
                                         f"epoch {epoch}")


def status(run: Path) -> None:
    """Where the run stands (epochs done of all, speed, time left) and any divergence."""
    summary = runs.summary(run)
    st.progress(summary["fraction"], text=summary["text"])
    for note in summary["diverged"]:
        st.warning(widgets.plain(note))


def live(run: Path) -> None:
    """A run in progress, redrawn every two seconds with the recorded run beneath it; when it
    ends, the whole page reruns, so its controls stop saying "running"."""
    going = job_controls(run)
    if not (run / runs.CONFIG).is_file():
        st.info("Waiting for the run to start...")
        log = jobs.last_lines(jobs.log_file(run))
        if log:
            st.caption(widgets.plain(log))
        return
    problem = runs.check_run(run)  # the folder may have changed since the page listed it
    if problem:
        st.warning(widgets.plain(problem))
        return
    if not (going or runs.run_status(run) == "running"):
        st.rerun()  # ended: the replay's controls take over
    status(run)
    if runs.curves(run).empty:
        st.info("Training: the curves appear after the first epoch.")
        return
    draw(run, reference=runs.reference_run(runs.read_config(run)["models"], exclude=run))


def replay(run: Path, epochs: int, playing: bool) -> None:
    """A finished (or stopped) run, drawn up to the slider's epoch; while playing, the
    fragment moves the slider one epoch on at the chosen speed and stops at the end."""
    if playing:
        st.session_state["epoch"] = min(epochs, st.session_state.get("epoch", 0) + 1)
        if st.session_state["epoch"] >= epochs:
            st.session_state["playing"] = False
    draw(run, below=lambda: query_int("Epoch", "epoch", default=epochs, min_value=1,
                                      max_value=epochs))
    if playing and not st.session_state["playing"]:
        st.rerun()  # the end: stop the timer


st.title("Plain vs residual: the degradation problem")
st.caption("He et al. 2016, Fig. 6: on CIFAR-10 a deeper *plain* net trains worse than a "
           "shallower one, while a deeper *residual* net trains at least as well.")

active = jobs.queue().active()
found = runs.list_runs(*runs.run_folders())
unreadable = {r: problem for r in found if (problem := runs.check_run(r))}
if unreadable:
    st.warning(widgets.plain(f"{len(unreadable)} run folder(s) cannot be shown and are left "
                             f"out of the list; the first: {next(iter(unreadable.values()))}"))
found = [r for r in found if r not in unreadable]
queued = [j.run for j in active if j.run not in found]
choices = [str(r) for r in [*queued, *found]]
if not choices:
    start_form(expanded=True)
    st.info("No runs yet: start one above.")
    st.stop()
run = Path(query_select("Run", choices, "run", default=choices[0],
                        format_func=lambda r: Path(r).name))
st.caption(widgets.plain(runs.describe(run)))
going = any(j.run == run for j in active) or (
    (run / runs.CONFIG).is_file() and runs.run_status(run) == "running")
if going:
    st.fragment(live, run_every=2)(run)
else:
    if (run / runs.CONFIG).is_file():
        status(run)
    epochs = int(max(runs.curves(run)["epoch"], default=0))
    if epochs == 0:
        st.info("This run has no evaluated epoch to show.")
    elif epochs == 1:
        draw(run)  # nothing to replay
    else:
        playing = bool(st.session_state.get("playing"))
        a, b, _ = st.columns([1, 2, 3])
        if a.button("Pause" if playing else "Play", key="play", type="primary"):
            if not playing and st.session_state.get("epoch", epochs) >= epochs:
                st.session_state["epoch"] = 0  # from the start
            st.session_state["playing"] = not playing
            st.rerun()
        with b:
            speed = query_select("Speed", list(SPEEDS), "speed", default="normal",
                                 radio=True, horizontal=True, label_visibility="collapsed")
        st.fragment(replay, run_every=SPEEDS[speed] if playing else None)(run, epochs, playing)
start_form(expanded=False)
