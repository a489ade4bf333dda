"""The dashboard's entry: navigation and classroom mode only. Each page is one file under app/.

Home is the default page, so it is served at ``/`` and every named page keeps its own path
(``/explore``, ``/layer-lab``); nothing heavy is imported here, so the first view is fast.
"""

import streamlit as st

from app.style import classroom_toggle, sidebar_state

st.set_page_config(page_title="CNN Architecture Explorer", layout="wide",
                   initial_sidebar_state=sidebar_state())
pages = [
    st.Page("app/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("app/explore.py", title="Explore", icon=":material/account_tree:",
            url_path="explore"),
    st.Page("app/compare.py", title="Compare", icon=":material/compare_arrows:",
            url_path="compare"),
    st.Page("app/layer_lab.py", title="Layer lab", icon=":material/calculate:",
            url_path="layer-lab"),
    st.Page("app/build.py", title="Build", icon=":material/construction:", url_path="build"),
    st.Page("app/visualize.py", title="Visualize", icon=":material/visibility:",
            url_path="visualize"),
    st.Page("app/train.py", title="Train", icon=":material/monitoring:", url_path="train"),
]
page = st.navigation(pages)
classroom_toggle()
page.run()
