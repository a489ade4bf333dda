"""The Layer lab: the slides' worked numbers come out of the formulas, the convolution
arithmetic agrees with a real ``F.conv2d``, and the page renders every section, opens deep links
and turns bad input into a message.

Oracles: torch itself (output shapes, parameter counts, which input pixels a convolution's
output depends on, max pooling) and the numbers printed in the slides
(cnnlib/reference/README.md).
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnlib import layer_lab
from cnnlib.errors import CnnlibError, InputTooSmallError
from cnnlib.formulas import short

# ---------------------------------------------------------------- the slides' cost examples


def test_inception_28x28x192_to_32_costs_120M_against_12_4M() -> None:
    cmp = layer_lab.inception_cost()
    direct, reduced = cmp.table["macs"].tolist()
    assert direct == 120_422_400 and short(direct).startswith("120")
    assert cmp.layers["macs"].tolist() == [120_422_400, 2_408_448, 10_035_200]
    assert reduced == 2_408_448 + 10_035_200 == 12_443_648
    assert short(reduced) == "12.4M"
    assert cmp.quantity == "macs" and cmp.ratio == pytest.approx(120_422_400 / 12_443_648)
    assert "32*28*28*192*5*5 = 120,422,400" in cmp.table["formula"][0]
    assert "2,408,448" in cmp.table["formula"][1] and "12,443,648" in cmp.table["formula"][1]
    assert cmp.table["output"].tolist() == ["32x28x28", "32x28x28"]
    assert cmp.table["receptive_field"].tolist() == [5, 5]


def test_inception_14x14x480_to_48_costs_112_9M_against_1_5M_plus_3_8M() -> None:
    cmp = layer_lab.inception_cost(**layer_lab.INCEPTION_EXAMPLES["14x14x480 -> 48"])
    direct, reduced = cmp.table["macs"].tolist()
    assert short(direct) == "112.9M"
    one, five = cmp.layers["macs"].tolist()[1:]
    assert (short(one), short(five), short(reduced)) == (
        "1.5M", "3.8M", "5.3M")
    assert one + five == reduced
    assert abs((1.5e6 + 3.8e6) - reduced) < 0.1e6  # the slides' sum, within their rounding


def test_resnet_bottleneck_600K_against_70K() -> None:
    cmp = layer_lab.resnet_bottleneck_cost()
    assert cmp.table["params"].tolist() == [256 * 256 * 3 * 3, 69_632] == [589_824, 69_632]
    assert cmp.layers["params"].tolist()[1:] == [16_384, 36_864, 16_384]
    assert cmp.quantity == "params" and cmp.ratio == pytest.approx(589_824 / 69_632)
    assert cmp.table["layers"].tolist() == [1, 3]
    wide = layer_lab.resnet_bottleneck_cost(channels=1024, width=256)
    assert wide.table["params"].tolist() == [1024 * 1024 * 9, 2 * 1024 * 256 + 256 * 256 * 9]


@pytest.mark.parametrize("channels", [1, 3, 64, 256, 512])
def test_three_3x3_are_27C2_against_49C2_and_both_see_7(channels: int) -> None:
    cmp = layer_lab.stacked_3x3_cost(channels=channels, h=14)
    big, stack = cmp.table.to_dict(orient="records")
    assert big["params"] == 49 * channels**2 and stack["params"] == 27 * channels**2
    assert big["receptive_field"] == stack["receptive_field"] == 7
    assert big["design"] == "one 7x7 conv" and stack["layers"] == 3
    assert "49C^2" in big["formula"] and "27C^2" in stack["formula"]
    assert cmp.ratio == pytest.approx(49 / 27)
    assert cmp.layers["receptive_field"].tolist() == [7, 3, 5, 7]  # the stack grows by 2


@pytest.mark.parametrize("n", [1, 2, 4, 5])
def test_n_stacked_3x3_against_one_2n_plus_1(n: int) -> None:
    cmp = layer_lab.stacked_3x3_cost(channels=8, n=n, h=24)
    big, stack = cmp.table.to_dict(orient="records")
    side = 2 * n + 1
    assert big["receptive_field"] == stack["receptive_field"] == side
    assert big["params"] == side**2 * 64 and stack["params"] == 9 * n * 64
    assert big["design"] == f"one {side}x{side} conv"


def test_short_counts_as_the_slides_round() -> None:
    assert [short(v) for v in (999, 69_632, 589_824, 12_443_648, 3 * 10**9)] == [
        "999", "69.6K", "589.8K", "12.4M", "3.0G"]


# ---------------------------------------------------------------- convolution arithmetic


def test_the_slides_misfit_is_explained_not_floored() -> None:
    arith = layer_lab.conv_arithmetic(7, 3, 3, 0)
    assert not arith.fits and arith.out == 2  # PyTorch's floor, reported as such
    fit = arith.fit
    assert fit.exact == Fraction(7, 3)
    assert fit.starts == (0, 3) and fit.uncovered == (6,)
    assert fit.paddings == ((1, 3),) and fit.strides == ((1, 5), (2, 3))
    assert "(7 - 3 + 2*0)/3 + 1 = 2.33" in fit.text and "does not fit" in fit.text
    assert "columns 0-2 and 3-5" in fit.text and "column(s) 6" in fit.text
    assert "P = 1 (output 3)" in fit.text
    assert arith.explain["output_size"] == "(7 - 3 + 2*0)/3 + 1 = 2.33 -> floor 2"
    assert "does not tile" in arith.explain["warning"]
    grid = arith.grid()
    assert grid.cells.shape == (7, 7)
    assert (grid.cells == layer_lab.UNCOVERED).sum() == 13  # row 6 and column 6
    assert grid.windows[["top", "left"]].values.tolist() == [[0, 0], [0, 3], [3, 0], [3, 3]]


def test_padding_that_fits_and_lopsided_padding() -> None:
    assert layer_lab.conv_arithmetic(7, 3, 3, 1).fits
    lopsided = layer_lab.conv_arithmetic(6, 3, 2, 1)  # (6 - 3 + 2)/2 + 1 = 3.5
    assert not lopsided.fits and lopsided.fit.uncovered == ()
    assert lopsided.fit.uncovered_padding == 1 and "lopsided" in lopsided.fit.text
    gaps = layer_lab.conv_arithmetic(7, 1, 2, 0)  # fits, but skips every other column
    assert gaps.fits and gaps.fit.uncovered == (1, 3, 5) and "wider than the filter" in (
        gaps.fit.text)


def _covered_columns(n: int, f: int, s: int, p: int) -> set[int]:
    """Input columns some output depends on: where the input's gradient is non-zero."""
    x = torch.ones(1, 1, n, n, requires_grad=True)
    F.conv2d(x, torch.ones(1, 1, f, f), stride=s, padding=p).sum().backward()
    return {c for c in range(n) if x.grad[0, 0, :, c].abs().sum() > 0}


