"""Where a model's weights come from: torchvision's ImageNet weights, our checkpoints, or seeds.

Every model the dashboard shows is loaded here and comes with a one-line label saying which
weights it holds, so a picture of filters or feature maps is never mistaken for a trained
net's when it is random initialisation. Three sources:

- ``"pretrained"``: torchvision's ImageNet weights, only for zoo models that are exactly a
  torchvision architecture (their registry entry names it). The file is downloaded into the
  very place torchvision caches it, so either one reuses the other's download. Being offline
  is normal for this tool (a classroom, a train), so a failed download never raises: the
  model comes back with random weights, labelled as such, and a ``warning`` that says why.
- ``"checkpoint"``: a file our training code writes with :func:`save_checkpoint`; the format
  is defined here so that writing and reading it cannot drift apart.
- ``"random"``: the builder's own initialisation under a fixed seed, so the same model looks
  the same on every rerun of a page, without touching the caller's random state.

Nothing is downloaded at import time.

Shared by every session of the dashboard, so by many threads: a weights file is downloaded
or read by one thread at a time (two students asking for VGG-19 at once download it once),
seeded random weights are built under one lock (torch's generator is process-wide, and two
seeded builds at once would interleave its numbers), and :class:`ModelCache` keeps loaded
models within a byte budget that fits a small host.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import threading
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import torchvision
from torch import nn

from cnnlib.concurrency import KeyedLocks
from cnnlib.errors import UnknownModelError, WeightsError
from cnnlib.files import write_atomic
from cnnlib.meta import MetaBuild
from cnnlib.models import registry
from cnnlib.models.registry import ModelInfo

Source = Literal["pretrained", "checkpoint", "random"]

CHECKPOINT_FORMAT = "cnnlib-checkpoint-1"
RANDOM_LABEL = "random initialisation (untrained)"
RANDOM_SEED = 0

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)

_CHUNK_BYTES = 1 << 20  # progress granularity: ~45 updates for ResNet-18, ~530 for VGG-16
_TIMEOUT_S = 30  # per connect/read; a stalled network ends in a warning, not a hung page
# torch.hub's convention: a weights file is named "<name>-<first hex digits of its SHA-256>.pth".
_HASH_IN_NAME = re.compile(r"-([0-9a-f]+)\.")
# torchvision's DenseNet files predate its module names: "...denselayer1.norm.1.weight" is now
# "...denselayer1.norm1.weight" (torchvision.models.densenet._load_state_dict renames the same).
_OLD_DENSENET_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.([12]\.(?:weight|bias|running_mean|running_var))$")
# Values a checkpoint's options and meta may hold: what torch.load(weights_only=True) reads back.
_PLAIN_TYPES = (str, int, float, bool, type(None))
#: Held while building seeded random weights: the seed and every draw after it are torch's
#: process-wide generator's, so two builds at once would each get a mix of the other's numbers.
_RNG_LOCK = threading.Lock()
#: Whoever checks, downloads or reads a weights file holds its key here.
_FILES = KeyedLocks()


@dataclass(frozen=True)
class Preprocess:
    """How an image must be prepared for the weights: what they were trained on.

    Single-channel models (LeNet-5) have 1-tuples for ``mean`` and ``std``.
    """

    resize: int | None  # shorter side resized to this (None: resize straight to crop size)
    crop: int  # centre crop side
    mean: tuple[float, ...]
    std: tuple[float, ...]


@dataclass
class LoadedWeights:
    """A model ready to run, and what the screen should say about its weights."""

    model: nn.Module  # in eval mode, on CPU
    name: str  # zoo name
    source: Source  # where the weights really came from ("random" after a failed download)
    label: str  # one line for the screen
    categories: list[str] | None  # class names if known, else None
    preprocess: Preprocess
    warning: str | None = None  # set when the requested weights could not be had


class _UnavailableError(Exception):
    """A download or cached file that failed; its message is the reason shown in the warning."""


def pretrained_available(name: str) -> bool:
    """Whether torchvision has ImageNet weights for ``name`` (an unknown name raises)."""
    return registry.get(name).torchvision is not None


def sources(name: str) -> list[Source]:
    """The sources the UI can offer for ``name``, in the order of ``Source``.

    A checkpoint can exist for any model (whether one does is :func:`list_checkpoints`' job).
    """
    offered: list[Source] = ["checkpoint", "random"]
    return ["pretrained", *offered] if pretrained_available(name) else offered


def default_preprocess(name: str) -> Preprocess:
    """The preprocessing for random or checkpoint weights of ``name``, from its input size.

    ImageNet models get ImageNet's statistics (224-pixel ones the usual resize 256 + crop 224,
    others a plain resize to their input), CIFAR nets CIFAR-10's, LeNet-5 a grey (0.5, 0.5).
    """
    channels, side, _ = registry.get(name).input_size
    if channels == 1:
        return Preprocess(None, side, (0.5,), (0.5,))
    if side == 32:
        return Preprocess(None, side, CIFAR10_MEAN, CIFAR10_STD)
    return Preprocess(256 if side == 224 else None, side, IMAGENET_MEAN, IMAGENET_STD)


def imagenet_weights(name: str) -> torchvision.models.WeightsEnum:
    """The torchvision weights that stand for zoo model ``name``: IMAGENET1K_V1 where there is one.

    torchvision re-trained some nets with a 2021 recipe (IMAGENET1K_V2: ResNet-50 80.9% top-1
    against 76.1%); the V1 weights were trained the classic way (SGD, step decay, light
    augmentation), so they are what belongs beside the paper-era nets, on the Visualize page
    and in the Compare page's accuracies alike.
    """
    info = registry.get(name)
    if info.torchvision is None:
        raise WeightsError(f"{name} has no pretrained weights.")
    entries = torchvision.models.get_model_weights(info.torchvision)
    return entries["IMAGENET1K_V1"] if "IMAGENET1K_V1" in entries.__members__ else entries.DEFAULT


def pretrained_path(name: str) -> Path:
    """Where ``name``'s ImageNet weights are cached (torchvision's own cache file)."""
    url = imagenet_weights(name).url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def download(name: str, progress: Callable[[int, int], None] | None = None) -> str | None:
    """Put ``name``'s ImageNet weights into the cache unless they are there already.

    Returns None when the file is there, else the reason it could not be fetched. Apart from
    :func:`load` so that an app can show a progress bar for it outside any result cache.
    """
    path = pretrained_path(name)
    with _FILES.hold(path):  # a second session waits for the first one's download
        if path.exists():
            return None
        try:
            _download(imagenet_weights(name).url, path, progress)
        except _UnavailableError as reason:
            return f"Could not download the ImageNet weights for {name} ({reason})."
    return None


def load(name: str, source: Source = "pretrained", *, checkpoint: Path | None = None,
         progress: Callable[[int, int], None] | None = None,
         options: dict | None = None, download: bool = True) -> LoadedWeights:
    """Model ``name`` with weights from ``source``, in eval mode on the CPU.

    ``checkpoint`` is the file for source "checkpoint" (ignored otherwise). ``progress`` is
    called as ``progress(done_bytes, total_bytes)`` while ImageNet weights download
    (``total_bytes`` is 0 if the server does not say). ``download=False`` never touches the
    network: pretrained weights not yet cached fall back to random ones, with a warning.
    ``options`` are builder options and apply only to "random": pretrained weights fit the
    default architecture only, and a checkpoint carries its own options.
    """
    info = registry.get(name)
    if options and source != "random":
        raise WeightsError(f"Builder options apply only to random initialisation: pretrained "
                           f"weights fit the default {name} only, and a checkpoint carries its "
                           "own options.")
    if source == "pretrained":
        return _load_pretrained(info, progress, download)
    if source == "checkpoint":
        if checkpoint is None:
            raise WeightsError(f"Choose a checkpoint file to load {name}'s weights from.")
        return _load_checkpoint(Path(checkpoint), expect=name)
    if source == "random":
        return _load_random(name, options or {})
    raise WeightsError(f"Unknown weights source '{source}'; choose pretrained, checkpoint or "
                       "random.")


def save_checkpoint(path: Path, *, model_name: str, model: nn.Module,
                    options: dict | None = None, meta: dict | None = None) -> None:
    """Write ``model``'s weights as a cnnlib checkpoint that :func:`load_checkpoint` reads.

    ``meta`` is free-form, e.g. ``{"epoch": 30, "test_error": 0.089, "dataset": "cifar10",
    "classes": [...]}`` (the label shows dataset, epoch and test error; "classes" become the
    categories). The weights are checked against ``registry.build(model_name, **options)``
    and the options and meta must be plain Python values, so that a file that saves also
    loads (with ``weights_only=True``). The file appears atomically: a killed save leaves the
    previous one intact.
    """
    options, meta = options or {}, meta or {}
    _check_plain(options, "options")
    _check_plain(meta, "meta")
    state_dict = model.state_dict()
    _check_fit(_meta_build(model_name, options), state_dict, "The model given to save",
               f"{model_name} with options {options}" if options else model_name)
    write_atomic(Path(path), lambda tmp: torch.save(
        {"format": CHECKPOINT_FORMAT, "model": model_name, "options": options,
         "state_dict": state_dict, "meta": meta}, tmp))


def load_checkpoint(path: Path) -> LoadedWeights:
    """The model a cnnlib checkpoint holds; a file that is not one raises ``WeightsError``."""
    return _load_checkpoint(Path(path), expect=None)


def list_checkpoints(*folders: Path) -> list[Path]:
    """Every ``<run>/checkpoints/*.pt`` in the given folders of runs, newest first.

    The training code keeps ``runs/<id>/checkpoints/{best,final}.pt`` (recorded runs under
    ``assets/runs``); a folder that does not exist has no checkpoints.
    """
    found = {path for folder in folders for path in Path(folder).glob("*/checkpoints/*.pt")}
    return sorted(found, key=lambda path: (path.stat().st_mtime, str(path)), reverse=True)


def _load_random(name: str, options: dict, warning: str | None = None) -> LoadedWeights:
    """The builder's own init under a fixed seed, leaving the caller's RNG state as it was."""
    with _RNG_LOCK, torch.random.fork_rng():
        torch.manual_seed(RANDOM_SEED)
        model = registry.build(name, **options)
    return LoadedWeights(model.eval(), name, "random", RANDOM_LABEL, None,
                         default_preprocess(name), warning)


def _load_pretrained(info: ModelInfo, progress: Callable[[int, int], None] | None,
                     download: bool = True) -> LoadedWeights:
    if info.torchvision is None:
        have = ", ".join(m.name for m in registry.REGISTRY.values() if m.torchvision)
        raise WeightsError(f"{info.name} has no pretrained weights (torchvision has ImageNet "
                           f"weights only for {have}); use random initialisation or a "
                           "checkpoint.")
    weights = imagenet_weights(info.name)
    path = pretrained_path(info.name)
    categories = list(weights.meta["categories"])  # the class names hold without the weights
    try:
        if not download and not path.exists():
            raise _UnavailableError("not downloaded yet")
        state_dict = _fetch(weights.url, path, progress)
    except _UnavailableError as reason:
        fallback = _load_random(info.name, {}, (
            f"Could not download the ImageNet weights for {info.name} ({reason}). Showing "
            f"random initialisation instead; they are cached in {path.parent} once "
            "downloaded."))
        fallback.categories = categories
        return fallback
    model = _meta_build(info.name, {})
    own = model.state_dict()
    # torchvision's GoogLeNet file has the training-only auxiliary classifiers, which
    # googlenet_tv leaves out (torchvision itself drops them after loading); DenseNet's file
    # has the old key names.
    state_dict = {_OLD_DENSENET_KEY.sub(r"\1\2", key): value for key, value in state_dict.items()
                  if key in own or not key.startswith("aux")}
    # Files saved before PyTorch 0.4.1 (DenseNet's) have no BatchNorm step counters; torch's
    # own loader counts them as 0 then, and so does this.
    for key in own:
        if key.endswith(".num_batches_tracked"):
            state_dict.setdefault(key, torch.tensor(0))
    _check_fit(model, state_dict, f"The ImageNet weights file {path}", info.name)
    model.load_state_dict(state_dict, assign=True)
    acc1 = weights.meta["_metrics"]["ImageNet-1K"]["acc@1"]
    return LoadedWeights(
        model.eval(), info.name, "pretrained",
        f"ImageNet-pretrained weights (torchvision {weights!r}; top-1 {acc1:.2f}%)",
        categories, _pretrained_preprocess(info, weights))


def _pretrained_preprocess(info: ModelInfo, weights: Any) -> Preprocess:
    """The preprocessing of torchvision's weights (``weights.transforms()``).

    torchvision runs its pretrained GoogLeNet with ``transform_input=True``, which turns an
    ImageNet-normalised image into ``(x - 0.5) / 0.5``, the normalisation its weights (ported
    from TensorFlow) expect. googlenet_tv is built with ``transform_input=False`` so that
    its graph is the plain architecture, so the image is normalised that way directly.
    """
    transforms = weights.transforms()
    mean, std = tuple(transforms.mean), tuple(transforms.std)
    if info.torchvision == "googlenet":
        mean = std = (0.5, 0.5, 0.5)
    return Preprocess(transforms.resize_size[0], transforms.crop_size[0], mean, std)


def _fetch(url: str, path: Path, progress: Callable[[int, int], None] | None) -> dict:
    """The state dict at ``url``, from the cache file ``path`` or downloaded into it.

    A cached file that cannot be read is deleted and downloaded again at once.
    """
    with _FILES.hold(path):  # nobody deletes a corrupt file while another thread reads it
        corrupt = ""
        if path.exists():
            try:
                return _read_weights(path)
            except _UnavailableError as reason:
                corrupt = f"{reason}; then "
        try:
            _download(url, path, progress)
        except _UnavailableError as reason:
            raise _UnavailableError(f"{corrupt}{reason}") from reason
        return _read_weights(path)


def _read_weights(path: Path) -> dict:
    """torch.load ``path``; a file that is not a state dict is deleted so it is fetched anew."""
    try:
        state_dict = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated zip, random bytes, an unpicklable object...
        path.unlink(missing_ok=True)
        raise _UnavailableError(f"the cached file {path.name} was corrupt "
                                f"({_first_line(err)}) and has been deleted") from err
    if not isinstance(state_dict, dict):
        path.unlink(missing_ok=True)
        raise _UnavailableError(f"the cached file {path.name} held no state dict and has "
                                "been deleted")
    return state_dict


def _download(url: str, path: Path, progress: Callable[[int, int], None] | None) -> None:
    """Stream ``url`` into ``path`` through :func:`write_atomic`, so ``path`` is whole or absent.

    The length and, where the file name carries one, the SHA-256 prefix are checked before the
    file takes its final name. Network and disk failures become ``_UnavailableError``.
    """
    named = _HASH_IN_NAME.search(path.name)
    try:
        write_atomic(path, lambda tmp: _stream(url, tmp, named and named.group(1), progress))
    except OSError as err:  # the cache folder itself: not creatable, read-only, full
        raise _UnavailableError(f"cannot write to {path.parent}: {err}") from err


def _stream(url: str, tmp: Path, expected_hash: str | None,
            progress: Callable[[int, int], None] | None) -> None:
    """``url``'s bytes into ``tmp``, checked against the length the server sent and the
    SHA-256 prefix ``expected_hash`` (from the file's name); every failure is an
    ``_UnavailableError`` that says what went wrong."""
    digest = hashlib.sha256()
    try:
        with tmp.open("wb") as out, urllib.request.urlopen(url, timeout=_TIMEOUT_S) as rsp:
            total = int(rsp.headers.get("Content-Length") or 0)
            done = 0
            while chunk := rsp.read(_CHUNK_BYTES):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
    except urllib.error.HTTPError as err:
        raise _UnavailableError(f"HTTP {err.code} {err.reason} from {url}") from err
    except urllib.error.URLError as err:
        raise _UnavailableError(f"no network: {err.reason}") from err
    except TimeoutError as err:
        raise _UnavailableError(f"no answer within {_TIMEOUT_S} s") from err
    except (OSError, http.client.HTTPException) as err:  # reset connection, full disk...
        raise _UnavailableError(f"the transfer failed: {_first_line(err)}") from err
    if total and done != total:
        raise _UnavailableError(f"the download stopped after {done:,} of {total:,} bytes")
    if expected_hash and not digest.hexdigest().startswith(expected_hash):
        raise _UnavailableError("the downloaded file was corrupt: its SHA-256 does not "
                                "match the one in its name")


def _load_checkpoint(path: Path, expect: str | None) -> LoadedWeights:
    """Read, check and build a checkpoint; ``expect`` is the model name the caller asked for."""
    data = _read_checkpoint(path)
    name, options, meta = data["model"], data["options"], data["meta"]
    if expect is not None and name != expect:
        raise WeightsError(f"{path} holds weights for {name}, not {expect}.")
    try:
        model = _meta_build(name, options)
    except UnknownModelError as err:
        raise WeightsError(
            f"{path} holds weights for '{name}', which is not in the zoo.") from err
    except (TypeError, ValueError) as err:  # ModelOptionError, or a value a builder rejects
        raise WeightsError(f"{path} was saved with options {options} that {name} does not "
                           f"take: {err}") from err
    _check_fit(model, data["state_dict"], f"The checkpoint {path}", name)
    model.load_state_dict(data["state_dict"], assign=True)
    classes = meta.get("classes")
    categories = list(classes) if isinstance(classes, (list, tuple)) else None
    return LoadedWeights(model.eval(), name, "checkpoint", _checkpoint_label(path, meta),
                         categories, default_preprocess(name))


def _read_checkpoint(path: Path) -> dict:
    """The checkpoint's dict, after checking that it is one; anything else is a WeightsError."""
    if not path.is_file():
        raise WeightsError(f"There is no checkpoint file at {path}.")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # not a torch file, truncated, or holding non-weight objects
        raise WeightsError(f"{path} is not a cnnlib checkpoint: torch cannot read it "
                           f"({_first_line(err)}).") from err
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        bare = isinstance(data, dict) and data and all(
            isinstance(value, torch.Tensor) for value in data.values())
        hint = (" (it is a bare state dict; write checkpoints with "
                "cnnlib.weights.save_checkpoint)" if bare else "")
        raise WeightsError(f"{path} is not a cnnlib checkpoint: it has no "
                           f"'{CHECKPOINT_FORMAT}' format tag{hint}.")
    fields = {"model": str, "options": dict, "state_dict": dict, "meta": dict}
    damaged = [key for key, kind in fields.items() if not isinstance(data.get(key), kind)]
    if damaged:
        raise WeightsError(f"{path} is a damaged cnnlib checkpoint: {', '.join(damaged)} "
                           "missing or of the wrong type.")
    return data


def _checkpoint_label(path: Path, meta: dict) -> str:
    """E.g. "trained weights from 20250101-abc/best.pt (cifar10, epoch 30, test error 8.90%)"."""
    where = f"{path.parent.parent.name}/{path.name}" if path.parent.name == "checkpoints" \
        else path.name
    details = []
    if isinstance(meta.get("dataset"), str):
        details.append(meta["dataset"])
    if isinstance(meta.get("epoch"), int):
        details.append(f"epoch {meta['epoch']}")
    if isinstance(meta.get("test_error"), (int, float)):
        details.append(f"test error {meta['test_error']:.2%}")
    return f"trained weights from {where}" + (f" ({', '.join(details)})" if details else "")


def _meta_build(name: str, options: dict) -> nn.Module:
    """Model ``name`` without memory or init, for ``load_state_dict(..., assign=True)``.

    Every zoo model's state dict holds all its parameters and buffers (a test checks), so
    assigning one leaves nothing on the meta device; it saves the init (2.4 s for VGG-16).
    """
    with MetaBuild():
        return registry.build(name, **options)


def _check_fit(model: nn.Module, state_dict: dict, what: str, name: str) -> None:
    """Raise a one-sentence WeightsError unless ``state_dict`` has exactly the model's tensors."""
    own = model.state_dict()
    missing = [key for key in own if key not in state_dict]
    unexpected = [key for key in state_dict if key not in own]
    wrong = [f"{key} {_shape(state_dict[key])} instead of {tuple(value.shape)}"
             for key, value in own.items()
             if key in state_dict and _shape(state_dict[key]) != tuple(value.shape)]
    problems = [f"{len(keys)} {kind} ({', '.join(keys[:3])}{', ...' if len(keys) > 3 else ''})"
                for kind, keys in (("missing", missing), ("unexpected", unexpected),
                                   ("of the wrong shape", wrong)) if keys]
    if problems:
        raise WeightsError(f"{what} does not fit {name}: tensors {'; '.join(problems)}.")


def _shape(value: Any) -> tuple[int, ...] | str:
    return tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__


def _check_plain(value: Any, where: str) -> None:
    """Raise TypeError for a value torch.load(weights_only=True) would refuse (numpy scalars)."""
    if isinstance(value, dict):
        for key, item in value.items():
            _check_plain(key, f"{where} key {key!r}")
            _check_plain(item, f"{where}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_plain(item, f"{where}[{index}]")
    elif type(value) not in _PLAIN_TYPES and not isinstance(value, torch.Tensor):
        raise TypeError(f"Checkpoint {where} is a {type(value).__module__}."
                        f"{type(value).__qualname__}; store plain Python values (str, int, "
                        "float, bool, None, lists, dicts) or tensors so the file loads with "
                        "weights_only=True.")


def _first_line(err: BaseException) -> str:
    """The first line of an error, at most 120 characters (torch's load errors run long)."""
    text = (str(err).strip().splitlines() or [type(err).__name__])[0]
    return text if len(text) <= 120 else text[:117] + "..."


def model_bytes(model: nn.Module) -> int:
    """The memory of ``model``'s parameters and buffers (VGG-16: 528 MB in fp32)."""
    return sum(t.numel() * t.element_size()
               for t in (*model.parameters(), *model.buffers()) if not t.is_meta)


#: The default byte budget of :class:`ModelCache` (``CNNLIB_WEIGHTS_BUDGET_MB`` overrides it):
#: one VGG-19 (548 MB) fits, two VGG-sized models (2 x 528 MB) do not.
DEFAULT_BUDGET_BYTES = int(os.environ.get("CNNLIB_WEIGHTS_BUDGET_MB", "600")) * 2**20


class ModelCache:
    """Loaded models kept for every session of a server, within a byte budget.

    Why bytes rather than a count: the zoo's weights run from 0.2 MB (LeNet-5) to 548 MB
    (VGG-19), so "three models" is 1.6 GB on a host that guarantees 690 MB. Adding a model
    evicts the largest ones first until the rest fit beside it, so the budget never holds two
    VGG-sized models; a model larger than the whole budget is kept alone. Each key is loaded
    once even when several threads ask at the same moment. A model evicted while a session
    still uses it stays alive until that session lets it go; the cache only stops holding it.
    """

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self.budget_bytes = budget_bytes
        self._models: OrderedDict[Hashable, tuple[LoadedWeights, int]] = OrderedDict()
        self._guard = threading.Lock()
        self._loading = KeyedLocks()

    def get(self, key: Hashable, load: Callable[[], LoadedWeights]) -> LoadedWeights:
        """The model cached under ``key``, else ``load()``'s, cached (a failure is not)."""
        with self._loading.hold(key):
            with self._guard:
                if key in self._models:
                    self._models.move_to_end(key)
                    return self._models[key][0]
            loaded = load()
            size = model_bytes(loaded.model)
            with self._guard:
                while self._models and self._total() + size > self.budget_bytes:
                    largest = max(self._models, key=lambda k: self._models[k][1])
                    del self._models[largest]
                self._models[key] = (loaded, size)
            return loaded

    def total_bytes(self) -> int:
        """The bytes of every model held now."""
        with self._guard:
            return self._total()

    def _total(self) -> int:
        return sum(size for _, size in self._models.values())

    def held(self) -> list[tuple[str, int]]:
        """(model name, bytes) of each model held, least recently used first."""
        with self._guard:
            return [(loaded.name, size) for loaded, size in self._models.values()]

    def clear(self) -> None:
        with self._guard:
            self._models.clear()


#: The server's one cache of loaded models (the Visualize page's).
MODELS = ModelCache()
