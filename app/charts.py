"""Plotly figures drawn from cnnlib's plain data (DataFrames): no numbers are made here.

The three per-layer bar charts follow the slides (memory, parameters and multiply-adds per
layer, side by side), with bars coloured by stage, the output resolution, so the pattern the
notes point out shows at a glance: memory in the early high-resolution layers, parameters in
the late fully connected ones.
"""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

#: Stage colours, in order of appearance (colour-blind safe, readable on a projector).
STAGE_COLOURS = px.colors.qualitative.Safe + px.colors.qualitative.Bold

#: What each per-layer chart plots: column -> (title, axis label).
PER_LAYER = {"memory_bytes": ("Activation memory", "bytes"),
             "params": ("Parameters", "parameters"),
             "macs": ("Multiply-adds", "MACs"),
             "flops": ("FLOPs", "FLOPs")}


def per_layer(layers: pd.DataFrame, column: str, log: bool = False,
              legend: bool = True) -> go.Figure:
    """One bar per layer that has a non-zero ``column``, in network order, coloured by stage.

    Layers that write into their input (in-place ReLU) allocate nothing and are still shown
    with their output size, as the slides' tables list them. Layer names are in the hover
    text, not under the bars: three charts side by side leave no room for them. Several
    charts share their stage colours, so only one needs the ``legend``.
    """
    title, unit = PER_LAYER[column]
    shown = layers[layers[column] > 0]
    stages = list(dict.fromkeys(layers["stage"]))
    fig = px.bar(shown, x="name", y=column, color="stage", log_y=log, title=title,
                 category_orders={"name": list(shown["name"]), "stage": stages},
                 color_discrete_sequence=STAGE_COLOURS,
                 hover_data={"type": True, "output_shape": True, "name": False},
                 labels={column: unit, "name": "layer", "stage": "stage"})
    fig.update_xaxes(showticklabels=False, title="layers, input to output")
    fig.update_layout(bargap=0.1, showlegend=legend,
                      legend={"orientation": "h", "yanchor": "top", "y": -0.22, "title": None})
    return fig


def grouped(table: pd.DataFrame, columns: dict[str, str], log: bool = False) -> go.Figure:
    """Models side by side for several quantities: one panel per ``columns`` entry
    (column -> title), since params, MACs and memory have unrelated units."""
    long = table.melt(id_vars="model", value_vars=list(columns), var_name="quantity")
    long["quantity"] = long["quantity"].map(columns)
    fig = px.bar(long, x="model", y="value", color="model", facet_col="quantity",
                 facet_col_wrap=2, log_y=log, color_discrete_sequence=STAGE_COLOURS,
                 facet_row_spacing=0.15)
    fig.update_yaxes(matches=None, showticklabels=True, title=None)
    fig.update_xaxes(title=None, showticklabels=False)
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    fig.update_layout(height=620, legend={"orientation": "h", "y": -0.05, "title": None})
    return fig
