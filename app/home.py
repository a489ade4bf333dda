"""Home: what the explorer is, a way into each page, and the zoo (plain catalogue data: no
torch is loaded, so the first view of the app is fast)."""

import streamlit as st

from app import about
from cnnlib.models import registry

PAGES = [
    ("app/explore.py", "Explore", ":material/account_tree:",
     "one network: its graph as the papers draw it, the per-layer table, the slides' charts "
     "of memory, parameters and multiply-adds, and the course notes' numbers beside ours"),
    ("app/compare.py", "Compare", ":material/compare_arrows:",
     "networks side by side, accuracy against cost, and the ILSVRC years"),
    ("app/layer_lab.py", "Layer lab", ":material/calculate:",
     "the arithmetic of one layer: output size, parameters, 1x1 bottlenecks"),
    ("app/build.py", "Build", ":material/construction:",
     "type a network in the slides' notation (conv3-64 relu maxpool ...) and see it analysed"),
    ("app/visualize.py", "Visualize", ":material/visibility:",
     "first-layer filters, feature maps, deconvnet projections and occlusion maps"),
    ("app/train.py", "Train", ":material/monitoring:",
     "plain against residual nets on CIFAR-10, live: the degradation problem"),
]

st.title("CNN Architecture Explorer")
st.write("The classic convolutional networks, from LeNet-5 to ResNet, and why they are built "
         "the way they are. Every number is computed from the model itself.")
for path, title, icon, what in PAGES:
    left, right = st.columns([1, 4], vertical_alignment="center")
    left.page_link(path, label=title, icon=icon)
    right.write(what)
st.subheader("The zoo")
st.dataframe(
    [{"model": m.name, "family": m.family, "year": m.year,
      "input": "x".join(map(str, m.input_size)), "description": m.description}
     for m in registry.REGISTRY.values()],
    hide_index=True,
    width="stretch",
)
st.caption(f"About this server: {about.server_line()}")
