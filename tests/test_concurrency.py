"""cnnlib under many threads, as the dashboard runs it: every browser session is a thread.

Each test hammers one piece of process-wide state from several threads at once and compares
with the same work done one call at a time. Before the locks of cnnlib.concurrency, a trace
beside a forward failed (``NameError: module is not installed as a submodule``), two traces
corrupted fx's patcher (``CURRENT_PATCHER is None``), hooks of one session's feature maps
fired in another's forward, and seeded random weights came out different under load.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

import cnnlib
from cnnlib import analysis, visualize, weights
from cnnlib.concurrency import SharedExclusiveLock, memoize, running
from cnnlib.errors import TraceError
from cnnlib.meta import MetaBuild

THREADS = 8


def hammer(work: Callable[[int], object], threads: int = THREADS, rounds: int = 1) -> list:
    """Run ``work(i)`` in ``threads`` threads started together, ``rounds`` times each; return
    the results, and fail with every exception any thread raised."""
    start = threading.Barrier(threads)
    results: list = []
    errors: list[BaseException] = []

    def run(i: int) -> None:
        start.wait()
        for _ in range(rounds):
            try:
                results.append((i, work(i)))
            except BaseException as exc:
                errors.append(exc)

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert not errors, sorted({f"{type(e).__name__}: {e}" for e in errors})
    return results


def small_net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4)).eval()


def test_traces_beside_forwards_in_other_threads() -> None:
    """fx patches torch.nn.Module.__call__ for the whole process while it traces."""
    model = small_net()
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        expected = model(x)

    def work(i: int) -> object:
        if i % 2:
            return cnnlib.profile(small_net(), (3, 16, 16)).totals["params"]
        with torch.no_grad(), running(model):
            return torch.equal(model(x), expected)

    results = hammer(work, rounds=20)
    assert {r for i, r in results if i % 2} == {cnnlib.profile(small_net(), "3x16x16")
                                                 .totals["params"]}
    assert all(r for i, r in results if not i % 2)


def test_one_real_model_traced_walked_and_run_by_many_sessions() -> None:
    """The Visualize page's pattern: one cached model with real weights, analysed in place
    (traced, walked, its meta fallback run) while other sessions run it."""
    model = weights.load("cifar_resnet20", "random").model
    x = torch.rand(1, 3, 32, 32)
    expected = visualize.predict(model, x, None)
    reference = cnnlib.profile(model, (3, 32, 32)).layers

    def work(i: int) -> object:
        if i % 2:
            return cnnlib.profile(model, (3, 32, 32)).layers.equals(reference)
        return visualize.predict(model, x, None) == expected

    assert all(r for _, r in hammer(work, rounds=5))


def test_feature_maps_of_one_shared_model_stay_each_sessions_own() -> None:
    """A forward hook registered for one session's layer must not fire in another's forward
    (it would stop that forward, or hand over the other image's activations)."""
    model = weights.load("cifar_resnet20", "random").model
    layers = ["conv1", "layer1.0.conv1", "layer2.0.conv2", "layer3.2.relu#2"]
    images = [torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(i))
              for i in range(THREADS)]
    expected = {(i, layer): visualize.feature_maps(model, images[i], layer)
                for i in range(THREADS) for layer in layers}

    def work(i: int) -> bool:
        return all(torch.equal(visualize.feature_maps(model, images[i], layer),
                               expected[i, layer]) for layer in layers)

    assert all(r for _, r in hammer(work, rounds=10))


def test_projections_and_occlusion_of_one_shared_model_at_once() -> None:
    """captum hooks every ReLU and the chosen layer: two projections at once used to mix."""
    model = weights.load("cifar_resnet20", "random").model
    result = cnnlib.profile(model, (3, 32, 32))
    images = [torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(i))
              for i in range(4)]
    expected = [visualize.project(model, x, "layer2.0.conv1", result).image for x in images]
    occluded = visualize.occlusion(model, images[0], window=16, stride=8).probability

    def work(i: int) -> bool:
        if i == 0:
            return (visualize.occlusion(model, images[0], window=16, stride=8).probability
                    == occluded).all()
        x = images[i % 4]
        return (visualize.project(model, x, "layer2.0.conv1", result).image
                == expected[i % 4]).all()

    assert all(r for _, r in hammer(work, rounds=3))


def test_a_zoo_model_is_traced_and_profiled_once_for_every_thread(
        monkeypatch: pytest.MonkeyPatch) -> None:
    analysis._traced_zoo.cache_clear()
    analysis._zoo_profile.cache_clear()
    traces = []
    real_trace = analysis.trace
    monkeypatch.setattr(analysis, "trace", lambda m, name=None: traces.append(name)
                        or real_trace(m, name))
    results = hammer(lambda i: cnnlib.profile(("resnet50", "vgg19")[i % 2]))
    assert sorted(traces) == ["resnet50", "vgg19"]
    for name in ("resnet50", "vgg19"):
        assert len({id(p) for _, p in results if p.model == name}) == 1


def test_a_shared_profile_cannot_be_changed_by_whoever_holds_it() -> None:
    shared = cnnlib.profile("alexnet")
    before = shared.layers
    mine = shared.layers
    mine.loc[0, "params"] = -1
    mine["extra"] = 1
    assert shared.layers.equals(before)
    assert cnnlib.profile("alexnet") is shared
    with pytest.raises(TypeError):
        shared.totals["params"] = 0  # type: ignore[index]
    with pytest.raises(AttributeError):
        shared.warnings.append("x")  # type: ignore[attr-defined]


