"""Weight loading without the network: pretrained files served from tmp_path, checkpoints, seeds.

The "download" of ImageNet weights is a real urllib download of a local ``file://`` URL, of a
file made here from a seeded model, into a torch hub folder under tmp_path; failures are
urllib's own exceptions raised by a patched ``urlopen``.
"""

from __future__ import annotations

import email.message
import hashlib
import io
import os
import re
import urllib.error
import urllib.request
import urllib.response
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

from cnnlib import weights
from cnnlib.errors import UnknownModelError, WeightsError
from cnnlib.meta import MetaBuild
from cnnlib.models.registry import build, get, names
from cnnlib.weights import Preprocess

RESNET18 = torchvision.models.ResNet18_Weights.DEFAULT
GOOGLENET = torchvision.models.GoogLeNet_Weights.DEFAULT
DENSENET121 = torchvision.models.DenseNet121_Weights.DEFAULT
CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                 "ship", "truck"]


@pytest.fixture
def hub(tmp_path: Path):
    """torch.hub's folder moved under tmp_path; yields where weight files are cached."""
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield tmp_path / "hub" / "checkpoints"
    torch.hub.set_dir(old)


def seeded(name: str, seed: int = 123, **options) -> nn.Module:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return build(name, **options)


def serve(monkeypatch: pytest.MonkeyPatch, folder: Path, entry, state_dict: dict,
          stem: str) -> Path:
    """Save ``state_dict`` as ``<stem>-<sha256 prefix>.pth`` and point ``entry``'s URL at it."""
    folder.mkdir(exist_ok=True)
    raw = folder / "raw.pth"
    torch.save(state_dict, raw)
    path = folder / f"{stem}-{hashlib.sha256(raw.read_bytes()).hexdigest()[:8]}.pth"
    raw.rename(path)
    monkeypatch.setattr(entry.value, "url", path.as_uri())
    return path


def offline(monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    def urlopen(*args, **kwargs):
        raise error

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)


def same_tensors(a: nn.Module | dict, b: nn.Module | dict) -> bool:
    a = a.state_dict() if isinstance(a, nn.Module) else a
    b = b.state_dict() if isinstance(b, nn.Module) else b
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_pretrained_downloads_into_torch_hub_cache_with_progress_then_reuses_it(
        hub, tmp_path, monkeypatch):
    source = seeded("resnet18")
    served = serve(monkeypatch, tmp_path / "server", RESNET18, source.state_dict(), "resnet18")
    seen: list[tuple[int, int]] = []

    loaded = weights.load("resnet18", progress=lambda done, total: seen.append((done, total)))

    assert sorted(os.listdir(hub)) == [served.name]  # no temporary file left beside it
    assert (hub / served.name).read_bytes() == served.read_bytes()
    size = served.stat().st_size
    dones = [done for done, _ in seen]
    assert len(seen) > 1 and dones == sorted(set(dones)) and seen[-1] == (size, size)
    assert {total for _, total in seen} == {size}
    assert loaded.source == "pretrained" and loaded.warning is None
    assert same_tensors(loaded.model, source)
    assert not loaded.model.training
    assert all(p.device.type == "cpu" and p.requires_grad for p in loaded.model.parameters())
    assert "ImageNet" in loaded.label and "ResNet18_Weights.IMAGENET1K_V1" in loaded.label
    assert "top-1 69.76%" in loaded.label  # the meta's acc@1 69.758
    assert len(loaded.categories) == 1000 and loaded.categories[0] == "tench"
    assert loaded.preprocess == Preprocess(256, 224, weights.IMAGENET_MEAN, weights.IMAGENET_STD)

    def no_network(*args, **kwargs):
        raise AssertionError("the cached file should have been used")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    again = weights.load("resnet18")
    assert again.source == "pretrained" and same_tensors(again.model, source)


