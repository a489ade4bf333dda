"""Training data as uint8 tensors on the training device, augmented a whole batch at a time.

A tutorial's loop (``ImageFolder`` + ``DataLoader`` + per-sample ``transforms``) decodes and
augments every image in Python on the CPU, every epoch, and copies each batch to the GPU. For a
32x32 data set that loop, not the network, is what a GPU waits for. CIFAR-10 is 184 MB as
uint8, which fits on any GPU, so here:

- **The whole set is decoded once**, into ``N x 3 x H x W`` uint8 tensors plus int64 labels,
  and kept on the training device. JPEGs and PNGs are decoded by torchvision's C++ decoders
  (``torchvision.io.decode_image``), which release the GIL, so a thread pool scales with the
  cores; formats they do not read (BMP, TIFF...) go through :func:`cnnlib.images.load_image`.
  The result is cached in a ``.cnnlib-cache-<hash>.pt`` file beside the data (or under
  :func:`data_root` when the folder is read-only), keyed by the file list and the image size,
  so the next load reads one file (0.4 s for CIFAR-10 on 2 cores, against 4 s decoding).
  Names are cheap to list and contents are not, so an image edited in place under the same
  name keeps its cached pixels: delete the cache file then. A file that does not decode is
  skipped and counted (:attr:`Dataset.skipped`), never fatal.
- **A batch is an index tensor** (:func:`batches`) and **augmentation is a few tensor ops on
  the whole batch** (:meth:`Dataset.augment`): the paper's random 32x32 crop of the image
  zero-padded by 4 pixels and a random horizontal flip (He et al. 2016, sec. 4.2), drawn per
  sample but applied with one gather, with no Python loop over samples.

Data specs (:func:`load_dataset`):

- ``"cifar10"``: torchvision downloads CIFAR-10 into ``$CNNLIB_DATA/cifar10`` (default
  ``~/.cache/cnnlib/cifar10``).
- a folder with ``train/`` and ``test/``, each with one sub-folder of images per class;
- a folder of class sub-folders alone: a fixed, seeded, stratified sixth of each class is held
  out as the test split (CIFAR-10's own 10,000 of 60,000);
- a folder holding CIFAR-10's python batch files (``data_batch_1`` ... ``data_batch_5``,
  ``test_batch``, ``batches.meta``), or the ``cifar-10-batches-py`` folder around them.
  These are pickles, but they are read with a restricted unpickler (:class:`_BatchUnpickler`)
  that builds numpy arrays, lists, dicts, str, bytes and numbers and refuses everything else,
  so a crafted batch file cannot run code.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import stat
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
import torchvision.transforms.v2.functional as TF
from torch import Tensor
from torchvision.io import ImageReadMode, decode_image

from cnnlib.errors import CnnlibError, ImageError
from cnnlib.files import write_atomic
from cnnlib.images import MAX_BYTES, check_pixels, load_image
from cnnlib.paths import CIFAR10_SPEC

PAD = 4  # pixels of zero padding before the random crop, as in the paper
TEST_FRACTION = 1 / 6  # held out of a folder without train/ and test/: CIFAR-10's 10k of 60k
SPLIT_SEED = 0  # fixed, so a folder always splits the same way whatever the training seed
SUBSET_SEED = 0  # likewise for the images that --limit-train keeps
CACHE_VERSION = 1  # bump when the cache file's content changes
_CIFAR_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
_CIFAR_FILES = [*_CIFAR_TRAIN, "test_batch", "batches.meta"]
_CHUNK = 512  # files per thread-pool task: big enough to hide the pool's overhead

# torchvision 0.29 deprecates its decoders in favour of TorchCodec (not a dependency of this
# project) and warns on every call: 60,000 warnings for one CIFAR-10. Silenced for that one
# message from that one module.
warnings.filterwarnings("ignore", message="The image decoding and encoding capabilities of "
                        "TorchVision are deprecated", category=DeprecationWarning,
                        module=r"torchvision\.io\.image")


def data_root() -> Path:
    """Where downloads and caches for read-only data folders go: $CNNLIB_DATA or
    ~/.cache/cnnlib."""
    return Path(os.environ.get("CNNLIB_DATA") or Path.home() / ".cache" / "cnnlib")


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` is CUDA when torch sees a GPU, else the CPU; a missing GPU is a user error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise CnnlibError(f"Unknown device '{device}'; use auto, cpu or cuda.") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise CnnlibError("CUDA was asked for, but torch sees no GPU here; use --device cpu "
                          "or auto.")
    return resolved


@dataclass
class Dataset:
    """A train and a test split as uint8 image tensors and int64 labels, on one device."""

    train_x: Tensor  # N x 3 x H x W uint8
    train_y: Tensor  # N int64
    test_x: Tensor
    test_y: Tensor
    classes: list[str]
    mean: tuple[float, ...]  # per channel, of the train split's pixels scaled to [0, 1]
    std: tuple[float, ...]
    source: str  # where the images came from, for config.json and the screen
    name: str  # short, for a checkpoint's label: "cifar10" or the folder's name
    skipped: int = 0  # files that did not decode
    # (scale, shift) per device: x * scale + shift == (x / 255 - mean) / std, one fused pass
    _affine: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_splits(cls, train_x: Tensor, train_y: Tensor, test_x: Tensor, test_y: Tensor,
                    classes: list[str], source: str, name: str, skipped: int = 0) -> Dataset:
        """A Dataset whose normalisation statistics are the train split's own."""
        if len(train_y) == 0 or len(test_y) == 0:
            raise CnnlibError(f"{source} has {len(train_y)} training and {len(test_y)} test "
                              "images; training needs both.")
        mean, std = channel_stats(train_x)
        return cls(train_x, train_y, test_x, test_y, list(classes), mean, std, source, name,
                   skipped)

    @property
    def warning(self) -> str | None:
        """One sentence about skipped files, or None."""
        if not self.skipped:
            return None
        return (f"{self.skipped} file{'s' if self.skipped != 1 else ''} in {self.source} "
                "could not be decoded as images and were skipped.")

    @property
    def device(self) -> torch.device:
        return self.train_x.device

    def to(self, device: str | torch.device) -> Dataset:
        """The same data on ``device`` (the tensors are not copied if already there)."""
        return replace(self, **{key: getattr(self, key).to(device)
                                for key in ("train_x", "train_y", "test_x", "test_y")})

    def with_train_limit(self, limit: int | None) -> Dataset:
        """At most ``limit`` training images, a fixed random subset (the test split is kept
        whole, so errors stay comparable); the statistics are the subset's."""
        if limit is None or limit >= len(self.train_y):
            return self
        if limit < 1:
            raise CnnlibError(f"--limit-train must be at least 1, not {limit}.")
        keep = torch.randperm(len(self.train_y), generator=torch.Generator().manual_seed(
            SUBSET_SEED))[:limit].sort().values.to(self.device)
        return Dataset.from_splits(self.train_x[keep], self.train_y[keep], self.test_x,
                                   self.test_y, self.classes,
                                   f"{self.source}, {limit:,} training images", self.name,
                                   self.skipped)

    def prepare(self, batch: Tensor) -> Tensor:
        """uint8 images -> float32, normalised by the train split's mean and std (evaluation)."""
        if batch.device not in self._affine:
            std = torch.tensor(self.std, device=batch.device).view(1, -1, 1, 1)
            mean = torch.tensor(self.mean, device=batch.device).view(1, -1, 1, 1)
            self._affine[batch.device] = (1 / (255 * std), -mean / std)
        scale, shift = self._affine[batch.device]
        return torch.addcmul(shift, batch.float(), scale)

    def augment(self, batch: Tensor, generator: torch.Generator) -> Tensor:
        """A random crop of each zero-padded image and a random horizontal flip, normalised.

        Offsets and flips are drawn per sample from ``generator`` (which must live on the
        batch's device), and one advanced-indexing gather takes every crop at once; a flipped
        crop just reads its columns right to left. Padding is black before normalisation, as
        ``RandomCrop(32, padding=4)`` on a PIL image pads.
        """
        n, channels, height, width = batch.shape
        device = batch.device
        padded = F.pad(batch, (PAD, PAD, PAD, PAD))
        dy = torch.randint(0, 2 * PAD + 1, (n, 1), generator=generator, device=device)
        dx = torch.randint(0, 2 * PAD + 1, (n, 1), generator=generator, device=device)
        flip = torch.rand((n, 1), generator=generator, device=device) < 0.5
        rows = dy + torch.arange(height, device=device)
        cols = dx + torch.arange(width, device=device)
        cols = torch.where(flip, cols.flip(1), cols)
        crops = padded[torch.arange(n, device=device).view(n, 1, 1, 1),
                       torch.arange(channels, device=device).view(1, channels, 1, 1),
                       rows.view(n, 1, height, 1), cols.view(n, 1, 1, width)]
        return self.prepare(crops)


