"""Train: plain vs residual nets on CIFAR-10, racing each other live (He et al. 2016, Fig. 6).

Training runs in the server's job queue (one job per device, in its own process). This page
only reads run folders, so a refresh, a second tab or another student's browser shows the
same live run, and a recorded run replays the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from app import widgets
from app.widgets import query_select
from cnnlib import jobs, paths, runs
from cnnlib.errors import CnnlibError

RECORDED = Path("assets/runs")
DEPTHS = (20, 32, 44, 56, 110)
# The paper's Fig. 6 draws plain nets and ResNets side by side; here they share one chart, in
# two colour families (warm: plain, cool: residual), darker for deeper.
COLOURS = {"plain": ["#fdae6b", "#fd8d3c", "#e6550d", "#a63603", "#7f2704"],
           "residual": ["#9ecae1", "#6baed6", "#3182bd", "#08519c", "#08306b"]}


def gpu_available() -> bool:
    import torch

    return torch.cuda.is_available()


def colour(model: str) -> str:
    family, depth = runs.family_and_depth(model)
    return COLOURS[family][DEPTHS.index(depth) if depth in DEPTHS else 0]


st.title("Plain vs residual: the degradation problem")
st.caption("He et al. 2016, Fig. 6: on CIFAR-10 a deeper *plain* net trains worse than a "
           "shallower one, while a deeper *residual* net trains better. Solid lines: "
           "training error; dashed: test error.")

with st.expander("Start a run", expanded=not runs.list_runs(runs.runs_dir(), RECORDED)):
    with st.form("new-run"):
        cuda = gpu_available()
        a, b, c = st.columns(3)
        depths = a.multiselect("Depths", DEPTHS, default=[20, 56] if cuda else [20],
                               key="depths", help="On a CPU, keep to 20 layers: minutes.")
        plain = b.checkbox("plain nets", value=True)
        residual = b.checkbox("residual nets", value=True)
        devices = ["cuda", "cpu"] if cuda else ["cpu"]
        device = c.radio("Device", devices, format_func={"cuda": "GPU", "cpu": "CPU"}.get)
        recipe = a.radio("Recipe", ["quick", "paper"], format_func={
            "quick": "quick (minutes: warm-up + cosine, label smoothing)",
            "paper": "the paper's (SGD 0.1, /10 at 50% and 75%)"}.get)
        epochs = b.number_input("Epochs", 1, 200, 30 if cuda else 2, key="epochs")
        limit = c.number_input("Training images (0: all 50,000)", 0, 50_000,
                               0 if cuda else 5_000, step=1_000, key="limit",
                               help="A subset keeps a CPU run to minutes.")
        batch = a.number_input("Batch size (0: the recipe's)", 0, 2048, 0 if cuda else 128,
                               step=64, key="batch",
                               help="On a CPU, 128 gives more steps per epoch.")
        data = st.text_input("Data", os.environ.get("CNNLIB_TRAIN_DATA", "cifar10"),
                             help="'cifar10' downloads it once; or a folder with train/ and "
                                  "test/ sub-folders of one folder per class.")
        start = st.form_submit_button("Start", type="primary")
    if start:
        models = [f"cifar_{kind}{d}" for d in sorted(depths)
                  for kind, wanted in (("plain", plain), ("resnet", residual)) if wanted]
        problem = None if models else "Choose at least one depth and plain and/or residual nets."
        try:
            data = paths.page_data_spec(data)  # a visitor's path: confined, never the cwd
        except CnnlibError as exc:
            problem = problem or str(exc)
        if problem:
            st.error(widgets.plain(problem))
        else:
            run = runs.runs_dir() / runs.new_run_id()
            argv = jobs.training_argv(models=models, data=data, epochs=int(epochs),
                                      recipe=recipe, device=device, out=run,
                                      batch_size=int(batch) or None,
                                      limit_train=int(limit) or None)
            jobs.queue().submit(run, argv, device)
            st.query_params["run"] = str(run)
            st.session_state.pop("run", None)
            st.rerun()

active = jobs.queue().active()
for job in active:
    left, right = st.columns([4, 1])
    left.write(f"**{job.state}** on {job.device}: `{job.run.name}`")
    if right.button("Stop", key=f"stop-{job.run}"):
        jobs.queue().stop(job.run)
        st.toast(f"Stopping {job.run.name}: it saves its checkpoints first.")
for job in jobs.queue().jobs():
    if job.state == "failed" and job.message:
        st.error(widgets.plain(f"{job.run.name} failed: {job.message}"))

found = runs.list_runs(runs.runs_dir(), RECORDED)
unreadable = {r: problem for r in found if (problem := runs.check_run(r))}
if unreadable:
    st.warning(widgets.plain(f"{len(unreadable)} run folder(s) cannot be shown and are left "
                             f"out of the list; the first: {next(iter(unreadable.values()))}"))
found = [r for r in found if r not in unreadable]
queued = [j.run for j in active if j.run not in found]
choices = [str(r) for r in [*queued, *found]]
if not choices:
    st.info("No runs yet: start one above.")
    st.stop()
run = Path(query_select("Run", choices, "run", default=choices[0],
                        format_func=lambda r: Path(r).name))


def live(run: Path) -> None:
    """Draw the run from its folder (re-run every two seconds while it is going)."""
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
    st.caption(widgets.plain(runs.describe(run)))
    summary = runs.summary(run)
    st.progress(summary["fraction"], text=summary["text"])
    for note in summary["diverged"]:
        st.warning(widgets.plain(note))
    curves = runs.curves(run)
    if curves.empty:
        st.info("Training: the curves appear after the first epoch.")
        return
    fig = go.Figure()
    for model, rows in curves.groupby("model", sort=False):
        for column, dash in (("train_error", "solid"), ("test_error", "dash")):
            fig.add_trace(go.Scatter(x=rows["epoch"], y=rows[column] * 100, name=(
                f"{model} {'train' if column == 'train_error' else 'test'}"),
                line={"color": colour(model), "dash": dash, "width": 3}))
    fig.update_layout(xaxis_title="epoch", yaxis_title="error (%)", height=460,
                      legend={"orientation": "h", "y": -0.2}, margin={"t": 20})
    st.plotly_chart(fig, width="stretch")
    models = runs.read_config(run)["models"]
    cols = st.columns(len(models))
    for col, model in zip(cols, models, strict=True):
        shots = runs.filter_snapshots(run, model)
        if shots:
            col.image(str(shots[-1]), caption=f"{model}: first-layer filters after epoch "
                                              f"{len(shots) - 1}")


going = any(j.run == run for j in active) or (
    (run / runs.CONFIG).is_file() and runs.run_status(run) == "running")
st.fragment(live, run_every=2 if going else None)(run)
