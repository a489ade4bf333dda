"""Seeing inside a network: filters, feature maps, deconvnet projections, occlusion.

Every function takes a model and tensors and returns plain data (numpy arrays, small
dataclasses) for the app to draw. What is what, against the papers:

- First-layer filters (Krizhevsky et al. 2012, Fig. 3): the first conv's weights, each filter
  scaled to its own range; torchvision's ``make_grid(normalize=True, scale_each=True)`` does
  exactly that.
- Feature maps: a forward hook on the chosen layer. The forward stops right after that layer,
  so an early layer of ResNet-50 costs a fraction of a full pass.
- Deconvnet projections (Zeiler & Fergus 2014): the deconvnet maps one activation back to
  pixels by unpooling with the max-pool switches, rectifying, and applying the transposed
  filters. That is the gradient of the activation with respect to the input, except that each
  ReLU passes only the positive part of the signal coming back. captum's
  ``NeuronDeconvolution`` implements this rule. ``NeuronGuidedBackprop`` (Springenberg et al.
  2015) also masks by the forward ReLU pattern and gives sharper pictures.
- Top-9 patches (ZF Fig. 2): the dataset images whose strongest response in one channel is
  highest, cropped to that unit's receptive field (from :mod:`cnnlib.analysis`).
- Occlusion sensitivity (ZF Fig. 7): a grey square slid over the image in batched forward
  passes. The result is a map of the target class's probability and of the most probable
  class at each position.

The dashboard caches a loaded model for every session, so two sessions may run the same model
at once. A hook registered for one forward would fire in the other's (captum hooks every ReLU
and the chosen layer), so each forward here runs under :func:`cnnlib.concurrency.running`:
one at a time per model, and never during an fx trace.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image
from torch import Tensor, nn
from torchvision.utils import make_grid

from cnnlib import analysis
from cnnlib.concurrency import running
from cnnlib.errors import CnnlibError
from cnnlib.weights import Preprocess


def _to_uint8(grid: Tensor) -> np.ndarray:
    """A CxHxW float tensor in [0, 1] -> HxWx3 uint8 for display."""
    return (grid.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()


# ---------------------------------------------------------------- filters


@dataclass(frozen=True)
class FilterGrid:
    image: np.ndarray  # HxWx3 uint8: the tiles, one per filter, each scaled to its own range
    layer: str
    count: int
    kernel: tuple[int, int]
    channels: int  # input channels per filter: 3 shows colour, 1 shows grey


def first_conv(model: nn.Module) -> tuple[str, nn.Conv2d]:
    """The first 2-D convolution the input meets (module order is forward order in the zoo)."""
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            return name, module
    raise CnnlibError(f"{type(model).__name__} has no 2-D convolution to show filters of.")


def filter_grid(model: nn.Module, per_row: int | None = None, padding: int = 1) -> FilterGrid:
    """Every filter of the first conv as a tile: RGB for 3 input channels, else grey (the
    mean over input channels)."""
    name, conv = first_conv(model)
    with running(model):  # a read of conv.weight during a trace of this model is a Proxy
        weights = conv.weight.detach().float().cpu()
    count, channels, kh, kw = weights.shape
    tiles = weights if channels == 3 else weights.mean(dim=1, keepdim=True).expand(-1, 3, -1, -1)
    per_row = per_row or math.ceil(math.sqrt(count))
    grid = make_grid(tiles, nrow=per_row, padding=padding, normalize=True, scale_each=True,
                     pad_value=1.0)
    return FilterGrid(_to_uint8(grid), name, count, (kh, kw), channels)


# ---------------------------------------------------------------- preprocessing


@dataclass(frozen=True)
class Preprocessed:
    """What the network sees, step by step, so students can compare it with the photo."""

    steps: tuple[tuple[str, Image.Image], ...]  # (description, picture) in order
    tensor: Tensor  # 1xCxHxW, normalised
    normalise: str  # the normalisation, written out


def preprocess(image: Image.Image, prep: Preprocess) -> Preprocessed:
    """Resize (shorter side), centre-crop and normalise as the weights were trained."""
    steps = [(f"input {image.width}x{image.height}", image)]
    if prep.resize:
        image = TF.resize(image, prep.resize, antialias=True)
        steps.append((f"resize shorter side to {prep.resize}: {image.width}x{image.height}",
                      image))
        image = TF.center_crop(image, prep.crop)
        steps.append((f"centre crop {prep.crop}x{prep.crop}", image))
    else:
        image = TF.resize(image, [prep.crop, prep.crop], antialias=True)
        steps.append((f"resize to {prep.crop}x{prep.crop}", image))
    if len(prep.mean) == 1:
        image = image.convert("L")
        steps.append(("greyscale (a 1-channel network)", image))
    x = TF.to_dtype(TF.pil_to_tensor(image), torch.float32, scale=True)
    x = TF.normalize(x, list(prep.mean), list(prep.std)).unsqueeze(0)
    means = ", ".join(f"{m:.3f}" for m in prep.mean)
    stds = ", ".join(f"{s:.3f}" for s in prep.std)
    return Preprocessed(tuple(steps), x, f"(x - ({means})) / ({stds}) per channel, x in [0, 1]")


# ---------------------------------------------------------------- feature maps


class _StopForwardError(Exception):
    """Raised by the hook once the chosen layer has run: the rest of the forward is skipped."""


def _module_and_call(model: nn.Module, layer: str) -> tuple[nn.Module, int]:
    """``"layer1.0.relu#2"`` -> (that ReLU module, 2): the analysis names repeated calls so."""
    path, _, call = layer.partition("#")
    try:
        return model.get_submodule(path), int(call or 1)
    except AttributeError:
        raise CnnlibError(f"{type(model).__name__} has no layer '{layer}'.") from None


def feature_maps(model: nn.Module, x: Tensor, layer: str) -> Tensor:
    """The output of ``layer`` (a module path, ``#k`` for its k-th call) for input ``x``."""
    module, call = _module_and_call(model, layer)
    seen: list[Tensor] = []

    def hook(_m: nn.Module, _i: tuple, out: Tensor) -> None:
        seen.append(out)
        if len(seen) == call:
            raise _StopForwardError

    with running(model):
        handle = module.register_forward_hook(hook)
        try:
            with torch.no_grad():
                model(x)
        except _StopForwardError:
            pass
        finally:
            handle.remove()
    if len(seen) < call:
        raise CnnlibError(f"Layer '{layer}' did not run in the forward pass.")
    return seen[call - 1][0].detach()


def visual_layers(result: analysis.Profile, model: nn.Module) -> list[tuple[str, str]]:
    """Layers worth looking at: module rows with a CxHxW output, as (name, output shape)."""
    modules = dict(model.named_modules())
    return [(r.name, analysis.format_shape(r.calc.out[1:])) for r in result.rows
            if r.name.partition("#")[0] in modules and len(r.calc.out) == 4]


def output_channels(result: analysis.Profile) -> dict[str, int]:
    """Each layer's output channel count (the C of its N x C x ... output), by row name: the
    integer that :func:`visual_layers`' shape text shows first."""
    return {row.name: int(row.calc.out[1]) for row in result.rows if len(row.calc.out) > 1}


@dataclass(frozen=True)
class ActivationGrid:
    image: np.ndarray  # HxWx3 uint8: the top-k channels, sorted by mean activation
    channels: tuple[int, ...]  # channel index of each tile, in order
    means: tuple[float, ...]
    shape: tuple[int, int, int]  # the layer's output C, H, W


def activation_grid(maps: Tensor, top_k: int = 16, per_row: int | None = None) -> ActivationGrid:
    """The ``top_k`` channels with the highest mean activation, each scaled to its own range
    (a grey tile is a channel that is constant on this image)."""
    means = maps.float().mean(dim=(1, 2))
    order = torch.argsort(means, descending=True)[:top_k]
    tiles = maps[order].float().unsqueeze(1).expand(-1, 3, -1, -1)
    grid = make_grid(tiles, nrow=per_row or math.ceil(math.sqrt(len(order))), padding=1,
                     normalize=True, scale_each=True, pad_value=1.0)
    c, h, w = maps.shape
    return ActivationGrid(_to_uint8(grid), tuple(order.tolist()),
                          tuple(means[order].tolist()), (c, h, w))


# ---------------------------------------------------------------- projections


@dataclass(frozen=True)
class Projection:
    image: np.ndarray  # HxWx3 uint8: the projection in pixel space, scaled to its range
    patch: tuple[int, int, int, int]  # the unit's receptive field (top, left, bottom, right)
    channel: int
    position: tuple[int, int]  # (y, x) of the strongest activation in the channel
    activation: float


def _relus_not_inplace(model: nn.Module) -> None:
    """captum's modified-gradient rules hook every ReLU's backward, which in-place ReLUs
    forbid; at inference in-place only saves memory, so switch it off."""
    for m in model.modules():
        if isinstance(m, nn.ReLU):
            m.inplace = False


def _scaled(t: Tensor) -> np.ndarray:
    t = t.detach().float()
    lo, hi = t.min(), t.max()
    return _to_uint8((t - lo) / (hi - lo) if hi > lo else torch.full_like(t, 0.5))


def project(model: nn.Module, x: Tensor, layer: str, result: analysis.Profile,
            channel: int | None = None, method: str = "deconvnet") -> Projection:
    """Project the strongest activation of ``channel`` in ``layer`` back to pixel space.

    ``channel=None`` takes the channel with the strongest single activation. ``method`` is
    ``"deconvnet"`` (Zeiler & Fergus) or ``"guided"`` (guided backpropagation).
    """
    from captum.attr import NeuronDeconvolution, NeuronGuidedBackprop

    module, call = _module_and_call(model, layer)
    if call > 1:
        raise CnnlibError(f"'{layer}' reuses a module: project from a layer called once.")
    maps = feature_maps(model, x, layer)
    if channel is None:
        channel = int(maps.flatten(1).max(dim=1).values.argmax())
    if not 0 <= channel < maps.shape[0]:
        raise CnnlibError(f"'{layer}' has {maps.shape[0]} channels; {channel} is not one.")
    flat = int(maps[channel].argmax())
    y, xx = divmod(flat, maps.shape[2])
    algo = {"deconvnet": NeuronDeconvolution, "guided": NeuronGuidedBackprop}[method]
    with running(model):
        _relus_not_inplace(model)
        attribution = algo(model, module).attribute(x.clone().requires_grad_(True),
                                                     neuron_selector=(channel, y, xx))
    return Projection(_scaled(attribution[0]), result.receptive_box(layer, y, xx), channel,
                      (y, xx), float(maps[channel, y, xx]))


@dataclass(frozen=True)
class TopPatch:
    index: int  # which image of the dataset
    activation: float
    position: tuple[int, int]
    patch: tuple[int, int, int, int]  # receptive field in that image


def top_patches(model: nn.Module, images: Iterable[Tensor], layer: str, channel: int,
                result: analysis.Profile, k: int = 9) -> list[TopPatch]:
    """The ``k`` images (batches of 1xCxHxW or NxCxHxW) whose strongest response in
    ``channel`` of ``layer`` is highest, with where it is and the patch the unit sees."""
    scored: list[TopPatch] = []
    offset = 0
    for batch in images:
        for j, one in enumerate(batch):
            maps = feature_maps(model, one.unsqueeze(0), layer)[channel]
            flat = int(maps.argmax())
            y, xx = divmod(flat, maps.shape[1])
            scored.append(TopPatch(offset + j, float(maps.flatten()[flat]), (y, xx),
                                   result.receptive_box(layer, y, xx)))
        offset += len(batch)
    return sorted(scored, key=lambda p: -p.activation)[:k]


# ---------------------------------------------------------------- occlusion, predictions


@dataclass(frozen=True)
class OcclusionMap:
    probability: np.ndarray  # rows x cols: the target class's probability, square at each place
    top_class: np.ndarray  # rows x cols: the most probable class index there
    target: int
    baseline: float  # the target's probability on the whole image
    window: int
    stride: int


#: Most positions one occlusion map may take, a forward pass each: 16x16, about 10 s for
#: ResNet-50 on a CPU core pair. ``window=2, stride=1`` on 224x224 would be 49,729 passes,
#: a quarter of an hour of the server's CPU from one shared link.
MAX_OCCLUSION_POSITIONS = 256


def occlusion_positions(h: int, w: int, window: int, stride: int) -> int:
    """How many places an occlusion map puts its square (one forward pass each)."""
    return ((h - window) // stride + 1) * ((w - window) // stride + 1)


def occlusion_stride(h: int, w: int, window: int, stride: int) -> int:
    """``stride``, or the smallest larger one that keeps the map within
    :data:`MAX_OCCLUSION_POSITIONS`: what a page runs when asked for too fine a map."""
    while occlusion_positions(h, w, window, stride) > MAX_OCCLUSION_POSITIONS:
        stride += 1
    return stride


def occlusion(model: nn.Module, x: Tensor, target: int | None = None, window: int = 32,
              stride: int = 16, batch_size: int = 4,
              progress: Callable[[int, int], None] | None = None) -> OcclusionMap:
    """Slide a ``window`` square of zeros, which after normalisation is the dataset's mean
    grey, over ``x`` in ``stride`` steps, and record the probabilities, in batched passes.

    Small batches are fastest on a CPU (ResNet-50, 2 cores: 49 passes take 2.2 s one at a
    time but 4.3 s 32 at a time, as the activations outgrow the caches).
    """
    _, _, h, w = x.shape
    if window > min(h, w):
        raise CnnlibError(f"The occluding square ({window}) is larger than the image ({h}x{w}).")
    if stride < 1:
        raise CnnlibError(f"The occluding square's step must be at least 1 pixel, not {stride}.")
    positions = occlusion_positions(h, w, window, stride)
    if positions > MAX_OCCLUSION_POSITIONS:
        raise CnnlibError(f"A {window}-pixel square in steps of {stride} on {h}x{w} is "
                          f"{positions:,} positions, a forward pass each; the limit is "
                          f"{MAX_OCCLUSION_POSITIONS} (a step of "
                          f"{occlusion_stride(h, w, window, stride)} fits).")
    rows = (h - window) // stride + 1
    cols = (w - window) // stride + 1
    with torch.no_grad(), running(model):
        base = model(x).softmax(dim=1)[0]
    target = int(base.argmax()) if target is None else target
    places = [(r * stride, c * stride) for r in range(rows) for c in range(cols)]
    probs, tops = [], []
    for start in range(0, len(places), batch_size):
        chunk = places[start:start + batch_size]
        batch = x.repeat(len(chunk), 1, 1, 1)
        for i, (top, left) in enumerate(chunk):
            batch[i, :, top:top + window, left:left + window] = 0
        with torch.no_grad(), running(model):  # per batch: other sessions run between
            p = model(batch).softmax(dim=1)
        probs.append(p[:, target])
        tops.append(p.argmax(dim=1))
        if progress:
            progress(start + len(chunk), len(places))
    return OcclusionMap(torch.cat(probs).reshape(rows, cols).numpy(),
                        torch.cat(tops).reshape(rows, cols).numpy(), target,
                        float(base[target]), window, stride)


@dataclass(frozen=True)
class OcclusionFrames:
    """An occlusion map laid out for drawing: axes in pixels, classes as labels and codes."""

    xs: list[int]  # the square's left edge for each column, in input pixels
    ys: list[int]  # the square's top edge for each row
    class_names: np.ndarray  # rows x cols of class names (the most probable at each place)
    class_codes: np.ndarray  # rows x cols of small ints, one per distinct class, for colours


def occlusion_frames(occ: OcclusionMap, categories: list[str] | None) -> OcclusionFrames:
    rows, cols = occ.probability.shape
    names = np.array([class_name(int(i), categories) for i in occ.top_class.flatten()])
    codes = {n: i for i, n in enumerate(dict.fromkeys(names))}
    return OcclusionFrames([c * occ.stride for c in range(cols)],
                           [r * occ.stride for r in range(rows)], names.reshape(rows, cols),
                           np.array([codes[n] for n in names]).reshape(rows, cols))


def class_name(index: int, categories: list[str] | None) -> str:
    """A class's name, or "class N" when the weights carry no names."""
    return categories[index] if categories else f"class {index}"


def class_index(name: str, categories: list[str] | None) -> int:
    """The inverse of :func:`class_name`."""
    return categories.index(name) if categories else int(name.removeprefix("class "))


def predict(model: nn.Module, x: Tensor, categories: list[str] | None, k: int = 5
            ) -> list[tuple[str, float]]:
    """The top-``k`` classes and their probabilities."""
    with torch.no_grad(), running(model):
        probs = model(x).softmax(dim=1)[0]
    values, indices = probs.topk(min(k, probs.numel()))
    return [(class_name(i, categories), float(v))
            for v, i in zip(values.tolist(), indices.tolist(), strict=True)]


# ---------------------------------------------------------------- display helpers


def denormalise(x: Tensor, prep: Preprocess) -> np.ndarray:
    """The network's input tensor (1xCxHxW) back to an HxWx3 picture: what it sees."""
    mean = torch.tensor(prep.mean).view(-1, 1, 1)
    std = torch.tensor(prep.std).view(-1, 1, 1)
    img = (x[0].detach() * std + mean).clamp(0, 1)
    return _to_uint8(img.expand(3, -1, -1) if img.shape[0] == 1 else img)


def outline(image: np.ndarray, box: tuple[int, int, int, int], width: int = 2,
            colour: tuple[int, int, int] = (255, 40, 40)) -> np.ndarray:
    """A copy of ``image`` with ``box`` (top, left, bottom, right) drawn as a frame."""
    top, left, bottom, right = box
    out = image.copy()
    for band in (slice(top, min(top + width, bottom)), slice(max(bottom - width, top), bottom)):
        out[band, left:right] = colour
    for band in (slice(left, min(left + width, right)), slice(max(right - width, left), right)):
        out[top:bottom, band] = colour
    return out


def crop(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    top, left, bottom, right = box
    return image[top:bottom, left:right]


def enlarge(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling, so an 11x11 filter stays crisp on a projector."""
    return image.repeat(factor, axis=0).repeat(factor, axis=1) if factor > 1 else image
