"""The Train page's figure: training curves of plain and residual nets (He et al. 2016, Fig. 6).

Plain nets are drawn in warm colours and residual nets in cool ones, darker for deeper, so
the lesson reads at a glance: the gap between the warm curves (the deeper plain net above),
and the cool ones together or in the other order. Solid lines are training error, dashed
ones test error. A recorded run of the same models can be drawn faded beneath a live one,
and a replay draws a run only up to an epoch, on axes fixed to the whole run, so the curves
grow across a still chart.
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

from cnnlib import runs

DEPTHS = (20, 32, 44, 56, 110)
COLOURS = {"plain": ["#fdae6b", "#fd8d3c", "#e6550d", "#a63603", "#7f2704"],
           "residual": ["#9ecae1", "#6baed6", "#3182bd", "#08519c", "#08306b"]}
REFERENCE_OPACITY = 0.3


def colour(model: str) -> str:
    family, depth = runs.family_and_depth(model)
    return COLOURS[family][DEPTHS.index(depth) if depth in DEPTHS else 0]


def figure(curves: pd.DataFrame, *, epochs: int, until: int | None = None,
           reference: pd.DataFrame | None = None, reference_name: str = "") -> go.Figure:
    """Error (%) against epoch for every model of ``curves`` (one row per model and epoch, as
    :func:`cnnlib.runs.curves` gives), up to epoch ``until`` (all when None), on an x-axis of
    the whole run's ``epochs``. ``reference``'s models that ``curves`` also has are drawn
    first, faded and thin, and named after ``reference_name`` in the legend."""
    fig = go.Figure()
    shown = curves if until is None else curves[curves["epoch"] <= until]
    if reference is not None and not reference.empty:
        for model, rows in reference[reference["model"].isin(curves["model"])].groupby(
                "model", sort=False):
            for column, dash in (("train_error", "solid"), ("test_error", "dash")):
                fig.add_trace(go.Scatter(
                    x=rows["epoch"], y=rows[column] * 100, mode="lines",
                    name=f"{runs.short_name(model)} {_kind(column)}, {reference_name}",
                    legendgroup="reference", opacity=REFERENCE_OPACITY,
                    line={"color": colour(model), "dash": dash, "width": 2},
                    hovertemplate=f"{reference_name}: %{{y:.1f}}%<extra></extra>"))
        epochs = max(epochs, int(reference["epoch"].max()))
    for model, rows in shown.groupby("model", sort=False):
        for column, dash in (("train_error", "solid"), ("test_error", "dash")):
            fig.add_trace(go.Scatter(
                x=rows["epoch"], y=rows[column] * 100, mode="lines+markers",
                name=f"{runs.short_name(model)} {_kind(column)}",
                line={"color": colour(model), "dash": dash, "width": 4},
                marker={"size": 7},
                hovertemplate=f"{runs.short_name(model)} {_kind(column)}, epoch %{{x}}: "
                              "%{y:.1f}%<extra></extra>"))
    top = max(100 * curves[["train_error", "test_error"]].max().max(), 10.0) \
        if not curves.empty else 100.0  # the whole run's, so a replay's axes stay still
    step = max(1, math.ceil(epochs / 10))
    fig.update_xaxes(title="epoch", range=[0.5, epochs + 0.5], tickmode="linear", tick0=step,
                     dtick=step)
    fig.update_yaxes(title="error (%)", range=[0, min(100, 1.05 * top)])
    fig.update_layout(height=480, hovermode="closest", legend={"orientation": "h", "y": -0.18})
    return fig


def _kind(column: str) -> str:
    return "train" if column == "train_error" else "test"
