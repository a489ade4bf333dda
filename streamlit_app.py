"""The dashboard's entry: navigation and classroom mode only. Each page is one file under app/.

Home is the default page, so it is served at ``/`` and every named page keeps its own path
(``/explore``, ``/layer-lab``); nothing heavy is imported here, so the first view is fast.
"""

import streamlit as st

from app.pages import HOME, PAGES
from app.style import classroom_toggle, sidebar_state

st.set_page_config(page_title="CNN Architecture Explorer", layout="wide",
                   initial_sidebar_state=sidebar_state())
pages = [st.Page(HOME.path, title=HOME.title, icon=HOME.icon, default=True)]
pages += [st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url_path) for p in PAGES]
page = st.navigation(pages)
classroom_toggle()
page.run()