def batches(dataset: Dataset, batch_size: int, generator: torch.Generator) -> Iterator[Tensor]:
    """One training epoch: index tensors of a fresh random permutation, without the last
    partial batch (so every step has the same shape, which compiled models and cuDNN's
    autotuner like, and every batch's BatchNorm statistics are over ``batch_size`` images)."""
    n = len(dataset.train_y)
    order = torch.randperm(n, generator=generator, device=generator.device)
    for start in range(0, n - batch_size + 1, batch_size):
        yield order[start:start + batch_size]


def channel_stats(x: Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and (population) std of uint8 images scaled to [0, 1].

    In chunks, so 50,000 images never exist as float32 all at once (600 MB); each chunk's sums
    are exact in float32 up to rounding and are accumulated in float64.
    """
    total = torch.zeros(x.shape[1], dtype=torch.float64, device=x.device)
    squares = torch.zeros_like(total)
    for chunk in x.split(2048):
        values = chunk.transpose(0, 1).reshape(x.shape[1], -1).float()
        total += values.sum(1).double()
        squares += values.square().sum(1).double()
    count = x.numel() / x.shape[1]
    mean = total / count
    std = (squares / count - mean.square()).clamp_min(0).sqrt()
    return tuple((mean / 255).tolist()), tuple((std / 255).tolist())


class _Decoded(NamedTuple):
    x: Tensor  # N x 3 x size x size uint8, train and test together
    y: Tensor
    test: Tensor  # bool: which images are the test split
    classes: list[str]
    skipped: int


def load_dataset(spec: str, *, root: Path | None = None, limit_train: int | None = None,
                 device: str | torch.device = "cpu", size: int = 32) -> Dataset:
    """The data set ``spec`` ("cifar10" or a folder, see the module docstring) on ``device``.

    ``root`` is where CIFAR-10 is downloaded and where decode caches go when the data folder
    is read-only (default :func:`data_root`). ``size`` is the side images are resized to when
    they are not already ``size`` x ``size``.
    """
    root = Path(root) if root is not None else data_root()
    if not spec.strip():  # Path("") is the current folder: never train on it by accident
        raise CnnlibError(f"Name the training data: {CIFAR10_SPEC} or a folder of class "
                          "sub-folders.")
    if spec == CIFAR10_SPEC:
        folder = _download_cifar10(root / "cifar10")
        decoded, source, name = _read_cifar_batches(folder, size), f"CIFAR-10 ({folder})", spec
    else:
        path = Path(spec).expanduser()
        if not path.is_dir():
            raise CnnlibError(f"There is no data folder at {path}; --data takes cifar10 or a "
                              "folder of class sub-folders.")
        batch_folder = next((f for f in (path, path / torchvision.datasets.CIFAR10.base_folder)
                             if all((f / n).is_file() for n in _CIFAR_FILES)), None)
        name = path.resolve().name
        if batch_folder is not None:
            decoded = _read_cifar_batches(batch_folder, size)
            source = f"{batch_folder} (CIFAR-10 python batches)"
        else:
            decoded, source = _load_folder(path, size, root / "cache")
    dataset = Dataset.from_splits(decoded.x[~decoded.test], decoded.y[~decoded.test],
                                  decoded.x[decoded.test], decoded.y[decoded.test],
                                  decoded.classes, source, name, decoded.skipped)
    return dataset.with_train_limit(limit_train).to(resolve_device(device))


def _download_cifar10(root: Path) -> Path:
    """torchvision's CIFAR-10 download (skipped when the checked files are there already)."""
    try:
        torchvision.datasets.CIFAR10(str(root), train=True, download=True)
    except (OSError, RuntimeError) as err:  # URLError is an OSError; a bad checksum a Runtime
        raise CnnlibError(f"CIFAR-10 could not be downloaded into {root} ({err}); --data "
                          "PATH takes a folder of class sub-folders instead.") from err
    return root / torchvision.datasets.CIFAR10.base_folder


class _BatchUnpickler(pickle.Unpickler):
    """An unpickler for CIFAR-10's batch files only: the one thing a pickle may name is what
    a numpy array needs to rebuild itself (the real files name ``numpy.core.multiarray``,
    numpy 2 writes ``numpy._core.multiarray``). Any other global (``os.system``,
    ``builtins.eval``...) is refused, so a crafted ``data_batch_1`` cannot run code; the
    rest of a pickle (dicts, lists, str, bytes, ints) needs no global at all."""

    ALLOWED = frozenset({("numpy.core.multiarray", "_reconstruct"),
                         ("numpy._core.multiarray", "_reconstruct"),
                         ("numpy", "ndarray"), ("numpy", "dtype")})

    def find_class(self, module: str, name: str) -> type:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(
                f"it asks for {module}.{name}, which a CIFAR-10 batch never holds; refused, "
                "since unpickling it could run code")
        return super().find_class(module, name)


def _read_cifar_batches(folder: Path, size: int) -> _Decoded:
    """CIFAR-10's pickled batches, decoded as torchvision decodes them (latin-1, so the
    original Python 2 files load) but with :class:`_BatchUnpickler`, accepting bytes keys as
    well as str ones."""
    def unpickle(name: str) -> dict:
        try:
            with open(folder / name, "rb") as f:
                entry = _BatchUnpickler(f, encoding="latin1").load()
            entry = {k.decode() if isinstance(k, bytes) else k: v for k, v in entry.items()}
        except Exception as err:  # unpickling raises anything from EOFError to ImportError
            raise CnnlibError(f"{folder / name} is not a CIFAR-10 batch file ({err}).") from err
        if any(isinstance(v, np.ndarray) and v.dtype.hasobject for v in entry.values()):
            raise CnnlibError(f"{folder / name} is not a CIFAR-10 batch file (it holds an "
                              "array of Python objects, not of numbers).")
        return entry

    parts = {name: unpickle(name) for name in [*_CIFAR_TRAIN, "test_batch"]}
    try:
        x = torch.from_numpy(np.concatenate([np.asarray(p["data"], dtype=np.uint8)
                                             for p in parts.values()]).reshape(-1, 3, 32, 32))
        y = torch.tensor([label for p in parts.values() for label in p["labels"]])
        classes = [n.decode() if isinstance(n, bytes) else str(n)
                   for n in unpickle("batches.meta")["label_names"]]
    except (KeyError, ValueError) as err:
        raise CnnlibError(f"{folder} holds CIFAR-10 batch files without the usual data, "
                          f"labels or label_names ({err}).") from err
    test = torch.zeros(len(y), dtype=torch.bool)
    test[-len(parts["test_batch"]["labels"]):] = True
    if size != 32:
        x = TF.resize(x, [size, size], antialias=True)
    return _Decoded(x, y, test, classes, 0)


def _load_folder(path: Path, size: int, cache_dir: Path) -> tuple[_Decoded, str]:
    """A folder of class sub-folders (with or without train/ and test/), from its decode
    cache when the file list and size match, else decoded and cached."""
    presplit = (path / "train").is_dir() and (path / "test").is_dir()
    classes, files = _scan(path, presplit)
    source = (f"{path} (train/ and test/ class folders)" if presplit else
              f"{path} (class folders, a seeded sixth of each held out as test)")
    key = hashlib.sha256(json.dumps([CACHE_VERSION, size, presplit, files]).encode())
    name = f".cnnlib-cache-{key.hexdigest()[:16]}.pt"
    for folder in (path, cache_dir):
        if (folder / name).is_file():
            try:
                cached = torch.load(folder / name, weights_only=True)
                return _Decoded(**cached), source
            except Exception:  # a damaged cache file is rebuilt, like a missing one
                pass
    images, ok = _decode_all([os.path.join(path, rel) for rel, _, _ in files], size)
    labels = torch.tensor([label for _, label, _ in files], dtype=torch.int64)[ok]
    if presplit:
        test = torch.tensor([is_test for _, _, is_test in files], dtype=torch.bool)[ok]
    else:
        test = _stratified_test(labels, len(classes))
    decoded = _Decoded(images[ok], labels, test, classes, int((~ok).sum()))
    if len(decoded.y) == 0:
        raise CnnlibError(f"None of the {len(files)} files in {path} could be decoded as an "
                          "image.")
    for folder in (path, cache_dir):  # next to the data; the cache folder if that is read-only
        try:
            write_atomic(folder / name, lambda tmp: torch.save(decoded._asdict(), tmp))
            break
        except OSError:
            continue
    return decoded, source


def _scan(path: Path, presplit: bool) -> tuple[list[str], list[tuple[str, int, bool]]]:
    """Class names and every file as (path relative to ``path``, label, is test), sorted, so
    the list is the same on every machine and can key the cache. Hidden files are ignored.
    Plain strings, not Paths: pathlib costs a second on CIFAR-10's 60,000 names, twice the
    rest of a cached load."""
    top = path / "train" if presplit else path
    classes = sorted(d.name for d in top.iterdir() if d.is_dir() and not d.name.startswith("."))
    if len(classes) < 2:
        raise CnnlibError(f"{top} has {len(classes)} class sub-folder(s); --data takes a folder "
                          "with one sub-folder of images per class (two or more), optionally "
                          "inside train/ and test/, or CIFAR-10's python batch files.")
    splits = [("train", False), ("test", True)] if presplit else [("", False)]
    files = []
    for split, is_test in splits:
        for label, cls in enumerate(classes):
            for folder, dirs, names in os.walk(os.path.join(path, split, cls)):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))  # walked in order
                rel = os.path.relpath(folder, path)
                files += [(f"{rel}/{n}", label, is_test) for n in sorted(names)
                          if not n.startswith(".")]
    if presplit:
        extra = sorted({d.name for d in (path / "test").iterdir()
                        if d.is_dir() and not d.name.startswith(".")} - set(classes))
        if extra:
            raise CnnlibError(f"{path / 'test'} has class folders that train/ lacks: "
                              f"{', '.join(extra)}.")
    if not files:
        raise CnnlibError(f"The class folders in {top} hold no files.")
    return classes, files