def test_offline_gives_random_weights_labelled_as_such_with_a_warning(hub, monkeypatch):
    offline(monkeypatch, urllib.error.URLError("[Errno -3] Temporary failure in name resolution"))
    loaded = weights.load("resnet18")
    assert loaded.source == "random" and loaded.label == "random initialisation (untrained)"
    assert loaded.warning.startswith("Could not download the ImageNet weights for resnet18 "
                                     "(no network: [Errno -3] Temporary failure")
    assert "Showing random initialisation instead" in loaded.warning
    assert str(hub) in loaded.warning
    assert len(loaded.categories) == 1000  # class names need no weights
    assert same_tensors(loaded.model, weights.load("resnet18", "random").model)
    assert not hub.exists() or os.listdir(hub) == []


def test_download_apart_from_load(hub, tmp_path, monkeypatch):
    """An app downloads with a progress bar first, then loads without touching the network."""
    def no_network(*args, **kwargs):
        raise AssertionError("load(download=False) must not use the network")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    cold = weights.load("resnet18", download=False)
    assert cold.source == "random" and "not downloaded yet" in cold.warning
    offline(monkeypatch, urllib.error.URLError("no route"))
    assert weights.download("resnet18").startswith("Could not download the ImageNet weights")
    monkeypatch.undo()  # urlopen works again
    source = seeded("resnet18")
    served = serve(monkeypatch, tmp_path / "server", RESNET18, source.state_dict(), "resnet18")
    assert weights.download("resnet18") is None
    assert weights.pretrained_path("resnet18") == hub / served.name
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    assert weights.download("resnet18") is None  # cached: nothing fetched
    warm = weights.load("resnet18", download=False)
    assert warm.source == "pretrained" and same_tensors(warm.model, source)


def test_http_error_becomes_a_warning(hub, monkeypatch):
    offline(monkeypatch, urllib.error.HTTPError(RESNET18.url, 404, "Not Found", None, None))
    loaded = weights.load("resnet18")
    assert loaded.source == "random" and "HTTP 404 Not Found" in loaded.warning


def test_corrupt_cached_file_is_deleted_and_reported(hub, monkeypatch):
    hub.mkdir(parents=True)
    cached = hub / os.path.basename(RESNET18.url)
    cached.write_bytes(b"PK\x03\x04 half a zip file")
    offline(monkeypatch, urllib.error.URLError("offline"))
    loaded = weights.load("resnet18")
    assert loaded.source == "random"
    assert f"the cached file {cached.name} was corrupt" in loaded.warning
    assert "has been deleted; then no network: offline" in loaded.warning
    assert not cached.exists()


def test_download_with_the_wrong_hash_or_length_is_not_kept(hub, tmp_path, monkeypatch):
    served = serve(monkeypatch, tmp_path / "server", RESNET18, {"x": torch.zeros(3)}, "resnet18")
    wrong = served.with_name("resnet18-00000000.pth")
    served.rename(wrong)
    monkeypatch.setattr(RESNET18.value, "url", wrong.as_uri())
    loaded = weights.load("resnet18")
    assert loaded.source == "random" and "SHA-256 does not match" in loaded.warning
    assert os.listdir(hub) == []

    def truncated(url, timeout):
        headers = email.message.Message()
        headers["Content-Length"] = "1000"
        return urllib.response.addinfourl(io.BytesIO(b"x" * 400), headers, url)

    monkeypatch.setattr(urllib.request, "urlopen", truncated)
    monkeypatch.setattr(RESNET18.value, "url", "https://example.invalid/resnet18-abc.pth")
    loaded = weights.load("resnet18")
    assert "the download stopped after 400 of 1,000 bytes" in loaded.warning
    assert os.listdir(hub) == []