@pytest.mark.parametrize("n", range(1, 10))
def test_conv_arithmetic_agrees_with_conv2d(n: int) -> None:
    for f, s, p in itertools.product(range(1, 6), range(1, 5), range(3)):
        x = torch.zeros(1, 3, n, n)
        if f > n + 2 * p:
            with pytest.raises(InputTooSmallError, match="does not fit"):
                layer_lab.conv_arithmetic(n, f, s, p, k=2, d=3)
            continue
        arith = layer_lab.conv_arithmetic(n, f, s, p, k=2, d=3)
        real = nn.Conv2d(3, 2, f, stride=s, padding=p)
        assert arith.out_shape == tuple(real(x).shape[1:]), (n, f, s, p)
        assert arith.params == sum(t.numel() for t in real.parameters())
        assert arith.macs == 2 * arith.out**2 * 3 * f * f
        assert len(arith.positions) == arith.out * arith.out
        assert len(arith.grid().windows) == arith.out * arith.out
        assert arith.fits == ((n + 2 * p - f) % s == 0), (n, f, s, p)
        uncovered = set(range(n)) - _covered_columns(n, f, s, p)
        assert set(arith.fit.uncovered) == uncovered, (n, f, s, p)
        for q, out in arith.fit.paddings:
            assert (n + 2 * q - f) % s == 0 and out == (n + 2 * q - f) // s + 1
        for t, out in arith.fit.strides:
            assert (n + 2 * p - f) % t == 0 and out == (n + 2 * p - f) // t + 1


