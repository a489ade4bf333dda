"""Home: what the explorer is, a way into each page, and the zoo (plain catalogue data: no
torch is loaded, so the first view of the app is fast)."""

import streamlit as st

from app import about
from app.pages import PAGES
from cnnlib.models import registry

st.title("CNN Architecture Explorer")
st.write("The classic convolutional networks, from LeNet-5 to ResNet, and why they are built "
         "the way they are, with the families that came after them (MobileNet, EfficientNet, "
         "RegNet, ViT, Swin, ConvNeXt). Every number is computed from the model itself.")
for page in PAGES:
    left, right = st.columns([1, 4], vertical_alignment="center")
    left.page_link(page.path, label=page.title, icon=page.icon)
    right.write(page.what)
st.subheader("The zoo")
st.dataframe(
    [{"model": m.name, "family": m.family, "year": m.year,
      "input": "x".join(map(str, m.input_size)), "description": m.description}
     for m in registry.REGISTRY.values()],
    hide_index=True,
    width="stretch",
)
st.caption(f"About this server: {about.server_line()}")