def test_googlenet_drops_only_the_auxiliary_classifiers(hub, tmp_path, monkeypatch):
    with torch.random.fork_rng():
        torch.manual_seed(5)
        full = torchvision.models.googlenet(aux_logits=True, init_weights=True)
    state = full.state_dict()
    assert any(k.startswith("aux1.") for k in state) and any(k.startswith("aux2.") for k in state)
    serve(monkeypatch, tmp_path / "server", GOOGLENET, state, "googlenet")
    loaded = weights.load("googlenet_tv")
    assert loaded.source == "pretrained" and loaded.warning is None
    assert same_tensors(loaded.model, {k: v for k, v in state.items() if not k.startswith("aux")})

    # torchvision runs these weights with transform_input=True on ImageNet-normalised input;
    # googlenet_tv gets the same logits from the 0.5/0.5 normalisation its preprocess names.
    prep = loaded.preprocess
    assert (prep.resize, prep.crop, prep.mean, prep.std) == (256, 224, (0.5,) * 3, (0.5,) * 3)
    reference = torchvision.models.googlenet(aux_logits=False, transform_input=True,
                                             init_weights=False).eval()
    reference.load_state_dict(loaded.model.state_dict())
    pixels = torch.rand(1, 3, 224, 224)
    as_imagenet = (pixels - torch.tensor(weights.IMAGENET_MEAN)[:, None, None]) \
        / torch.tensor(weights.IMAGENET_STD)[:, None, None]
    with torch.no_grad():
        assert torch.allclose(loaded.model((pixels - 0.5) / 0.5), reference(as_imagenet),
                              atol=1e-4)

    state["fc.extra"] = torch.zeros(1)
    (hub / os.path.basename(GOOGLENET.url)).unlink()
    serve(monkeypatch, tmp_path / "server2", GOOGLENET, state, "googlenet")
    with pytest.raises(WeightsError, match=r"does not fit googlenet_tv: tensors 1 unexpected "
                                           r"\(fc\.extra\)\.$"):
        weights.load("googlenet_tv")


def test_densenet_files_with_torchvisions_old_key_names_load(hub, tmp_path, monkeypatch):
    """The file predates PyTorch 0.4.1: "norm.1" for "norm1", and no num_batches_tracked."""
    source = seeded("densenet121")
    old_names = {re.sub(r"(denselayer\d+\.(?:norm|conv))([12])\.", r"\1.\2.", key): value
                 for key, value in source.state_dict().items()
                 if not key.endswith("num_batches_tracked")}
    assert "features.denseblock1.denselayer1.norm.1.weight" in old_names
    serve(monkeypatch, tmp_path / "server", DENSENET121, old_names, "densenet121")
    loaded = weights.load("densenet121")
    assert loaded.source == "pretrained" and same_tensors(loaded.model, source)


def test_checkpoint_round_trip_with_meta(tmp_path):
    model = seeded("cifar_resnet20")
    path = tmp_path / "runs" / "20250101-abc" / "checkpoints" / "best.pt"
    meta = {"epoch": 30, "test_error": 0.089, "dataset": "cifar10", "classes": CIFAR_CLASSES}
    weights.save_checkpoint(path, model_name="cifar_resnet20", model=model, meta=meta)
    assert os.listdir(path.parent) == ["best.pt"]
    saved = torch.load(path, weights_only=True)
    assert saved["format"] == "cnnlib-checkpoint-1" and saved["model"] == "cifar_resnet20"
    assert saved["options"] == {} and saved["meta"] == meta

    for loaded in (weights.load_checkpoint(path),
                   weights.load("cifar_resnet20", "checkpoint", checkpoint=path)):
        assert loaded.name == "cifar_resnet20" and loaded.source == "checkpoint"
        assert same_tensors(loaded.model, model) and not loaded.model.training
        assert loaded.label == ("trained weights from 20250101-abc/best.pt "
                                "(cifar10, epoch 30, test error 8.90%)")
        assert loaded.categories == CIFAR_CLASSES and loaded.warning is None
        assert loaded.preprocess == Preprocess(None, 32, weights.CIFAR10_MEAN,
                                               weights.CIFAR10_STD)


def test_checkpoint_keeps_builder_options(tmp_path):
    model = seeded("lenet5", style="modern")
    path = tmp_path / "lenet.pt"
    weights.save_checkpoint(path, model_name="lenet5", model=model, options={"style": "modern"})
    loaded = weights.load_checkpoint(path)
    assert same_tensors(loaded.model, model) and loaded.label == "trained weights from lenet.pt"
    assert any(isinstance(m, nn.MaxPool2d) for m in loaded.model.modules())
    assert loaded.categories is None and loaded.preprocess == Preprocess(None, 32, (0.5,), (0.5,))


