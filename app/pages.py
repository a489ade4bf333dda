"""The dashboard's pages, listed once: the entry (streamlit_app.py) builds its navigation
from this list and Home its way into each page, so a page added, renamed or moved is one
line here. Plain data, so neither the entry nor Home imports anything heavy for it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageInfo:
    """One page: its file under app/, the title and icon the sidebar shows, its URL path
    (None for Home, served at ``/`` as the default) and Home's sentence about it (none for
    Home itself)."""

    path: str
    title: str
    icon: str
    url_path: str | None
    what: str = ""


HOME = PageInfo("app/home.py", "Home", ":material/home:", None)
#: The pages after Home, in the sidebar's order.
PAGES = (
    PageInfo("app/explore.py", "Explore", ":material/account_tree:", "explore",
             "one network: its graph as the papers draw it, the per-layer table, the slides' "
             "charts of memory, parameters and multiply-adds, and the course notes' numbers "
             "beside ours"),
    PageInfo("app/compare.py", "Compare", ":material/compare_arrows:", "compare",
             "networks side by side, accuracy against cost, and the ILSVRC years"),
    PageInfo("app/layer_lab.py", "Layer lab", ":material/calculate:", "layer-lab",
             "the arithmetic of one layer: output size, parameters, 1x1 bottlenecks"),
    PageInfo("app/build.py", "Build", ":material/construction:", "build",
             "type a network in the slides' notation (conv3-64 relu maxpool ...) and see it "
             "analysed"),
    PageInfo("app/visualize.py", "Visualize", ":material/visibility:", "visualize",
             "first-layer filters, feature maps, deconvnet projections and occlusion maps"),
    PageInfo("app/train.py", "Train", ":material/monitoring:", "train",
             "plain against residual nets on CIFAR-10, live: the degradation problem"),
)
