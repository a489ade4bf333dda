"""Design-rule hints: each rule fires on a spec that breaks it, at the right token, with the
numbers layer_lab and formulas compute, stays quiet on a spec that follows it, and no valid
spec at all makes hints() raise."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from cnnlib import design_rules, formulas, insights, spec
from cnnlib.design_rules import Hint, hints
from cnnlib.errors import SpecError
from cnnlib.formulas import short
from cnnlib.layer_lab import inception_cost, stacked_3x3_cost
from cnnlib.spec import EXAMPLE_INPUTS, EXAMPLES

LARGE = "Stack 3x3 convs instead of a large filter"
BOTTLENECK = "Reduce the channels with a 1x1 conv first"
PADDING = "Pad the convs; let pooling shrink the map"
LINEAR = "Add a non-linearity between weight layers"
HEAVY_FC = "Average-pool before the first fc"
SUMMARY = "Where the cost is"


def hints_of(text: str, size: tuple[int, int, int] = (3, 32, 32)) -> list[Hint]:
    return hints(text, spec.profile_spec(text, size))


def fired(found: list[Hint], rule: str) -> list[Hint]:
    return [h for h in found if h.rule == rule]


def check_well_formed(text: str, found: list[Hint]) -> None:
    """Positions point at their tokens, the order is the text's, the summary comes last, and
    every message is markdown-safe plain text."""
    for h in found:
        assert h.message and "*" not in h.message and "`" not in h.message
        if h.position >= 0:
            assert text[h.position:].startswith(h.token)
        else:
            assert h.token == ""
    positions = [h.position for h in found if h.position >= 0]
    assert positions == sorted(positions)
    assert all(h.position >= 0 for h in found[:-1]) and found[-1].rule == SUMMARY


# ---------------------------------------------------------------- rule 1: large filters


def test_a_7x7_conv_gets_the_stacked_3x3_numbers() -> None:
    found = hints_of("conv7-64 relu", (64, 56, 56))
    (hint,) = fired(found, LARGE)
    assert (hint.token, hint.position) == ("conv7-64", 0)
    big, stack = stacked_3x3_cost(64, 3, 56).table["params"]  # 49C^2 and 27C^2 (VGG)
    assert f"27 x 64^2 = {stack:,} weights instead of 49 x 64^2 = {big:,}" in hint.message
    assert "3 stacked 3x3 convs" in hint.message and "2 more non-linearities" in hint.message
    assert "It reads" not in hint.message  # C in = C out: the slides' comparison is exact


def test_a_first_layer_large_filter_is_honest_about_its_few_input_channels() -> None:
    (hint,) = fired(hints_of("conv7-64 relu", (3, 224, 224)), LARGE)
    own = 7 * 7 * 3 * 64
    layer = nn.Conv2d(3, 64, 3, padding=1, bias=False, device="meta")
    first = formulas.conv(layer, (1, 3, 224, 224)).params
    exact = first + 2 * stacked_3x3_cost(64, 1, 224).table["params"].iloc[1]
    assert f"= {own:,} weights" in hint.message and f"would hold {exact:,}: more" in hint.message


def test_stacked_3x3_convs_and_even_kernels_get_no_large_filter_hint() -> None:
    assert not fired(hints_of("[conv3-64 relu]*3"), LARGE)
    assert not fired(hints_of("conv4-64 relu"), LARGE)


def test_a_repeated_token_gets_one_hint() -> None:
    found = hints_of("[conv7-64 relu]*3 maxpool", (64, 32, 32))
    assert len(fired(found, LARGE)) == 1


# ---------------------------------------------------------------- rule 2: 1x1 bottleneck


def test_an_expensive_conv_on_many_channels_gets_the_inception_numbers() -> None:
    (hint,) = fired(hints_of("conv3-256 relu", (256, 28, 28)), BOTTLENECK)
    direct, reduced = inception_cost(28, 256, 256, 64, 3).table["macs"]  # a "same" conv
    assert f"does {short(int(direct))} of the net's" in hint.message
    assert f"= {short(int(reduced))}, {direct / reduced:.1f}x fewer" in hint.message
    slides = inception_cost(28, 192, 32, 16, 5).table["macs"]
    assert f"{short(int(slides.iloc[0]))} vs {short(int(slides.iloc[1]))}" in hint.message


def test_cheap_or_thin_convs_get_no_bottleneck_hint() -> None:
    assert not fired(hints_of("conv3-32 relu", (32, 28, 28)), BOTTLENECK)  # too few channels
    assert not fired(hints_of("conv1-256 relu", (256, 28, 28)), BOTTLENECK)  # already 1x1
    # conv3-64 reads 64 channels but does a tiny share of the multiply-adds.
    text = "conv3-64 relu " + "conv3-512 relu " * 3
    found = fired(hints_of(text, (64, 4, 4)), BOTTLENECK)
    assert found and all(h.token == "conv3-512" for h in found)


def test_at_most_two_bottleneck_hints() -> None:
    found = hints_of(EXAMPLES["vgg16"], EXAMPLE_INPUTS["vgg16"])
    assert len(fired(found, BOTTLENECK)) == design_rules.MAX_BOTTLENECK_HINTS


# ---------------------------------------------------------------- rule 3: padding


def test_an_unpadded_stride_1_conv_is_told_to_pad() -> None:
    (hint,) = fired(hints_of("conv5-32p0 relu"), PADDING)
    assert (hint.token, hint.position) == ("conv5-32p0", 0)
    assert "32x32 map to 28x28" in hint.message and "(32 - 5 + 2 x 0)/1 + 1 = 28" in hint.message
    assert "write conv5-32p2" in hint.message
    fixed = spec.profile_spec("conv5-32p2 relu", (3, 32, 32))  # the fix keeps the size
    assert fixed.totals["output_shape"] == "32x32x32"


@pytest.mark.parametrize("text", ["conv5-32p2 relu", "conv5-32 relu", "conv3-32/2 relu",
                                  "conv3-32p3 relu", "conv32-8p0 relu"])
def test_padded_strided_or_fc_like_convs_are_not_told_to_pad(text: str) -> None:
    # conv5-32 pads "same" by default; a stride shrinks on purpose; conv32-8p0 on a 32x32
    # map leaves one position, a fully connected layer in disguise (LeNet's C5).
    assert not fired(hints_of(text), PADDING)


# ---------------------------------------------------------------- rule 4: non-linearities


def test_two_convs_without_an_activation_collapse() -> None:
    (hint,) = fired(hints_of("conv3-64 conv3-64 relu"), LINEAR)
    assert (hint.token, hint.position) == ("conv3-64", 0)
    assert "collapse into one linear map" in hint.message
    assert "Add relu after conv3-64" in hint.message


@pytest.mark.parametrize(("text", "first"), [
    ("conv3-8 bn dropout conv3-8 relu", "conv3-8"),
    ("conv3-8 relu fc64 fc10", "fc64"),
    ("conv3-8 gap fc10", "conv3-8"),
    ("conv3-8 relu avgpool conv3-16 relu", None),
    ("conv3-8 bn relu conv3-8 bn relu gap fc10", None),
    ("conv3-16 res3-16 gap fc10", "conv3-16"),  # the block starts with a conv, ends in relu
    ("conv3-16 bn inception(8,8,8,8,8,8) gap fc10", "conv3-16"),
    ("conv3-16 relu res3-16 gap fc10", None),
    ("conv3-8 relu fc100 tanh fc10", None),
])
def test_the_first_weight_layer_without_an_activation_after_it(text: str, first: str | None
                                                               ) -> None:
    found = fired(hints_of(text), LINEAR)
    if first is None:
        assert not found
    else:
        assert [h.token for h in found] == [first]
        assert text[found[0].position:].startswith(first)


def test_only_a_max_pool_between_weight_layers_is_a_weak_non_linearity() -> None:
    (hint,) = fired(hints_of("conv3-8 maxpool conv3-8 relu"), LINEAR)
    assert "only maxpool" in hint.message and "collapse" not in hint.message


# ---------------------------------------------------------------- rule 5: the heavy fc


def test_vgg16_gets_the_global_average_pool_hint_and_no_layer_hints() -> None:
    text = EXAMPLES["vgg16"]
    found = hints_of(text, EXAMPLE_INPUTS["vgg16"])
    check_well_formed(text, found)
    (hint,) = fired(found, HEAVY_FC)
    assert hint.position == text.index("fc4096")
    fc = formulas.linear(nn.Linear(25088, 4096, device="meta"), (1, 25088))
    gap = formulas.linear(nn.Linear(512, 4096, device="meta"), (1, 512))
    assert "512x7x7 map flattened, 25,088 inputs, and holds 74% of the parameters" in hint.message
    assert f"25088 x 4096 + 4096 = {fc.params:,}" in hint.message
    assert f"512 x 4096 + 4096 = {gap.params:,} ({short(gap.params)})" in hint.message
    for rule in (LARGE, PADDING, LINEAR):
        assert not fired(found, rule)


@pytest.mark.parametrize("text", [
    "conv3-8 relu gap fc10",  # gap leaves one number per channel already
    "fc4096 relu fc10",  # the raw image: no feature channels to average
    "[conv3-64 relu]*3 maxpool fc10",  # the fc holds 12% of the parameters
    "conv3-8 relu fc16 relu fc4096 relu fc10",  # fc4096 holds 58%, but reads fc16's vector
])
def test_no_heavy_fc_hint_after_gap_on_the_image_after_an_fc_or_when_light(text: str) -> None:
    assert not fired(hints_of(text, (3, 8, 8)), HEAVY_FC)


# ---------------------------------------------------------------- the examples and the summary


def test_alexnet_gets_the_large_filter_hint_on_its_11x11_and_5x5() -> None:
    text = EXAMPLES["alexnet"]
    found = hints_of(text, EXAMPLE_INPUTS["alexnet"])
    check_well_formed(text, found)
    assert [h.token for h in fired(found, LARGE)] == ["conv11-64/4p2", "conv5-192"]
    assert fired(found, HEAVY_FC)[0].position == text.index("fc4096")


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_every_example_gets_hints_ending_with_the_summary(name: str) -> None:
    text = EXAMPLES[name]
    profile = spec.profile_spec(text, EXAMPLE_INPUTS[name])
    found = hints(text, profile)
    check_well_formed(text, found)
    assert found[-1] == Hint(SUMMARY, " ".join(insights.sentences(profile)), "", -1)


def test_a_net_that_follows_every_rule_gets_only_the_summary() -> None:
    found = hints_of("[conv3-32 relu]*2 maxpool [conv3-32 relu]*2 gap fc10")
    assert [h.rule for h in found] == [SUMMARY]


# ---------------------------------------------------------------- robustness

_TOKENS = ["conv3-64", "conv5-32p0", "conv7-16", "conv11-96/4p2", "conv1-16", "conv3-128/2",
           "conv4-8", "conv5-8/1", "conv3-8p3", "maxpool", "avgpool", "maxpool3/2", "avgpool7/1",
           "lrn", "bn", "relu", "tanh", "softmax", "dropout", "flatten", "fc10", "fc256", "gap",
           "res3-64", "resA3-32/2", "bottleneck-16-64", "inception(8,8,8,8,8,8)", "[conv3-8]*2"]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tokens=st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=10),
       size=st.sampled_from([(3, 32, 32), (64, 16, 16), (1, 8, 8), (3, 7, 9)]))
def test_hints_never_raise_on_a_valid_spec(tokens: list[str], size: tuple[int, int, int]
                                           ) -> None:
    text = " ".join(tokens)
    try:
        profile = spec.profile_spec(text, size)
    except SpecError:
        return
    check_well_formed(text, hints(text, profile))