def test_bad_settings_are_sentences() -> None:
    with pytest.raises(InputTooSmallError, match="5x5 filter does not fit the 3x3 input"):
        layer_lab.conv_arithmetic(3, 5, 1, 0)
    for bad in ({"s": 0}, {"p": -1}, {"k": 0}, {"n": 2.5}):
        with pytest.raises(CnnlibError, match="must be a whole number"):
            layer_lab.conv_arithmetic(**{"n": 7, "f": 3, **bad})
    with pytest.raises(CnnlibError, match="odd"):
        layer_lab.inception_cost(kernel=4)
    with pytest.raises(CnnlibError, match="reduce"):
        layer_lab.inception_cost(reduce=0)


# ---------------------------------------------------------------- pooling and 1x1


def test_max_pool_the_slides_example() -> None:
    pooled = layer_lab.max_pool_example()
    assert pooled.output.tolist() == [[6, 8], [3, 4]]
    assert pooled.winners.reshape(-1, 2).tolist() == [[1, 1], [1, 3], [2, 0], [3, 3]]
    assert pooled.winner_of.tolist() == [[-1, -1, -1, -1], [-1, 0, -1, 1], [2, -1, -1, -1],
                                         [-1, -1, -1, 3]]
    assert pooled.window_of.tolist() == [[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3],
                                         [2, 2, 3, 3]]
    assert pooled.winner_window.tolist() == pooled.output_index.tolist() == [[0, 1], [2, 3]]
    assert pooled.explain["output_size"] == "(4 - 2 + 2*0)/2 + 1 = 2"
    overlapping = layer_lab.max_pool_example(kernel=3, stride=1)
    assert overlapping.output.tolist() == [[7, 8], [7, 8]]
    with pytest.raises(InputTooSmallError, match="does not fit"):
        layer_lab.max_pool_example(kernel=5)


def test_one_by_one_is_a_linear_layer_at_every_position() -> None:
    nin = layer_lab.one_by_one()
    assert nin.out_shape == (16, 6, 6) and nin.positions == 36
    conv = nn.Conv2d(32, 16, 1)
    assert nin.params == nin.linear_params == sum(t.numel() for t in conv.parameters())
    assert nin.macs == nin.linear_macs == 36 * 32 * 16
    assert "fully connected" in nin.sentence and "36 positions" in nin.sentence
    assert nin.explain["params"] == "16*32*1*1 + 16 = 528"


# ---------------------------------------------------------------- the page


@pytest.mark.parametrize("section,metric", [
    ("conv", "3 x 3 x 2"), ("pool", None), ("1x1", "6 x 6 x 16"), ("inception", "120.4M"),
    ("bottleneck", "589.8K"), ("stack", "200.7K")])
def test_every_section_renders(open_page, section: str, metric: str | None) -> None:
    at = open_page("app/layer_lab.py", section=section)
    assert at.title[0].value == "Layer lab"
    if metric:
        assert at.metric[0].value == metric
    else:
        assert len(at.table) == 2
        assert at.table[1].value.values.tolist() == [[6, 8], [3, 4]]
    assert at.query_params["section"] == section


def test_the_misfit_deep_link_warns(open_page) -> None:
    at = open_page("app/layer_lab.py", section="conv", n="7", f="3", s="3", p="0")
    assert at.metric[0].value == "2 x 2 x 2"
    assert any("Stride 3 does not fit" in w.value and "2.33" in w.value for w in at.warning)
    at.number_input(key="p").set_value(1).run()
    assert not at.exception
    assert not at.warning and at.query_params["p"] == "1"
    assert at.metric[0].value == "3 x 3 x 2"


def test_a_filter_larger_than_the_padded_input_is_a_message(open_page) -> None:
    at = open_page("app/layer_lab.py", clean=False, section="conv", n="3", f="5", p="0")
    assert not at.exception
    assert any("does not fit the 3x3 input" in e.value for e in at.error), [
        e.value for e in at.error]
    at = open_page("app/layer_lab.py", section="conv", n="oops")
    assert any("'oops' is not a whole number" in w.value for w in at.warning)


def test_inception_presets_and_unknown_section(open_page) -> None:
    at = open_page("app/layer_lab.py", section="inception")
    at.button(key="preset-14x14x480 -> 48").click().run()
    assert not at.exception
    assert [m.value for m in at.metric[:2]] == ["112.9M", "5.3M"]
    assert at.query_params["inc_cin"] == "480"
    at = open_page("app/layer_lab.py", section="nope")
    assert any("'nope' is not a valid section" in w.value for w in at.warning)
