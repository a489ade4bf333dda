"""Visualize: first-layer filters, feature maps, deconvnet projections, top-9 patches,
occlusion and predictions, on a sample photograph or an upload.

Every picture says where the weights come from (ImageNet, a training checkpoint, or random).
Settings live in the URL (model, weights, image, view, layer, channel...). One function per
view: the filters need no image; :data:`IMAGE_VIEWS` dispatches the others, each given the
loaded weights and the :class:`Picture` (the image as the network sees it, its cache key and
the analysis at its size).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plotly.express as px
import streamlit as st
import torch

import cnnlib
from app import charts
from app.style import is_classroom, show
from app.widgets import plain, query_int, query_select, session_memo
from cnnlib import images, paths, runs, visualize, weights
from cnnlib.analysis import Profile
from cnnlib.errors import CnnlibError
from cnnlib.models import registry

VIEWS = {"filters": "First-layer filters", "activations": "Feature maps",
         "projection": "Deconvnet projection", "top9": "Top-9 patches",
         "occlusion": "Occlusion", "predictions": "Predictions"}
#: Session key: model -> why its ImageNet weights could not be downloaded in this session.
FAILED = "_download_failed"


def load_weights(name: str, source: str, checkpoint: str, cached: bool) -> weights.LoadedWeights:
    """The model, from the server's byte-budgeted cache (weights.MODELS: never two VGG-sized
    models at once). ``cached`` (whether the ImageNet file is on disk) is in the key so that
    weights downloaded later replace a random fallback."""
    def load() -> weights.LoadedWeights:
        if source == "checkpoint":
            return weights.load_checkpoint(Path(checkpoint))
        return weights.load(name, source, download=False)  # type: ignore[arg-type]

    with st.spinner("Loading the model..."):
        return weights.MODELS.get((name, source, checkpoint, cached), load)


# The caches below hash their arguments as streamlit does, except the model, the tensors and
# the analysis (the leading "_"): hashing a VGG's 528 MB on every rerun would cost more than
# the views. ``key`` names them instead: the model by (name, weights source, checkpoint), the
# image by the SHA-1 of its bytes or by its path. Streamlit computes each key once at a time.
@st.cache_resource(max_entries=3, show_spinner=False)
def analyse(key: tuple, _model: torch.nn.Module, input_size: tuple[int, int, int]):
    return cnnlib.profile(_model, input_size)


@st.cache_data(max_entries=8, show_spinner=False)
def read_image(data: bytes) -> images.LoadedImage:
    return images.load_image(data)


@st.cache_data(max_entries=16, show_spinner="Running the network...")
def activations_of(key: tuple, layer: str, top_k: int, _model, _x):
    return visualize.activation_grid(visualize.feature_maps(_model, _x, layer), top_k=top_k)


@st.cache_data(max_entries=16, show_spinner="Projecting back to pixels...")
def projection_of(key: tuple, layer: str, channel: int | None, method: str, _model, _x,
                  _result):
    return visualize.project(_model, _x, layer, _result, channel, method)


@st.cache_data(max_entries=4, show_spinner="Reading the images...")
def dataset_of(paths: tuple[str, ...], prep: weights.Preprocess
               ) -> tuple[tuple[str, ...], torch.Tensor, int]:
    """Every readable image preprocessed for the network, stacked; unreadable ones counted."""
    names, tensors = [], []
    for path in paths:
        try:
            tensors.append(visualize.preprocess(images.load_image(path).image, prep).tensor)
        except CnnlibError:
            continue
        names.append(path)
    return tuple(names), torch.cat(tensors), len(paths) - len(names)


@st.cache_data(max_entries=8, show_spinner="Scoring the images...")
def top9_of(key: tuple, layer: str, channel: int, _model, _batches, _result):
    return visualize.top_patches(_model, _batches, layer, channel, _result)


def image_choice() -> tuple[str, bytes] | None:
    """The chosen sample or upload as (name, bytes)."""
    samples = {**images.sample_images(), **{f"cifar/{k}": v for k, v in
                                            images.cifar_samples().items()}}
    choice = query_select("Image", [*samples, "upload"], "image", default="cat",
                          format_func=lambda s: "Upload your own..." if s == "upload" else s)
    if choice != "upload":
        return choice, samples[choice].read_bytes()
    upload = st.file_uploader("An image (JPEG, PNG, GIF, TIFF, WebP...)", key="upload")
    if upload is None:
        st.info("Choose a file to upload.")
        return None
    return upload.name, upload.getvalue()


def retry_download(name: str) -> None:
    """Forget this session's failed download of ``name`` and choose its ImageNet weights
    again (a callback: it runs before the Weights radio exists)."""
    st.session_state[FAILED].pop(name, None)
    st.session_state["weights"] = "pretrained"


def download_once(name: str, slot) -> None:
    """Fetch ``name``'s ImageNet weights with a progress bar in ``slot``; a failure is kept
    for the session, so it is tried once, not on every rerun (a stalled network would stall
    every slider move), until the student asks again."""
    bar = slot.progress(0.0, text="Downloading the ImageNet weights...")
    reason = weights.download(name, lambda done, total: bar.progress(
        done / total if total else 0.0,
        text=f"Downloading weights: {done / 2**20:.0f} of {total / 2**20:.0f} MB"))
    slot.empty()
    if reason:
        st.session_state[FAILED][name] = reason


@dataclass(frozen=True)
class Picture:
    """The chosen image as the network sees it, and what every image view needs with it."""

    name: str
    model_key: tuple  # what identifies the loaded model in the caches (it is not hashed)
    key: tuple  # the cache key of this model on this image: (*model_key, sha1 of the bytes)
    x: torch.Tensor  # the preprocessed batch of one
    shown: np.ndarray  # x denormalised: the picture the network sees
    result: Profile  # the analysis of the model at the image's size
    layers: list[tuple[str, str]]  # the visual layers, as (name, output shape)
    channels: dict[str, int]  # each layer's output channel count


def sidebar(failures: dict[str, str], downloading) -> tuple[str, str, str,
                                                             tuple[str, bytes] | None, str]:
    """Network, weights (downloading ImageNet's once if asked), checkpoint, image and view."""
    with st.sidebar:
        name = query_select("Network", registry.names(), "model", default="alexnet",
                            format_func=lambda n: f"{n} ({registry.get(n).year})")
        offered = "pretrained" if weights.pretrained_available(name) else "random"
        wanted = st.session_state.get("weights", st.query_params.get("weights", offered))
        if wanted == "pretrained" and offered == "pretrained" and name not in failures \
                and not weights.pretrained_path(name).exists():
            download_once(name, downloading)
        if name in failures and wanted == "pretrained":
            # before the radio is drawn, so that it shows what is used: the random weights
            st.session_state["weights"] = "random"
        source = query_select("Weights", weights.sources(name), "weights", radio=True,
                              default=offered,
                              format_func={"pretrained": "ImageNet-pretrained",
                                           "checkpoint": "training checkpoint",
                                           "random": "random (untrained)"}.get)
        checkpoint = ""
        if source == "checkpoint":
            found = [str(p) for p in weights.list_checkpoints(*runs.run_folders())]
            if not found:
                st.warning("No checkpoints yet: train a model on the Train page first.")
                st.stop()
            checkpoint = query_select("Checkpoint", found, "checkpoint")
        picked = image_choice()
        view = query_select("View", list(VIEWS), "view", format_func=VIEWS.get, radio=True)
    return name, source, checkpoint, picked, view


def weights_status(name: str, loaded: weights.LoadedWeights, failed: str | None) -> None:
    """Where the weights come from, and why they are not the ones asked for, if they are not."""
    status = f"**{loaded.name}**: {loaded.label}"
    problem = f"{failed} Showing random initialisation instead." if failed else loaded.warning
    if is_classroom():  # one line: the pictures are what the room looks at
        st.caption(f"{status}. {plain(problem)}" if problem else status)
    else:
        st.info(status)
        if problem:
            st.warning(plain(problem))
    if failed:
        st.button("Try the download again", on_click=retry_download, args=(name,))


def filters_view(loaded: weights.LoadedWeights) -> None:
    grid = visualize.filter_grid(loaded.model)
    st.subheader(f"{grid.count} filters of {grid.kernel[0]}x{grid.kernel[1]}x{grid.channels} "
                 f"in {grid.layer}")
    st.caption("Each filter scaled to its own range, as in Krizhevsky et al. 2012, Fig. 3. "
               "Trained first layers show oriented edges and colour blobs; random ones, noise.")
    st.image(visualize.enlarge(grid.image, 6), clamp=True)


def picture_of(picked: tuple[str, bytes], loaded: weights.LoadedWeights, model_key: tuple
               ) -> Picture | None:
    """The image read, preprocessed (the steps shown in an expander) and the model analysed
    at its size; None when either fails (the message is shown)."""
    try:
        photo = read_image(picked[1])
    except CnnlibError as exc:
        st.error(plain(f"{picked[0]}: {exc}"))
        return None
    for note in photo.notes:
        st.caption(plain(f"{picked[0]}: {note}"))
    seen = visualize.preprocess(photo.image, loaded.preprocess)
    x = seen.tensor
    shown = visualize.denormalise(x, loaded.preprocess)
    with st.expander("What the network sees (preprocessing)"):
        cols = st.columns(len(seen.steps) + 1)
        for col, (text, picture) in zip(cols, seen.steps, strict=False):
            col.image(picture, caption=text)
        cols[-1].image(shown, caption=f"normalised: {seen.normalise}")
    try:
        c, h, w = x.shape[1:]
        result = analyse(model_key, loaded.model, (c, h, w))
    except CnnlibError as exc:
        st.error(plain(str(exc)))
        return None
    return Picture(picked[0], model_key, (*model_key, hashlib.sha1(picked[1]).hexdigest()),
                   x, shown,
                   result, visualize.visual_layers(result, loaded.model),
                   visualize.output_channels(result))


def layer_choice(pic: Picture) -> tuple[str, int]:
    """The layer to look at, and its number of output channels."""
    shapes = dict(pic.layers)
    layer = query_select("Layer", list(shapes), "layer", default=pic.layers[0][0],
                         format_func=lambda n: f"{n}  ({shapes[n]})")
    return layer, pic.channels[layer]


def activations_view(loaded: weights.LoadedWeights, pic: Picture) -> None:
    layer, channels = layer_choice(pic)
    top_k = query_int("Channels shown (strongest mean activation first)", "top", 16, 1,
                      min(64, channels))
    grid = activations_of(pic.key, layer, top_k, loaded.model, pic.x)
    st.subheader(f"{layer}: output {'x'.join(map(str, grid.shape))}, top {top_k} channels")
    st.image(visualize.enlarge(grid.image, max(1, 512 // grid.image.shape[1])))
    st.caption("Channels in order: " + ", ".join(
        f"{c} (mean {m:.2f})" for c, m in zip(grid.channels, grid.means, strict=True)))


def projection_view(loaded: weights.LoadedWeights, pic: Picture) -> None:
    layer, channels = layer_choice(pic)
    method = query_select("Method", ["deconvnet", "guided"], "method", radio=True,
                          format_func={"deconvnet": "Deconvnet (Zeiler & Fergus)",
                                       "guided": "Guided backprop"}.get)
    pick = query_int("Channel (-1: the strongest)", "channel", -1, -1, channels - 1,
                     slider=False)
    proj = projection_of(pic.key, layer, None if pick < 0 else pick, method, loaded.model,
                         pic.x, pic.result)
    st.subheader(f"{layer}, channel {proj.channel}: strongest activation "
                 f"{proj.activation:.2f} at {proj.position}")
    a, b, c = st.columns(3)
    a.image(visualize.outline(pic.shown, proj.patch), caption="input, receptive field")
    b.image(visualize.enlarge(visualize.crop(pic.shown, proj.patch), 2),
            caption="the patch the unit sees")
    c.image(visualize.enlarge(visualize.crop(proj.image, proj.patch), 2),
            caption="its projection to pixels")


def top9_view(loaded: weights.LoadedWeights, pic: Picture) -> None:
    layer, channels = layer_choice(pic)
    channel = query_int("Channel", "channel", 0, 0, channels - 1, slider=False)
    where = query_select("Images to search", ["samples", "folder"], "search", radio=True,
                         format_func={"samples": "the bundled samples",
                                      "folder": "a folder on this machine"}.get)
    paths_found = [*images.sample_images().values(), *images.cifar_samples().values()]
    if where == "folder":
        folder = st.text_input("Folder", st.query_params.get("folder", ""),
                               max_chars=paths.MAX_PATH_CHARS,
                               placeholder="/path/to/images (recursive, 500 at most)",
                               help="Inside the bundled samples, the runs folder or a "
                                    f"folder listed in ${paths.ALLOW_ENV}.")
        st.query_params["folder"] = folder
        if not folder:
            st.stop()
        paths_found = images.folder_images(paths.confine(folder))
    names, batch, skipped = dataset_of(tuple(map(str, paths_found)), loaded.preprocess)
    if skipped:
        st.caption(f"{skipped} file(s) skipped: not readable as images.")
    best = top9_of((*pic.model_key, names), layer, channel, loaded.model, [batch], pic.result)
    st.subheader(f"The {len(best)} strongest responses of {layer}, channel {channel}, "
                 f"among {len(names)} images: patch and its deconvnet projection")
    cols = st.columns(3)
    for i, patch in enumerate(best):
        x_i = batch[patch.index:patch.index + 1]
        proj = projection_of((*pic.model_key, names[patch.index]), layer, channel, "deconvnet",
                             loaded.model, x_i, pic.result)
        picture = visualize.denormalise(x_i, loaded.preprocess)
        pair = np.concatenate([visualize.crop(picture, patch.patch),
                               visualize.crop(proj.image, patch.patch)], axis=1)
        cols[i % 3].image(visualize.enlarge(pair, max(1, 160 // pair.shape[0])),
                          caption=plain(f"{Path(names[patch.index]).stem}: "
                                        f"{patch.activation:.2f} at {patch.position}"))


def occlusion_view(loaded: weights.LoadedWeights, pic: Picture) -> None:
    x = pic.x
    side = int(x.shape[-1])
    top = visualize.predict(loaded.model, x, loaded.categories, k=5)
    settings = st.columns(3)
    with settings[0]:
        target_name = query_select("Class to follow (default: the predicted one)",
                                   [n for n, _ in top], "target")
    with settings[1]:
        window = query_int("Grey square (pixels)", "window", max(4, side // 7), 2, side)
    with settings[2]:
        asked = query_int("Step (pixels)", "stride", max(2, side // 14), 1, side)
    stride = visualize.occlusion_stride(side, side, window, asked)
    if stride != asked:
        st.caption(f"A step of {asked} would be "
                   f"{visualize.occlusion_positions(side, side, window, asked):,} "
                   f"positions, a forward pass each; this page does at most "
                   f"{visualize.MAX_OCCLUSION_POSITIONS}, so it steps by {stride}.")
    progress = st.progress(0.0, text="Occluding...")

    def show_progress(done: int, total: int) -> None:
        progress.progress(done / total, text=f"Occluding: {done} of {total} positions")

    # a session memo, not st.cache_data: the computation draws its progress into the page
    occ = session_memo(("occlusion", *pic.key, window, stride, target_name),
                       lambda: visualize.occlusion(
        loaded.model, x, target=visualize.class_index(target_name, loaded.categories),
        window=window, stride=stride, progress=show_progress))
    progress.empty()
    st.subheader(f"'{target_name}' (whole image: {occ.baseline:.1%}) with a "
                 f"{occ.window}-pixel grey square at each place")
    maps = visualize.occlusion_frames(occ, loaded.categories)
    axes = {"x": "square's left (px)", "y": "square's top (px)"}
    a, b = st.columns(2)
    a.image(pic.shown, caption="input", width="stretch")
    with b:
        show(px.imshow(occ.probability, x=maps.xs, y=maps.ys, zmin=0,
                       zmax=max(float(occ.probability.max()), occ.baseline),
                       color_continuous_scale="Viridis",
                       labels={**axes, "color": "probability"},
                       title=f"probability of '{target_name}'"), key="occlusion-probability")
    show(charts.occlusion_classes(maps), key="occlusion-classes")


def predictions_view(loaded: weights.LoadedWeights, pic: Picture) -> None:
    top = visualize.predict(loaded.model, pic.x, loaded.categories)
    st.subheader("Top-5 predictions")
    st.dataframe([{"class": c, "probability": f"{p:.1%}"} for c, p in top], hide_index=True)
    if loaded.source == "random":
        st.caption("Random weights: these are guesses from an untrained network.")


#: The views that look at an image, by VIEWS key (the first-layer filters need none).
IMAGE_VIEWS = {"activations": activations_view, "projection": projection_view,
               "top9": top9_view, "occlusion": occlusion_view, "predictions": predictions_view}


st.title("Seeing inside a network")
failures: dict[str, str] = st.session_state.setdefault(FAILED, {})
downloading = st.empty()  # the download's progress, in the page rather than the sidebar
name, source, checkpoint, picked, view = sidebar(failures, downloading)
try:
    loaded = load_weights(name, source, checkpoint,
                          source == "pretrained" and weights.pretrained_path(name).exists())
except CnnlibError as exc:
    st.error(plain(str(exc)))
    st.stop()
weights_status(name, loaded, failures.get(name) if source == "random" else None)
#: What identifies the loaded model in the caches below (the model itself is not hashed).
model_key = (loaded.name, source, checkpoint)
if view == "filters":
    filters_view(loaded)
    st.stop()
pic = None if picked is None else picture_of(picked, loaded, model_key)
if pic is None:
    st.stop()
try:
    IMAGE_VIEWS[view](loaded, pic)
except CnnlibError as exc:
    st.error(plain(str(exc)))
