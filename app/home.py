"""Home: what the explorer is, and the zoo (plain catalogue data: no torch is loaded)."""

import streamlit as st

from cnnlib.models import registry

st.title("CNN Architecture Explorer")
st.write(
    "The classic convolutional networks and why they are built the way they are. "
    "**Visualize** shows first-layer filters, feature maps, Zeiler & Fergus deconvnet "
    "projections and occlusion maps on your own images. The explore, compare, layer-lab "
    "and train pages are on their way; the numbers behind them already work from the "
    "command line (`python -m cnnlib summary vgg16`)."
)
st.page_link("app/visualize.py", label="Open Visualize", icon=":material/visibility:")
st.subheader("The zoo")
st.dataframe(
    [{"model": m.name, "family": m.family, "year": m.year,
      "input": "x".join(map(str, m.input_size)), "description": m.description}
     for m in registry.REGISTRY.values()],
    hide_index=True,
    width="stretch",
)
