"""The paper-check panel: the notes' numbers beside ours, agreement within the notes' rounding,
and the reference README's reason for every known disagreement.

test_analysis.py checks the analysis against the same tables; these tests check what a user
is shown: which cells disagree, that each gets the right reason, and that the check can fail.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

import cnnlib
from cnnlib import analysis, paper_check
from cnnlib.models import registry

#: Every disagreement the panel shows, per model; every other row must agree.
GOOGLENET_OFF = {f"inception ({key}) parameters" for key in ("4a", "4c", "4d", "4e", "5a", "5b")}
KNOWN = {
    "alexnet": {"conv4 MACs", "fc6 parameters"},
    "alexnet_original": {"norm1 output", "norm2 output", "parameters", "FLOPs (multiply-adds)"},
    "zfnet": {"conv3-5 filters (slide 003)"},
    "vgg16": {"forward activations (the list's layers and the input)",
              "forward memory (activations, fp32)", "FLOPs (multiply-adds)"},
    "googlenet": GOOGLENET_OFF | {
        "convolution 7x7/2 parameters", "convolution 7x7/2 MACs", "inception (5a) MACs",
        "parameters, the rows added up", "MACs, the rows added up",
        "parameters (slides 000, 002)", "parameters (slide 003)", "parameters"},
    "googlenet_tv": {"parameters (slides 000, 002)", "parameters (slide 003)"},
    "resnet50_v1_5": {"FLOPs (multiply-adds)"},
    "resnet101_v1_5": {"FLOPs (multiply-adds)"},
    "resnet152": {"parameters"},
    "resnet152_v1_5": {"FLOPs (multiply-adds)", "parameters"},
}


def cell(frame: pd.DataFrame, quantity: str) -> pd.Series:
    rows = frame[frame["quantity"] == quantity]
    assert len(rows) == 1, (quantity, rows)
    return rows.iloc[0]


@pytest.mark.parametrize("name", registry.names())
def test_every_model_is_checked_or_none(name: str) -> None:
    frame = paper_check.check(name)
    if frame is None:
        assert not paper_check.has_notes(name)
        return
    assert list(frame.columns) == paper_check.COLUMNS and len(frame)
    assert frame["agrees"].map(type).eq(bool).all()
    assert (frame["notes"].str.len() > 0).all() and (frame["ours"].str.len() > 0).all()
    assert set(frame.loc[~frame["agrees"], "quantity"]) == KNOWN.get(name, set())
    assert (frame.loc[frame["agrees"], "why"] == "").all()
    whys = frame.loc[~frame["agrees"], "why"]
    assert (whys.str.len() > 0).all() and not (whys == paper_check.UNEXPLAINED).any()
    assert frame.attrs["input_size"] == paper_check.notes_input_size(name)


@pytest.mark.parametrize("name", ["lenet5", "nin", "plain18", "resnext50_32x4d", "densenet121"])
def test_models_the_notes_do_not_cover(name: str) -> None:
    assert paper_check.check(name) is None


@pytest.mark.parametrize("name,quantity,notes,ours,why", [
    ("alexnet", "conv4 MACs", "145M", "150M", "256*13*13*384*3*3 = 149,520,384"),
    ("alexnet", "fc6 parameters", "37,749k", "37,753k", "37,725,832"),
    ("vgg16", "forward memory (activations, fp32)", "96 MB", "58 MB", "15,237,608 values"),
    ("vgg16", "FLOPs (multiply-adds)", "19.6B", "15.5B", "VGG-19's count (19.64 G"),
    ("alexnet_original", "parameters", "62M", "61M", "62,378,344 parameters with groups=1"),
    ("alexnet_original", "FLOPs (multiply-adds)", "1.5B", "0.7B", "2 x 0.73 G = 1.46 G"),
    ("alexnet_original", "norm1 output", "27x27x96", "55x55x96", "normalises first"),
    ("zfnet", "conv3-5 filters (slide 003)", "512-1024-512", "384-384-256", "wider variant"),
    ("googlenet", "convolution 7x7/2 parameters", "2.7K", "9.19K", "7*7 = 9,408 weights"),
    ("googlenet", "convolution 7x7/2 MACs", "34M", "118.0M", "quirk"),
    ("googlenet", "parameters (slides 000, 002)", "~5M", "7M", "rows add up to 6,798K"),
    ("googlenet", "parameters", "6.4M", "7.0M", "torchvision's GoogLeNet (6,624,904)"),
    ("googlenet", "inception (5a) MACs", "54M", "51.1M", "own filter columns"),
    ("googlenet_tv", "parameters (slide 003)", "6M", "7M", "batch norm, and 3x3 convs"),
    ("resnet50_v1_5", "FLOPs (multiply-adds)", "3.8 G", "4.10 G", "v1's, which strides in"),
    ("resnet152", "parameters", "60.3M", "60.2M", "60,192,808 + 75,712 = 60,268,520"),
    ("resnet152_v1_5", "FLOPs (multiply-adds)", "11B", "12B", "v1.5 strides in the 3x3"),
    ("resnet152_v1_5", "FLOPs (multiply-adds)", "11.3 G", "11.54 G", "v1's, which strides in"),
])
def test_known_disagreements_and_their_reasons(name: str, quantity: str, notes: str, ours: str,
                                               why: str) -> None:
    frame = paper_check.check(name)
    row = cell(frame[frame["notes"] == notes], quantity)
    assert (row["notes"], row["ours"], row["agrees"]) == (notes, ours, False)
    assert why in row["why"]


@pytest.mark.parametrize("name,quantity,notes,ours", [
    ("alexnet", "conv1 memory", "784 KB", "784 KB"),
    ("alexnet", "pool1 MACs", "0M", "0M"),  # 0.4M, printed as 0
    ("alexnet", "parameters", "61,100,840", "61,100,840"),
    ("alexnet_original", "parameters (two-GPU groups)", "60,965,224", "60,965,224"),
    ("vgg16", "layer 1 (conv3-64) activations", "3211264", "3211264"),
    ("vgg11_lrn", "parameters", "133M", "133M"),
    ("vgg16_c", "parameters", "134M", "134M"),
    ("googlenet", "inception (3a) parameters", "159K", "159.5K"),  # K = 1024, cut
    ("googlenet", "FLOPs (multiply-adds)", "2B", "2B"),
    ("resnet50", "FLOPs (multiply-adds)", "3.8 G", "3.87 G"),  # the paper cuts 3.87
    ("resnet101", "FLOPs (multiply-adds)", "7.6 G", "7.59 G"),
    ("resnet152", "FLOPs (multiply-adds)", "11.3 G", "11.31 G"),
    ("cifar_resnet20", "parameters (option A: the shortcuts have none)", "0.27M", "0.27M"),
    ("cifar_resnet110", "layers (6n+2)", "110", "110"),
    ("zfnet", "widths, conv1-5 and fc6-7 (slide 001)", "48-128-192-192-128-2048-2048 x 2",
     "48-128-192-192-128-2048-2048 x 2"),
])
def test_agreements(name: str, quantity: str, notes: str, ours: str) -> None:
    frame = paper_check.check(name)
    row = cell(frame[frame["notes"] == notes], quantity)
    assert (row["notes"], row["ours"], row["agrees"], row["why"]) == (notes, ours, True, "")


def test_a_wrong_computed_value_fails_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Our side comes from the profile: a wrong total or a wrong layer flips the rows."""
    real = analysis.profile

    def wrong(*args, **kwargs) -> analysis.Profile:
        p = real(*args, **kwargs)
        # conv1: 73M -> 78M, on copies: the cached profile's rows are shared by later tests
        first = p.rows[0]
        wrong_first = dataclasses.replace(first, calc=dataclasses.replace(
            first.calc, macs=first.calc.macs + 5_000_000))
        return dataclasses.replace(p, rows=(wrong_first, *p.rows[1:]),
                                   totals={**p.totals, "params": p.totals["params"] + 10**6})

    monkeypatch.setattr(analysis, "profile", wrong)
    vgg = paper_check.check("vgg16")
    assert not vgg.loc[vgg["quantity"] == "parameters", "agrees"].any()  # 139M against 138M
    assert (vgg.loc[vgg["quantity"] == "parameters", "why"] == paper_check.UNEXPLAINED).all()
    alexnet = paper_check.check("alexnet")
    row = cell(alexnet, "conv1 MACs")
    assert (row["ours"], row["agrees"], row["why"]) == ("78M", False, paper_check.UNEXPLAINED)
    assert not cell(alexnet, "parameters")["agrees"]


def test_checked_at_the_notes_input_size() -> None:
    """AlexNet's table is for 227x227; a profile at 224 is shown, so the panel says so."""
    frame = paper_check.check("alexnet", cnnlib.profile("alexnet"))
    assert frame.attrs["input_size"] == (3, 227, 227)
    assert "3x224x224" in frame.attrs["note"] and "3x227x227" in frame.attrs["note"]
    assert cell(frame, "conv1 memory")["agrees"]  # 64x56x56 at 227; 64x55x55 at 224
    same = paper_check.check("alexnet", cnnlib.profile("alexnet", "3x227x227"))
    assert same.attrs["note"] == "" and same.equals(frame)
    assert paper_check.check("vgg16", cnnlib.profile("vgg16", "3x96x96")).attrs["note"]


def test_comparison_models_and_ilsvrc_models_are_zoo_models() -> None:
    for name, options in paper_check.COMPARISON_MODELS.values():
        assert cnnlib.profile(name, **options).totals["params"] > 0
    assert set(paper_check.ILSVRC_MODELS.values()) <= set(registry.names())
