"""The dashboard's entry: a home page only until the pages land (see the dashboard issue).

It imports nothing heavy: the zoo's catalogue is plain data, so the page lists the networks
without loading torch.
"""

import streamlit as st

from cnnlib.models import registry

st.set_page_config(page_title="CNN Architecture Explorer", layout="wide")
st.title("CNN Architecture Explorer")
st.write(
    "The dashboard is coming: explore, compare, layer lab, visualize and train pages. "
    "The library under it already works from the command line: "
    "`python -m cnnlib summary vgg16`."
)
st.subheader("The zoo")
st.dataframe(
    [{"model": m.name, "family": m.family, "year": m.year, "description": m.description}
     for m in registry.REGISTRY.values()],
    hide_index=True,
    use_container_width=True,
)
