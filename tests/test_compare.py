"""The compare page's tables: computed sizes and costs, published accuracy with its source, and
the notes' summary tables recomputed."""

from __future__ import annotations

import math

import pytest
import torchvision

import cnnlib
from cnnlib import compare
from cnnlib.models import registry

TORCHVISION_BACKED = [n for n in registry.names() if registry.get(n).torchvision]


@pytest.mark.parametrize("name", TORCHVISION_BACKED)
def test_accuracy_is_torchvisions_v1_metadata(name: str) -> None:
    entry = torchvision.models.get_model_weights(registry.get(name).torchvision).IMAGENET1K_V1
    metrics = entry.meta["_metrics"]["ImageNet-1K"]
    found = compare.published_accuracy(name)
    assert (found["top1"], found["top5"]) == (metrics["acc@1"], metrics["acc@5"])
    assert found["weights"] == str(entry) and entry.meta["recipe"] in found["source"]
    # The weights are for the very architecture we show: torchvision's count equals ours.
    assert found["num_params"] == cnnlib.profile(name).totals["params"]


def test_resnet50_accuracy_belongs_to_v1_5() -> None:
    """torchvision's ResNet-50 is v1.5; its V1 weights (76.13, not V2's 80.86) go there."""
    found = compare.published_accuracy("resnet50_v1_5")
    assert (found["top1"], found["top5"]) == (76.13, 92.862)
    assert found["source"].startswith("torchvision ResNet50_Weights.IMAGENET1K_V1 (https://")
    assert compare.published_accuracy("resnet50") is None  # the paper's v1: no weights
    found["top1"] = 0  # a copy: the cache is not changed
    assert compare.published_accuracy("resnet50_v1_5")["top1"] == 76.13


def test_paper_accuracy_where_torchvision_has_none() -> None:
    found = compare.published_accuracy("resnet152")
    assert found["top1"] is None and found["top5"] == pytest.approx(100 - 3.57)
    assert "ILSVRC 2015" in found["source"] and "He, Zhang, Ren, Sun" in found["source"]
    assert compare.published_accuracy("googlenet")["top5"] == pytest.approx(93.3)
    assert compare.published_accuracy("lenet5") is None


def test_compare_table_is_computed() -> None:
    names = ["alexnet", "vgg16", "resnet50", "cifar_resnet20"]
    table = compare.compare_table(names)
    assert list(table.columns) == compare.TABLE_COLUMNS and list(table["model"]) == names
    for row in table.to_dict(orient="records"):
        totals = cnnlib.profile(row["model"]).totals
        assert [row[k] for k in ("params", "macs", "memory_bytes", "depth", "weight_layers")] \
            == [totals[k] for k in ("params", "macs", "memory_bytes", "depth", "weight_layers")]
        assert row["input_size"] == "x".join(map(str, registry.get(row["model"]).input_size))
    assert table.set_index("model").loc["vgg16", "top1"] == 71.592
    assert math.isnan(table.set_index("model").loc["resnet50", "top1"])
    table.loc[0, "params"] = -1  # a copy: the cached table is not changed
    assert compare.compare_table(names).loc[0, "params"] > 0


def test_accuracy_vs_ops() -> None:
    """One point per model with a published accuracy; resnet50 (v1) has none."""
    names = ["alexnet", "resnet50_v1_5", "resnet50", "resnet152"]
    rows = compare.accuracy_vs_ops(names).set_index("model")
    assert list(rows.index) == ["alexnet", "resnet50_v1_5", "resnet152"]
    assert math.isnan(rows.loc["resnet152", "top1"]) and rows.loc["resnet152", "top5"] > 96
    macs = cnnlib.profile("resnet50_v1_5").totals["macs"]
    assert rows.loc["resnet50_v1_5", "gmacs"] == macs / 1e9
    assert rows.loc["alexnet", "top1"] == 56.522
    assert rows.loc["alexnet", "params"] == 61_100_840
    assert compare.accuracy_vs_ops(["lenet5"]).empty and compare.accuracy_vs_ops([]).empty


def test_ilsvrc_history() -> None:
    """One row per entry, oldest first: the shallow winners before CNNs, then the notes' CNNs
    with our depth beside the notes' count (2014's two entries as two rows)."""
    history = compare.ilsvrc_history()
    assert list(history["entry"]) == ["2010 NEC-UIUC", "2011 XRCE", "2012 AlexNet",
                                      "2013 ZFNet", "2014 VGG", "2014 GoogLeNet",
                                      "2015 ResNet"]
    assert history["entry"].is_unique
    cnns = history[history["kind"] == "CNN"]
    assert list(cnns["model"]) == ["alexnet_original", "zfnet", "vgg19", "googlenet",
                                   "resnet152"]
    assert list(cnns["depth"]) == [8, 8, 19, 22, 152] == list(cnns["layers"])
    assert list(history["year"]) == [2010, 2011, 2012, 2013, 2014, 2014, 2015]
    assert list(history["top5_error_percent"]) == [28.2, 25.8, 16.4, 11.7, 7.3, 6.7, 3.57]
    shallow = history[history["kind"] == "shallow"]
    assert shallow["depth"].isna().all() and shallow["model"].isna().all()
    human, source = compare.human_top5_error()
    assert human == 5.1 and "Russakovsky" in source


