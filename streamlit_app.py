"""The dashboard's entry: navigation only. Each page is one file under app/.

Home is the default page, so it is served at ``/`` and every named page keeps its own path
(``/visualize``); nothing heavy is imported here, so the first view is fast.
"""

import streamlit as st

st.set_page_config(page_title="CNN Architecture Explorer", layout="wide")
pages = [
    st.Page("app/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("app/visualize.py", title="Visualize", icon=":material/visibility:",
            url_path="visualize"),
    st.Page("app/train.py", title="Train", icon=":material/monitoring:", url_path="train"),
]
st.navigation(pages).run()
