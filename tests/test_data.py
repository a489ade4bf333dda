"""The data path on generated files only: class folders written with PIL, CIFAR-10's own batch
format written byte for byte as the real (Python 2) pickles, and augmentation checked against
a brute-force search of every crop and flip."""

from __future__ import annotations

import errno
import io
import os
import pickle
import signal
import struct
import time
import urllib.error
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from cnnlib import data
from cnnlib.data import Dataset, batches, load_dataset
from cnnlib.errors import CnnlibError

# cnnlib.data silences it for itself, but pytest shows every DeprecationWarning again
pytestmark = pytest.mark.filterwarnings(
    "ignore:The image decoding and encoding capabilities of TorchVision:DeprecationWarning")
COLOURS = [(220, 40, 40), (40, 200, 60), (50, 70, 230)]


def write_folder(folder: Path, per_class: int = 12, side: int = 40, fmt: str = "PNG",
                 names: tuple[str, ...] = ("cat", "dog", "emu")) -> None:
    """Solid colours, one per class, each image a little brighter than the last, so every
    image is distinct and its class is plain to see."""
    for colour, name in zip(COLOURS, names, strict=False):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixel = tuple(min(255, c + i) for c in colour)
            Image.new("RGB", (side, side), pixel).save(
                folder / name / f"{i:03d}.{fmt.lower()}", fmt)


def test_folder_with_train_and_test(tmp_path: Path) -> None:
    write_folder(tmp_path / "train", per_class=10)
    write_folder(tmp_path / "test", per_class=2)
    ds = load_dataset(str(tmp_path), root=tmp_path / "root")
    assert ds.classes == ["cat", "dog", "emu"]
    assert ds.train_x.shape == (30, 3, 32, 32) and ds.train_x.dtype == torch.uint8
    assert ds.test_x.shape == (6, 3, 32, 32) and ds.test_y.dtype == torch.int64
    assert ds.train_y.tolist() == [0] * 10 + [1] * 10 + [2] * 10
    assert ds.test_y.tolist() == [0, 0, 1, 1, 2, 2]
    # 40x40 -> 32x32: a solid colour stays exactly that colour
    assert ds.train_x[11].flatten(1).unique(dim=1).T.tolist() == [[41, 201, 61]]
    pixels = ds.train_x.double().div(255).transpose(0, 1).reshape(3, -1)
    assert np.allclose(ds.mean, pixels.mean(1)) and np.allclose(ds.std, pixels.std(1, False))
    assert ds.skipped == 0 and ds.warning is None and "train/ and test/" in ds.source


def test_flat_folder_is_split_stratified_and_always_the_same(tmp_path: Path) -> None:
    write_folder(tmp_path / "flat", per_class=12)
    ds = load_dataset(str(tmp_path / "flat"), root=tmp_path / "root")
    assert torch.bincount(ds.test_y).tolist() == [2, 2, 2]  # a sixth of each class
    assert torch.bincount(ds.train_y).tolist() == [10, 10, 10]
    corners = torch.cat([ds.train_x, ds.test_x])[:, :, 0, 0]
    assert len(corners.unique(dim=0)) == 36  # nothing lost or doubled
    (next(tmp_path.glob("flat/.cnnlib-cache-*.pt"))).unlink()  # decode again: same split
    again = load_dataset(str(tmp_path / "flat"), root=tmp_path / "root")
    assert torch.equal(again.test_x, ds.test_x) and torch.equal(again.train_y, ds.train_y)


class Py2Pickler(pickle._Pickler):
    """Writes bytes as Python 2 ``str`` (BINSTRING), as the real CIFAR-10 files hold their
    keys and label names: loaded with encoding="bytes" they read b"data", b"labels"...,
    with encoding="latin1" (torchvision) "data", "labels"..."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj: bytes) -> None:
        size = len(obj)
        head = (pickle.SHORT_BINSTRING + bytes([size]) if size < 256
                else pickle.BINSTRING + struct.pack("<i", size))
        self.write(head + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def write_cifar_batches(folder: Path, per_batch: int = 6) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
             "test_batch"]
    for name in names:
        entry = {b"batch_label": name.encode(),
                 b"labels": [int(v) for v in rng.integers(0, 10, per_batch)],
                 b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                 b"filenames": [f"{name}_{i}.png".encode() for i in range(per_batch)]}
        with open(folder / name, "wb") as f:
            Py2Pickler(f, protocol=2).dump(entry)
    labels = [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse",
              b"ship", b"truck"]
    with open(folder / "batches.meta", "wb") as f:
        Py2Pickler(f, protocol=2).dump({b"label_names": labels, b"num_cases_per_batch": 6,
                                        b"num_vis": 3072})


def test_cifar_batch_files_read_as_torchvision_reads_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_cifar_batches(tmp_path / "cifar-10-batches-py")
    with open(tmp_path / "cifar-10-batches-py" / "data_batch_1", "rb") as f:
        assert b"data" in pickle.load(f, encoding="bytes")  # the real files' byte keys
    ours = load_dataset(str(tmp_path), root=tmp_path / "root")  # the folder around them
    also = load_dataset(str(tmp_path / "cifar-10-batches-py"), root=tmp_path / "root")
    assert torch.equal(ours.train_x, also.train_x)
    # torchvision's reader checks the real files' MD5s; these are generated
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *a: True)
    for split, (x, y) in ((True, (ours.train_x, ours.train_y)),
                          (False, (ours.test_x, ours.test_y))):
        tv = torchvision.datasets.CIFAR10(str(tmp_path), train=split)
        assert torch.equal(x, torch.from_numpy(tv.data).permute(0, 3, 1, 2))
        assert y.tolist() == tv.targets
        assert ours.classes == tv.classes
    assert len(ours.train_y) == 30 and len(ours.test_y) == 6


class _Exploit:
    """A pickle payload that runs a shell command when unpickled (what a hostile upload of a
    "CIFAR batch" would carry)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("where", ["data_batch_1", "batches.meta"])