def test_accuracy_points_say_how_they_were_measured() -> None:
    """torchvision's single-model val numbers and the papers' ensemble test entries are told
    apart, and every model without a point is named with its reason."""
    names = ["alexnet", "alexnet_original", "resnet50", "cifar_resnet20", "lenet5"]
    rows = compare.accuracy_vs_ops(names).set_index("model")
    assert rows.loc["alexnet", "measured"] == compare.SINGLE_MODEL
    assert rows.loc["alexnet_original", "measured"] == compare.ILSVRC_ENTRY
    missing = compare.left_out(names)
    assert list(missing) == ["resnet50", "cifar_resnet20", "lenet5"]
    assert "10-class" in missing["cifar_resnet20"] and "3x32x32" in missing["cifar_resnet20"]
    assert "no torchvision weights" in missing["resnet50"]
    assert set(missing) | set(rows.index) == set(names)


def test_comparison_recomputed() -> None:
    table = compare.comparison_recomputed().set_index("network")
    assert list(table.index) == ["AlexNet", "VGGNet", "Inception", "ResNet-152"]
    cells = table[["model", "params_notes", "params_ours", "params_agree", "flop_notes",
                   "macs_ours", "macs_agree"]].to_dict(orient="index")
    assert cells == {
        "AlexNet": {"model": "alexnet_original (groups=1)", "params_notes": "62M",
                    "params_ours": "62M", "params_agree": True, "flop_notes": "1.5B",
                    "macs_ours": "1.1B", "macs_agree": False},
        "VGGNet": {"model": "vgg16", "params_notes": "138M", "params_ours": "138M",
                   "params_agree": True, "flop_notes": "19.6B", "macs_ours": "15.5B",
                   "macs_agree": False},
        "Inception": {"model": "googlenet", "params_notes": "6.4M", "params_ours": "7.0M",
                      "params_agree": False, "flop_notes": "2B", "macs_ours": "2B",
                      "macs_agree": True},
        "ResNet-152": {"model": "resnet152", "params_notes": "60.3M", "params_ours": "60.2M",
                       "params_agree": False, "flop_notes": "11B", "macs_ours": "11B",
                       "macs_agree": True},
    }
    assert "1.14 G" in table.loc["AlexNet", "why"] and "VGG-19" in table.loc["VGGNet", "why"]
    assert table.loc["AlexNet", "top5_accuracy"] == "84.70%"


def test_diff_totals_puts_two_networks_side_by_side() -> None:
    mine, theirs = cnnlib.profile("vgg11"), cnnlib.profile("vgg16")
    diff = compare.diff_totals(mine, theirs).set_index("quantity")
    assert diff.loc["parameters", "vgg11"] == mine.totals["params"] == 132_863_336
    assert diff.loc["parameters", "vgg16"] == 138_357_544
    assert diff.loc["depth (weight layers)", "ratio"] == 11 / 16


def test_torchvision_points_are_torchvisions_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every torchvision classifier, each value its first weights entry's metadata, with no
    model built (offline: the weights enums are plain data)."""
    def no_build(*args: object, **kwargs: object) -> None:
        raise AssertionError("a model was built")

    monkeypatch.setattr(torchvision.models, "get_model", no_build)
    monkeypatch.setattr(registry, "build", no_build)
    points = compare._torchvision_points.__wrapped__()
    assert list(points.columns) == compare.TORCHVISION_COLUMNS
    assert list(points["model"]) == torchvision.models.list_models(module=torchvision.models)
    assert len(points) >= 80
    for row in points.to_dict(orient="records"):
        entry = next(iter(torchvision.models.get_model_weights(row["model"])))
        meta = entry.meta
        assert row["weights"] == str(entry)
        assert (row["top1"], row["top5"]) == (meta["_metrics"]["ImageNet-1K"]["acc@1"],
                                              meta["_metrics"]["ImageNet-1K"]["acc@5"])
        assert (row["gmacs"], row["params"]) == (meta["_ops"], meta["num_params"])
    rows = points.set_index("model")
    assert rows.loc["resnet50", "zoo"] == "resnet50_v1_5"  # the zoo's resnet50 is v1
    assert rows.loc["googlenet", "zoo"] == "googlenet_tv"
    assert rows.loc["resnext101_32x8d", "family"] == "resnet"
    assert rows.loc["vit_h_14", "weights"].endswith("SWAG_E2E_V1")  # its only weights
    assert rows.loc["vit_h_14", "crop"] == 518
    groups = rows["group"].to_dict()
    assert groups["vgg16"] == groups["resnet50"] == compare.CLASSIC
    assert groups["mobilenet_v2"] == groups["swin_t"] == compare.AFTER
    assert groups["squeezenet1_0"] == compare.OTHER
    # the classic and after-ResNet points are the zoo's torchvision-backed models, all of them
    zoo = {registry.get(n).torchvision for n in TORCHVISION_BACKED}
    assert set(rows.index[rows["group"] != compare.OTHER]) == zoo


@pytest.mark.parametrize("name", ["alexnet", "vgg16", "resnet50_v1_5", "googlenet_tv",
                                  "densenet121", "mobilenet_v2", "mobilenet_v3_small",
                                  "efficientnet_b0", "regnet_y_400mf"])
def test_torchvisions_gflops_are_multiply_adds(name: str) -> None:
    """torchvision's "GFLOPS" (meta["_ops"], 3 decimals) are our conv + linear multiply-adds,
    not twice them: the chart can put them on the same axis as our MACs."""
    layers = cnnlib.profile(name).layers
    macs = layers[layers["type"].isin(["Conv2d", "Linear"])]["macs"].sum()
    points = compare.torchvision_points().set_index("model")
    assert round(macs / 1e9, 3) == points.loc[registry.get(name).torchvision, "gmacs"]