def test_seeded_random_weights_are_the_same_under_load() -> None:
    """torch's generator is process-wide: two seeded builds at once interleaved its draws."""
    expected = weights.load("cifar_resnet20", "random").model.state_dict()

    def work(i: int) -> bool:
        got = weights.load("cifar_resnet20", "random").model.state_dict()
        return all(torch.equal(got[k], v) for k, v in expected.items())

    assert all(r for _, r in hammer(work, rounds=2))


def test_a_meta_build_in_one_thread_leaves_real_builds_in_others_alone() -> None:
    def work(i: int) -> bool:
        if i % 2:
            with MetaBuild():
                return nn.Linear(64, 64).weight.is_meta
        layer = nn.Linear(64, 64)
        return not layer.weight.is_meta and bool(layer.weight.abs().sum() > 0)

    assert all(r for _, r in hammer(work, rounds=50))


def test_two_sessions_asking_for_the_same_weights_download_them_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    downloads = []

    def fake_download(url: str, path: Path, progress: object) -> None:
        downloads.append(url)
        time.sleep(0.05)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"weights")

    monkeypatch.setattr(weights, "_download", fake_download)
    assert {r for _, r in hammer(lambda i: weights.download("resnet18"))} == {None}
    assert len(downloads) == 1


def test_a_race_is_never_blamed_on_the_model_and_a_real_trace_error_says_what_it_is() -> None:
    class Branches(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x if x.sum() > 0 else -x

    class Fails(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise KeyError("no such thing")

    with pytest.raises(TraceError, match="branches on tensor values"):
        analysis.trace(Branches())
    with pytest.raises(TraceError) as info:
        analysis.trace(Fails())
    assert "KeyError" in str(info.value) and "branch" not in str(info.value)


def test_the_shared_exclusive_lock() -> None:
    lock = SharedExclusiveLock()
    inside: list[str] = []
    overlaps: list[tuple[str, ...]] = []
    guard = threading.Lock()

    def enter(kind: str) -> None:
        with guard:
            inside.append(kind)
            if "exclusive" in inside and len(inside) > 1:
                overlaps.append(tuple(inside))
        time.sleep(0.001)
        with guard:
            inside.remove(kind)

    def work(i: int) -> None:
        if i % 4 == 0:
            with lock.exclusive(), lock.exclusive(), lock.shared():  # reentrant
                enter("exclusive")
        else:
            with lock.shared(), lock.shared():
                enter("shared")

    hammer(work, rounds=30)
    assert not overlaps
    with lock.shared(), pytest.raises(RuntimeError), lock.exclusive():
        pass


def test_memoize_computes_each_key_once_and_caches_no_failure() -> None:
    calls: list[int] = []

    @memoize(maxsize=2)
    def slow(n: int) -> list[int]:
        calls.append(n)
        time.sleep(0.02)
        if n < 0:
            raise ValueError(n)
        return [n]

    results = hammer(lambda i: slow(i % 2))
    assert sorted(calls) == [0, 1]
    assert len({id(r) for _, r in results}) == 2
    with pytest.raises(ValueError):
        slow(-1)
    with pytest.raises(ValueError):
        slow(-1)
    assert calls.count(-1) == 2


def fake_model(name: str, megabytes: float) -> weights.LoadedWeights:
    model = nn.Module()
    model.register_buffer("w", torch.zeros(int(megabytes * 2**20) // 4))
    return weights.LoadedWeights(model, name, "random", "", None,
                                 weights.default_preprocess("alexnet"))


def test_the_model_cache_keeps_within_its_budget_evicting_the_largest_first() -> None:
    cache = weights.ModelCache(budget_bytes=6 * 2**20)  # 6 MB: room for one "VGG" of 5 MB
    for name, size in [("resnet18", 1), ("vgg19", 5), ("alexnet", 2), ("googlenet", 0.5)]:
        cache.get(name, lambda n=name, s=size: fake_model(n, s))
        assert cache.total_bytes() <= cache.budget_bytes
    # vgg19 pushed nothing out (1 + 5 fit); alexnet evicted vgg19, the largest, not resnet18
    assert [n for n, _ in cache.held()] == ["resnet18", "alexnet", "googlenet"]
    cache.get("vgg16", lambda: fake_model("vgg16", 5))
    cache.get("vgg19", lambda: fake_model("vgg19", 5))
    assert [n for n, _ in cache.held()] == ["googlenet", "vgg19"]  # never two VGG-sized
    huge = cache.get("huge", lambda: fake_model("huge", 8))
    assert cache.held() == [("huge", 8 * 2**20)] and huge.name == "huge"


def test_the_model_cache_loads_each_model_once_for_many_sessions() -> None:
    cache = weights.ModelCache(budget_bytes=10 * 2**20)
    loads: list[str] = []

    def load() -> weights.LoadedWeights:
        loads.append("alexnet")
        time.sleep(0.05)
        return fake_model("alexnet", 1)

    results = hammer(lambda i: cache.get("alexnet", load))
    assert loads == ["alexnet"] and len({id(r) for _, r in results}) == 1


def test_the_dashboard_default_budget_holds_one_vgg_but_not_two() -> None:
    with MetaBuild():
        vgg16 = cnnlib.build("vgg16")
    size = sum(p.numel() * 4 for p in vgg16.parameters())
    assert size <= weights.DEFAULT_BUDGET_BYTES < 2 * size


def test_a_reference_table_read_by_one_caller_cannot_be_changed_for_the_next() -> None:
    from cnnlib import reference

    mine = reference.table("comparison")
    mine.loc[0, "network"] = "changed"
    assert reference.table("comparison").loc[0, "network"] != "changed"