def test_a_crafted_cifar_batch_cannot_run_code(tmp_path: Path, where: str) -> None:
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar_batches(folder)
    marker = tmp_path / "pwned"
    with open(folder / where, "wb") as f:
        pickle.dump({b"data": _Exploit(marker), b"labels": [0], b"label_names": [b"a"]}, f)
    with pytest.raises(CnnlibError, match=rf"{where} is not a CIFAR-10 batch file \(it asks "
                       r"for (posix|os)\.system.*refused, since unpickling it could run code"):
        load_dataset(str(folder), root=tmp_path / "root")
    assert not marker.exists()


def test_cifar10_offline_is_one_clear_sentence(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(self: object) -> None:
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torchvision.datasets.CIFAR10, "download", offline)
    with pytest.raises(CnnlibError, match=r"CIFAR-10 could not be downloaded.*--data PATH "
                       r"takes a folder of class sub-folders"):
        load_dataset("cifar10", root=tmp_path)


def test_decode_cache_is_reused_and_keyed_by_the_files(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_folder(tmp_path / "d", per_class=150, side=32, fmt="JPEG")
    start = time.perf_counter()
    first = load_dataset(str(tmp_path / "d"), root=tmp_path / "root")
    decode_s = time.perf_counter() - start
    assert len(list(tmp_path.glob("d/.cnnlib-cache-*.pt"))) == 1

    def no_decoding(*args: object) -> None:
        raise AssertionError("decoded although the cache holds these files")

    monkeypatch.setattr(data, "_decode_file", no_decoding)
    start = time.perf_counter()
    second = load_dataset(str(tmp_path / "d"), root=tmp_path / "root")
    assert time.perf_counter() - start < decode_s
    assert torch.equal(first.train_x, second.train_x) and torch.equal(first.test_y,
                                                                      second.test_y)
    monkeypatch.undo()
    Image.new("RGB", (32, 32)).save(tmp_path / "d" / "cat" / "new.png")  # a new file list
    third = load_dataset(str(tmp_path / "d"), root=tmp_path / "root")
    assert len(third.train_y) + len(third.test_y) == 451
    assert len(list(tmp_path.glob("d/.cnnlib-cache-*.pt"))) == 2


def test_read_only_data_caches_in_the_root(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A data folder that refuses the cache file has it in the root's cache instead. Root (as
    CI runs) writes through any mode bits, so the folder refuses as a read-only one does for
    everybody else: the atomic write into it raises PermissionError."""
    write_folder(tmp_path / "d", per_class=6)
    write_atomic = data.write_atomic

    def read_only_data(path: Path, write: Callable[[Path], object]) -> None:
        if path.parent == tmp_path / "d":
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        write_atomic(path, write)

    monkeypatch.setattr(data, "write_atomic", read_only_data)
    load_dataset(str(tmp_path / "d"), root=tmp_path / "root")
    assert not list((tmp_path / "d").glob(".cnnlib-cache-*"))
    assert len(list((tmp_path / "root" / "cache").glob(".cnnlib-cache-*.pt"))) == 1


def test_bad_files_are_skipped_and_counted(tmp_path: Path) -> None:
    write_folder(tmp_path / "d", per_class=6)
    png = io.BytesIO()
    Image.new("RGB", (32, 32), (1, 2, 3)).save(png, "PNG")
    (tmp_path / "d" / "cat" / "truncated.png").write_bytes(png.getvalue()[:60])
    (tmp_path / "d" / "cat" / "empty.jpg").write_bytes(b"")
    (tmp_path / "d" / "dog" / "notes.txt").write_text("not an image")
    Image.new("RGB", (32, 32), (9, 8, 7)).save(tmp_path / "d" / "emu" / "old.bmp")  # via PIL
    ds = load_dataset(str(tmp_path / "d"), root=tmp_path / "root")
    assert ds.skipped == 3 and "3 files" in ds.warning
    assert len(ds.train_y) + len(ds.test_y) == 19
    every = torch.cat([ds.train_x, ds.test_x])
    assert any(img.flatten(1).unique(dim=1).T.tolist() == [[9, 8, 7]] for img in every)


def test_bad_specs_are_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(CnnlibError, match="There is no data folder"):
        load_dataset(str(tmp_path / "missing"))
    write_folder(tmp_path / "one", names=("cat",))
    with pytest.raises(CnnlibError, match="1 class sub-folder"):
        load_dataset(str(tmp_path / "one"), root=tmp_path / "root")
    (tmp_path / "empty" / "a").mkdir(parents=True)
    (tmp_path / "empty" / "b").mkdir()
    with pytest.raises(CnnlibError, match="hold no files"):
        load_dataset(str(tmp_path / "empty"), root=tmp_path / "root")


def noise_dataset(n: int = 64, seed: int = 0) -> Dataset:
    """Random images (so every crop position is unique) labelled by their index mod 3."""
    x = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8,
                      generator=torch.Generator().manual_seed(seed))
    y = torch.arange(n) % 3
    return Dataset.from_splits(x, y, x[:6], y[:6], ["a", "b", "c"], "noise", "noise")


def test_augment_crops_and_flips_each_sample_as_drawn() -> None:
    ds = noise_dataset()
    out = ds.augment(ds.train_x, torch.Generator().manual_seed(1))
    assert out.shape == ds.train_x.shape and out.dtype == torch.float32
    padded = torch.nn.functional.pad(ds.train_x, (4, 4, 4, 4))
    found = []
    for i in range(len(out)):
        matches = []
        for dy in range(9):
            for dx in range(9):
                crop = padded[i:i + 1, :, dy:dy + 32, dx:dx + 32]
                matches += [(dy, dx, flip) for flip, candidate in ((False, crop),
                                                                   (True, crop.flip(-1)))
                            if torch.allclose(out[i], ds.prepare(candidate)[0])]
        assert len(matches) == 1, f"sample {i} is not one crop of its own image"
        found.append(matches[0])
    assert len({(dy, dx) for dy, dx, _ in found}) > 20  # offsets really vary...
    assert 10 < sum(flip for *_, flip in found) < 54  # ...and about half are flipped
    again = ds.augment(ds.train_x, torch.Generator().manual_seed(1))
    assert torch.equal(out, again)


def test_prepare_matches_torchvision_normalize() -> None:
    ds = noise_dataset()
    normalize = torchvision.transforms.Normalize(ds.mean, ds.std)
    expected = normalize(ds.train_x.float() / 255)
    assert torch.allclose(ds.prepare(ds.train_x), expected, atol=1e-5)
    assert ds.prepare(ds.train_x).mean((0, 2, 3)).abs().max() < 1e-4  # the train split's stats


def test_batches_are_a_permutation_without_the_last_partial_batch() -> None:
    ds = noise_dataset(n=50)
    drawn = list(batches(ds, 16, torch.Generator().manual_seed(0)))
    assert [len(b) for b in drawn] == [16, 16, 16]
    assert len(torch.cat(drawn).unique()) == 48
    index = drawn[0]
    images, labels = ds.augment(ds.train_x[index], torch.Generator()), ds.train_y[index]
    assert images.shape == (16, 3, 32, 32) and torch.equal(labels, index % 3)


def test_train_limit_keeps_the_test_split() -> None:
    ds = noise_dataset(n=60)
    small = ds.with_train_limit(20)
    assert len(small.train_y) == 20 and torch.equal(small.test_x, ds.test_x)
    assert small.mean != ds.mean and "20 training images" in small.source
    assert ds.with_train_limit(None) is ds and ds.with_train_limit(1000) is ds
    with pytest.raises(CnnlibError, match="at least 1"):
        ds.with_train_limit(0)


def test_fifos_huge_files_and_pixel_bombs_are_skipped_not_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A FIFO would block the reader forever and a 144-megapixel PNG (a few hundred KB)
    would decode into 430 MB: both are skipped like corrupt files, the bomb by its header."""
    write_folder(tmp_path / "d", per_class=6)
    os.mkfifo(tmp_path / "d" / "cat" / "zz-fifo.png")
    Image.new("1", (12_000, 12_000)).save(tmp_path / "d" / "dog" / "zz-bomb.png")
    decoded = []
    monkeypatch.setattr(data, "decode_image", lambda *a, **k: decoded.append(1) or
                        torch.zeros(3, 40, 40, dtype=torch.uint8))
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("the data loader hung on a FIFO"))
    signal.alarm(60)
    try:
        ds = load_dataset(str(tmp_path / "d"), root=tmp_path / "root")
    finally:
        signal.alarm(0)
    assert ds.skipped == 2
    assert len(decoded) == 18  # the bomb never reached the decoder


def test_an_empty_data_spec_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CnnlibError, match="Name the training data"):
        load_dataset("", root=tmp_path)