def test_save_checkpoint_refuses_what_would_not_load(tmp_path):
    np = pytest.importorskip("numpy")
    model = seeded("cifar_resnet20")
    with pytest.raises(TypeError, match=r"meta\['test_error'\] is a numpy.float64"):
        weights.save_checkpoint(tmp_path / "a.pt", model_name="cifar_resnet20", model=model,
                                meta={"test_error": np.float64(0.1)})
    with pytest.raises(WeightsError, match="does not fit cifar_resnet32"):
        weights.save_checkpoint(tmp_path / "b.pt", model_name="cifar_resnet32", model=model)
    assert list(tmp_path.iterdir()) == []


def test_list_checkpoints_newest_first(tmp_path):
    runs, recorded = tmp_path / "runs", tmp_path / "assets" / "runs"
    files = [runs / "a/checkpoints/best.pt", runs / "a/checkpoints/final.pt",
             recorded / "b/checkpoints/best.pt", runs / "c/checkpoints/final.pt"]
    for age, path in enumerate(files):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
        os.utime(path, (1_000_000 - age, 1_000_000 - age))
    (runs / "a" / "notes.pt").write_bytes(b"")  # not under checkpoints/
    (runs / "a" / "checkpoints" / "log.txt").write_bytes(b"")
    assert weights.list_checkpoints(runs, recorded, tmp_path / "missing") == files
    assert weights.list_checkpoints(runs, runs) == [files[0], files[1], files[3]]
    assert weights.list_checkpoints() == []


def _raw_checkpoint(path: Path, **fields) -> Path:
    data = {"format": "cnnlib-checkpoint-1", "model": "cifar_resnet20", "options": {},
            "state_dict": seeded("cifar_resnet20").state_dict(), "meta": {}} | fields
    torch.save(data, path)
    return path


@pytest.mark.parametrize(("make", "message"), [
    (lambda d: d / "nope.pt", r"^There is no checkpoint file at .*nope\.pt\.$"),
    (lambda d: d / "noise.pt",
     r"noise\.pt is not a cnnlib checkpoint: torch cannot read it \(.+\)\.$"),
    (lambda d: d / "bare.pt", r"bare\.pt is not a cnnlib checkpoint: it has no "
                              r"'cnnlib-checkpoint-1' format tag \(it is a bare state dict; "),
    (lambda d: d / "list.pt", r"list\.pt is not a cnnlib checkpoint: it has no "
                              r"'cnnlib-checkpoint-1' format tag\.$"),
    (lambda d: _raw_checkpoint(d / "unknown.pt", model="resnet9000"),
     r"unknown\.pt holds weights for 'resnet9000', which is not in the zoo\.$"),
    (lambda d: _raw_checkpoint(d / "option.pt", options={"width": 2}),
     r"option\.pt was saved with options \{'width': 2\} that cifar_resnet20 does not take: "),
    (lambda d: _raw_checkpoint(d / "deeper.pt", model="cifar_resnet32"),
     r"The checkpoint .*deeper\.pt does not fit cifar_resnet32: tensors 72 missing "
     r"\(layer1\.3\.conv1\.weight, "),
    (lambda d: _raw_checkpoint(d / "damaged.pt", meta=None),
     r"damaged\.pt is a damaged cnnlib checkpoint: meta missing or of the wrong type\.$"),
])
def test_bad_checkpoints_raise_weights_error(tmp_path, make, message):
    (tmp_path / "noise.pt").write_bytes(os.urandom(256))
    torch.save(seeded("cifar_resnet20").state_dict(), tmp_path / "bare.pt")
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(WeightsError, match=message):
        weights.load_checkpoint(make(tmp_path))


def test_wrong_shapes_are_named(tmp_path):
    state = seeded("cifar_resnet20", num_classes=100).state_dict()
    path = _raw_checkpoint(tmp_path / "c100.pt", state_dict=state)
    with pytest.raises(WeightsError, match=r"tensors 2 of the wrong shape \(fc\.weight "
                                           r"\(100, 64\) instead of \(10, 64\), fc\.bias"):
        weights.load_checkpoint(path)


