"""Compare: several networks side by side, accuracy against cost (Canziani et al. 2017), and
the ILSVRC years that made them famous. ``/compare?models=alexnet,vgg16,googlenet,resnet152``
"""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from app import charts, warm
from app.style import show
from app.widgets import query_multi, query_select
from cnnlib import compare
from cnnlib.models import registry

CLASSICS = ["alexnet", "zfnet", "vgg16", "googlenet", "resnet50", "resnet152"]
QUANTITIES = {"params": "parameters", "macs": "multiply-adds", "memory_bytes":
              "activation memory (bytes)", "depth": "depth (weight layers)"}


warm.start()  # the rest of the zoo, in the background, once per server
st.title("Compare networks")
names = query_multi("Networks", registry.names(), "models", CLASSICS)
view = query_select("View", ["table", "accuracy", "history", "notes"], "view", radio=True,
                    horizontal=True, label_visibility="collapsed",
                    format_func={"table": "Side by side", "accuracy": "Accuracy vs cost",
                                 "history": "ILSVRC history",
                                 "notes": "The notes' comparison, recomputed"}.get)
if not names and view in ("table", "accuracy"):
    st.info("Choose one or more networks.")
    st.stop()

if view == "table":
    table = compare.compare_table(names)  # cached in cnnlib per list of names
    st.dataframe(table, hide_index=True)
    log = query_select("Scale", ["linear", "log"], "scale", radio=True,
                       horizontal=True) == "log"
    show(charts.grouped(table, QUANTITIES, log), key="grouped")
elif view == "accuracy":
    points = compare.accuracy_vs_ops(names)
    if points.empty:
        st.info("None of these networks has a published ImageNet accuracy.")
        st.stop()
    show(px.scatter(points, x="gmacs", y="top5", size="params", color="model", text="model",
                    size_max=60, labels={"gmacs": "G multiply-adds (ours)",
                                         "top5": "ImageNet top-5 accuracy (%)"},
                    title="Accuracy against operations; bubble area: parameters")
         .update_traces(textposition="top center").update_layout(showlegend=False),
         key="bubbles")
    st.caption("Top-5 accuracy, since every source gives it (the papers' ILSVRC entries give "
               "no top-1). Accuracies as published, one source per network:")
    st.dataframe(points[["model", "top1", "top5", "source"]], hide_index=True)
elif view == "history":
    history = compare.ilsvrc_history()
    left, right = st.columns(2)
    with left:
        show(px.bar(history, x="year", y="top5_error_percent", text="network",
                    color="network", labels={"top5_error_percent": "top-5 error (%)"},
                    title="ILSVRC classification: top-5 error")
             .update_layout(showlegend=False), key="history")
    with right:
        show(px.bar(history, x="year", y="depth", text="network", color="network",
                    labels={"depth": "depth (weight layers, ours)"},
                    title="Depth of the winning networks")
             .update_layout(showlegend=False), key="depth")
    st.dataframe(history, hide_index=True)
else:
    st.dataframe(compare.comparison_recomputed(), hide_index=True)