def _decode_all(files: list[str], size: int) -> tuple[Tensor, Tensor]:
    """Every file decoded into one preallocated tensor by a thread pool; and which decoded."""
    images = torch.zeros(len(files), 3, size, size, dtype=torch.uint8)
    ok = torch.zeros(len(files), dtype=torch.bool)

    def work(start: int) -> None:
        for i in range(start, min(start + _CHUNK, len(files))):
            image = _decode_file(files[i], size)
            if image is not None:
                images[i] = image
                ok[i] = True

    with ThreadPoolExecutor(max_workers=min(32, os.cpu_count() or 1)) as pool:
        list(pool.map(work, range(0, len(files), _CHUNK)))
    return images, ok


def _decode_file(file: str, size: int) -> Tensor | None:
    """One image as 3 x size x size uint8, or None when it is not a readable image: a file
    that is not a regular one (a FIFO would block the read forever, a device never end),
    over :data:`~cnnlib.images.MAX_BYTES`, or over :data:`~cnnlib.images.MAX_PIXELS` by its
    header (checked before anything is decoded) is skipped like a corrupt one."""
    try:
        if not stat.S_ISREG(os.stat(file).st_mode):
            return None
        with open(file, "rb") as f:
            data = f.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            return None
        check_pixels(data)
        image = decode_image(torch.frombuffer(bytearray(data), dtype=torch.uint8),
                             mode=ImageReadMode.RGB)
    except (OSError, ImageError):
        return None
    except (RuntimeError, ValueError):  # a format torchvision lacks, an empty or broken file
        image = None
    if image is None or image.dtype != torch.uint8:  # 16-bit PNGs: PIL scales them properly
        try:
            image = TF.pil_to_tensor(load_image(data).image)
        except ImageError:
            return None
    if image.shape[-2:] != (size, size):
        image = TF.resize(image, [size, size], antialias=True)
    return image


def _stratified_test(labels: Tensor, num_classes: int) -> Tensor:
    """A fixed, seeded choice of round(1/6) of each class's images as the test split."""
    generator = torch.Generator().manual_seed(SPLIT_SEED)
    test = torch.zeros(len(labels), dtype=torch.bool)
    for label in range(num_classes):
        members = (labels == label).nonzero().flatten()
        count = math.floor(len(members) * TEST_FRACTION + 0.5)
        test[members[torch.randperm(len(members), generator=generator)[:count]]] = True
    return test