def test_load_asks_for_what_it_needs(tmp_path):
    with pytest.raises(WeightsError, match="Choose a checkpoint file to load cifar_resnet20"):
        weights.load("cifar_resnet20", "checkpoint")
    path = _raw_checkpoint(tmp_path / "c.pt")
    with pytest.raises(WeightsError, match=r"holds weights for cifar_resnet20, not resnet18\.$"):
        weights.load("resnet18", "checkpoint", checkpoint=path)
    with pytest.raises(WeightsError, match=r"^resnet50 has no pretrained weights \(torchvision "
                                           r"has ImageNet weights only for alexnet, vgg11, .*"
                                           r"resnet50_v1_5, .*densenet121.*\); use random"):
        weights.load("resnet50")
    with pytest.raises(WeightsError, match="options apply only to random initialisation"):
        weights.load("resnet18", options={"num_classes": 10})
    with pytest.raises(WeightsError, match="Unknown weights source 'imagenet'"):
        weights.load("resnet18", "imagenet")
    with pytest.raises(UnknownModelError):
        weights.load("resnet9000", "random")


def test_random_is_seeded_and_leaves_the_global_rng_alone():
    torch.manual_seed(42)
    before = torch.get_rng_state()
    a = weights.load("cifar_resnet20", "random")
    b = weights.load("cifar_resnet20", "random")
    assert torch.equal(torch.get_rng_state(), before)
    assert same_tensors(a.model, b.model) and not same_tensors(a.model, seeded("cifar_resnet20"))
    assert a.source == "random" and a.label == "random initialisation (untrained)"
    assert a.categories is None and a.warning is None and not a.model.training
    modern = weights.load("lenet5", "random", options={"style": "modern"})
    assert any(isinstance(m, nn.MaxPool2d) for m in modern.model.modules())


@pytest.mark.parametrize(("name", "available"), [
    ("resnet18", True), ("resnet50", False), ("resnet50_v1_5", True), ("googlenet", False),
    ("googlenet_tv", True), ("alexnet", True), ("alexnet_original", False),
    ("cifar_resnet20", False), ("lenet5", False), ("densenet121", True),
])
def test_sources(name, available):
    assert weights.pretrained_available(name) is available
    expected = ["pretrained", "checkpoint", "random"] if available else ["checkpoint", "random"]
    assert weights.sources(name) == expected


def test_default_preprocess():
    imagenet = (weights.IMAGENET_MEAN, weights.IMAGENET_STD)
    assert weights.default_preprocess("vgg16") == Preprocess(256, 224, *imagenet)
    assert weights.default_preprocess("alexnet_original") == Preprocess(None, 227, *imagenet)
    assert weights.default_preprocess("cifar_plain56") == Preprocess(
        None, 32, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))
    assert weights.default_preprocess("lenet5") == Preprocess(None, 32, (0.5,), (0.5,))


def test_every_zoo_state_dict_covers_all_tensors():
    """Checkpoints and pretrained files are assigned into meta-built models: a parameter or
    buffer outside the state dict would stay on the meta device."""
    for name in names():
        with MetaBuild():
            model = build(name)
        tensors = {k for k, _ in model.named_parameters()} | {k for k, _ in model.named_buffers()}
        assert tensors <= model.state_dict().keys(), name


@pytest.mark.parametrize("name", [n for n in names() if weights.pretrained_available(n)])
def test_torchvisions_pretrained_layout_fits_the_zoo_model(name):
    """Offline stand-in for the real files: torchvision's own architecture (which its weights
    fit, aux classifiers included) has the zoo model's tensors, names and shapes."""
    tv_name = get(name).torchvision
    extra = {"aux_logits": True, "init_weights": False} if tv_name == "googlenet" else {}
    with MetaBuild():
        theirs = torchvision.models.get_model(tv_name, **extra).state_dict()
    with MetaBuild():
        ours = build(name).state_dict()
    theirs = {k: v.shape for k, v in theirs.items() if not k.startswith("aux")}
    assert theirs == {k: v.shape for k, v in ours.items()}
