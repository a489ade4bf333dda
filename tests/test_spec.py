"""The network notation (cnnlib.spec) against the zoo, its error messages, limits and CLI.

The classic nets written in the notation must equal the zoo's models layer for layer (same
parameters, same output shapes), every mistake must be a SpecError at the right token, and
no text at all may make it raise anything else, build anything real, or outgrow its limits.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torchvision.models.resnet import BasicBlock, Bottleneck

import cnnlib
from cnnlib import analysis, spec
from cnnlib.__main__ import main
from cnnlib.errors import SpecError
from cnnlib.meta import MetaBuild
from cnnlib.models import googlenet, registry
from cnnlib.models.cifar import CifarBlock, ShortcutA
from cnnlib.spec import EXAMPLE_INPUTS, EXAMPLES, build_from_spec, parse, profile_spec


def rows(result: analysis.Profile, skip: tuple[str, ...] = ()) -> list[tuple[str, int]]:
    """(output shape, params) of every row, leaving out the layer types in ``skip``."""
    layers = result.layers[~result.layers["type"].isin(skip)]
    return list(zip(layers["output_shape"], layers["params"], strict=True))


def numbers(layers: list[spec.Layer]) -> list[tuple]:
    """A parsed spec without its tokens and positions: what the layers are."""
    return [(type(layer).__name__, *dataclasses.astuple(layer)[2:]) for layer in layers]


# ---------------------------------------------------------------- the examples equal the zoo


@pytest.mark.parametrize("name", ["vgg11", "vgg13", "vgg16_c", "vgg16", "vgg19"])
def test_vgg_configurations_match_the_zoo(name: str) -> None:
    ours, zoo = profile_spec(EXAMPLES[name]), cnnlib.profile(name)
    assert ours.totals["params"] == zoo.totals["params"]
    # torchvision's AdaptiveAvgPool2d(7) is the identity at 224 (and has no parameters).
    assert rows(ours) == rows(zoo, skip=("AdaptiveAvgPool2d",))
    assert ours.totals["depth"] == zoo.totals["depth"]


def test_alexnet_matches_torchvision_layer_for_layer() -> None:
    ours, zoo = profile_spec(EXAMPLES["alexnet"]), cnnlib.profile("alexnet")
    assert ours.totals["params"] == zoo.totals["params"] == 61_100_840
    assert rows(ours) == rows(zoo, skip=("AdaptiveAvgPool2d",))
    # conv1's 55.25 at 224 is a warning that points at the token, not an error.
    assert ours.warnings == (
        f"`conv11-64/4p2` at {EXAMPLES['alexnet'].index('conv11')} (conv1): stride 4 does not "
        "tile the input: (224 - 11 + 2*2)/4 + 1 = 55.25 -> floor 55; the last 1 padded "
        "row(s)/column(s) are never covered",)


def test_lenet5_matches_the_zoo_in_every_number() -> None:
    ours = profile_spec(EXAMPLES["lenet5"], EXAMPLE_INPUTS["lenet5"])
    zoo = cnnlib.profile("lenet5")
    assert rows(ours) == rows(zoo)
    assert ours.totals == zoo.totals and ours.totals["params"] == 61_706


def test_cifar_resnet20_matches_the_zoo() -> None:
    ours = profile_spec(EXAMPLES["cifar_resnet20"], EXAMPLE_INPUTS["cifar_resnet20"])
    zoo = cnnlib.profile("cifar_resnet20")
    assert ours.totals["params"] == zoo.totals["params"] == 269_722
    convs = [rows(p, skip=tuple(set(p.layers["type"]) - {"Conv2d"})) for p in (ours, zoo)]
    assert convs[0] == convs[1] and len(convs[0]) == 19
    assert rows(ours) == rows(zoo)  # every row, option A shortcuts and additions included
    assert {k: ours.totals[k] for k in ("macs", "depth")} == {k: zoo.totals[k]
                                                             for k in ("macs", "depth")}


def test_googlenet_3a_3b_matches_the_zoo_modules() -> None:
    ours = profile_spec(EXAMPLES["googlenet_3a_3b"], EXAMPLE_INPUTS["googlenet_3a_3b"])
    with MetaBuild():
        zoo = registry.build("googlenet")
    expected = sum(p.numel() for m in (zoo.inception3a, zoo.inception3b) for p in m.parameters())
    assert ours.totals["params"] == expected
    assert ours.totals["output_shape"] == "480x28x28"
    paper = cnnlib.profile("googlenet").layers
    paper = paper[paper["block"].str.match(r"inception3[ab]\b")]
    assert list(ours.layers["output_shape"]) == list(paper["output_shape"])


def test_every_example_is_documented_and_fits_its_input() -> None:
    assert set(EXAMPLE_INPUTS) == set(EXAMPLES)
    for name, text in EXAMPLES.items():
        assert text.lstrip().startswith("#"), name  # each explains itself in a comment
        profile_spec(text, EXAMPLE_INPUTS[name])


# ---------------------------------------------------------------- the notation


@pytest.mark.parametrize("token,expected", [
    ("conv3-64", ("Conv", 3, 64, 1, 1)),
    ("conv11-96/4", ("Conv", 11, 96, 4, 0)),  # a stride given: padding 0 unless given
    ("conv5-256/1p2", ("Conv", 5, 256, 1, 2)),
    ("conv5-6p0", ("Conv", 5, 6, 1, 0)),
    ("conv1-256", ("Conv", 1, 256, 1, 0)),
    ("maxpool", ("Pool", "max", 2, 2, 0)),
    ("maxpool3/2", ("Pool", "max", 3, 2, 0)),
    ("avgpool2", ("Pool", "avg", 2, 2, 0)),
    ("avgpool7/1", ("Pool", "avg", 7, 1, 0)),
    ("maxpool3/1p1", ("Pool", "max", 3, 1, 1)),
    ("lrn", ("LocalResponseNorm",)),
    ("bn", ("BatchNorm",)),
    ("tanh", ("Activation", "tanh")),
    ("dropout0.5", ("Dropout", 0.5)),
    ("dropout.2", ("Dropout", 0.2)),
    ("dropout", ("Dropout", 0.5)),
    ("flatten", ("Flatten",)),
    ("fc4096", ("Linear", 4096)),
    ("gap", ("GlobalAvgPool",)),
    ("softmax", ("Activation", "softmax")),
    ("res3-64", ("Residual", 64, 1, False)),
    ("res3-128/2", ("Residual", 128, 2, False)),
    ("resA3-32/2", ("Residual", 32, 2, True)),
    ("bottleneck-64-256/2", ("Bottleneck", 64, 256, 2)),
    ("inception(64, 96, 128, 16, 32, 32)", ("Inception", 64, 96, 128, 16, 32, 32)),
])
def test_tokens(token: str, expected: tuple) -> None:
    (layer,) = parse(token)
    assert numbers([layer]) == [expected]
    assert (layer.token, layer.position) == (token, 0)


def test_groups_repetitions_separators_comments_and_case() -> None:
    assert numbers(parse("[conv3-64 relu]*2 maxpool")) == numbers(
        parse("conv3-64 relu conv3-64 relu maxpool"))
    vgg_like = parse("([conv3-128 relu]*2 maxpool)*3")
    assert len(vgg_like) == 15 and vgg_like[0] is vgg_like[5]  # expanded, nodes shared
    assert len(parse("relu*2*3")) == 6
    assert numbers(parse("CONV3-64,ReLU # a comment, [not a group\n\tMaxPool3/2")) == numbers(
        parse("conv3-64 relu maxpool3/2"))
    assert [layer.position for layer in parse("conv3-64 (relu)*2")] == [0, 10, 10]
    assert len(parse("[relu]*1000")) == spec.MAX_LAYERS
    assert parse("conv3-16384")[0].filters == spec.MAX_CHANNELS


def test_names_origins_and_a_real_forward() -> None:
    net = build_from_spec("conv3-64 relu maxpool fc10", (3, 32, 32))
    assert [name for name, _ in net.named_children()] == ["conv1", "relu1", "pool1", "flatten1",
                                                          "fc1"]
    assert net.origins["flatten1"] == net.origins["fc1"] == spec.Linear("fc10", 22, 10)
    assert net.fc1.in_features == 64 * 16 * 16
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert not any(p.is_meta for p in net.parameters())
    meta = build_from_spec("conv3-64 relu maxpool fc10", (3, 32, 32), device="meta")
    assert all(p.is_meta for p in meta.parameters())
    assert cnnlib.build_from_spec is build_from_spec and cnnlib.profile_spec is profile_spec


def test_conv_before_bn_has_no_bias_and_relu_is_in_place_only_where_safe() -> None:
    net = build_from_spec("conv3-8 bn relu conv3-8 relu tanh relu res3-8 relu fc4 relu",
                          (3, 8, 8))
    assert net.conv1.bias is None and net.conv2.bias is not None
    assert [net.get_submodule(f"relu{i}").inplace for i in range(1, 6)] == [
        True, True, False, False, True]
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    before = x.detach().clone()
    net(x).sum().backward()  # no in-place ReLU overwrote a tensor that autograd needs
    assert torch.equal(x.detach(), before)
    assert not build_from_spec("relu conv3-8", (3, 8, 8)).relu1.inplace  # the caller's input


def test_blocks_reuse_the_zoo_classes_with_the_right_shortcuts() -> None:
    net = build_from_spec("conv3-64 res3-64 res3-128/2 resA3-256/2 bottleneck-64-256 "
                          "bottleneck-128-512/2 inception(64,96,128,16,32,32)", (3, 32, 32),
                          device="meta")
    assert type(net.res1) is BasicBlock and net.res1.downsample is None  # identity
    assert [type(m).__name__ for m in net.res2.downsample] == ["Conv2d", "BatchNorm2d"]
    assert net.res2.downsample[0].kernel_size == (1, 1)
    assert type(net.res3) is CifarBlock and type(net.res3.shortcut) is ShortcutA
    assert type(net.bottleneck1) is Bottleneck and net.bottleneck1.downsample is None
    assert net.bottleneck2.conv2.stride == (2, 2)  # v1.5: the stride sits in the 3x3
    assert type(net.inception1) is googlenet.Inception
    assert net.inception1.branch3.conv5x5.kernel_size == (5, 5)  # the paper's real 5x5
    assert profile_spec(net.spec, (3, 32, 32)).totals["output_shape"] == "256x4x4"


# ---------------------------------------------------------------- mistakes


NEST = "[" * 40 + "relu" + "]" * 40
BAD_SPECS = [
    # text, input, token, position, message
    ("convv3-64", None, "convv3-64", 0, "unknown token `convv3-64` at 0 (did you mean conv3-64?)"),
    ("maxpol3/2", None, "maxpol3/2", 0, "(did you mean maxpool3/2?)"),
    ("conv3-64 relu conv3-", None, "conv3-", 14,
     "`conv3-` at 14: expected a filter count after the dash"),
    ("conv3-64-relu", None, "conv3-64-relu", 0, "unexpected `-relu` after `conv3-64`"),
    ("conv3-64 (relu maxpool", None, "(", 9, "`(` at 9 is never closed"),
    ("conv3-64 relu] maxpool", None, "]", 13, "`]` at 13 has no matching `[`"),
    ("[conv3-64 relu)", None, ")", 14, "`)` at 14: does not close `[` at 0"),
    ("conv0-64", None, "conv0-64", 0, "the kernel size must be at least 1, not 0"),
    ("conv3--64", None, "conv3--64", 0, "the filter count must be at least 1, not -64"),
    ("relu fc0", None, "fc0", 5, "`fc0` at 5: the feature count must be at least 1, not 0"),
    ("fc-10", None, "fc-10", 0, "the feature count must be at least 1, not -10"),
    ("maxpool3/2p2", None, "maxpool3/2p2", 0, "a pool's padding can be at most half its window"),
    ("dropout5", None, "dropout5", 0, "expected a probability from 0 to 1"),
    ("res5-64", None, "res5-64", 0, "a residual block's convs are 3x3"),
    ("bottleneck-64-128", None, "bottleneck-64-128", 0, "bottleneck-64-256"),
    ("inception(64,96,128)", None, "inception(64,96,128)", 0, "expected six numbers"),
    ("[conv3-64]*0", None, "0", 11, "`0` at 11: the repeat count must be at least 1, not 0"),
    ("*2 relu", None, "*", 0, "`*` at 0: nothing before it to repeat"),
    ("relu *", None, "*", 5, "`*` at 5: expected a repeat count"),
    ("relu []", None, "[", 5, "an empty group"),
    (NEST, None, "[", 32, "`[` at 32: brackets nest at most 32 deep"),
    ("", None, "", 0, "The spec is empty"),
    ("  # only a comment\n", None, "", 0, "The spec is empty"),
    # limits, checked before anything is built
    ("[conv3-64]*5000", None, "5000", 11, "the repeat count must be at most 1,000, not 5000"),
    ("[conv3-64]*1000000000", None, "1000000000", 11, "the repeat count must be at most 1,000"),
    ("[conv3-64 relu]*600", None, "600", 16, "repeating 2 layer(s) 600 times makes 1,200 layers"),
    ("[[conv3-64]*1000]*1000", None, "1000", 18, "makes 1,000,000 layers"),
    ("[relu]*1000 relu", None, "relu", 12, "the spec has more than 1,000 layers"),
    ("conv3-16385", None, "conv3-16385", 0,
     "the filter count must be at most 16,384, not 16385 (a limit that keeps"),
    ("inception(9000,1,9000,1,1,1)", None, "inception(9000,1,9000,1,1,1)", 0,
     "its branches concatenate to 18,002 channels"),
    ("conv3-8", (3, 5000, 5000), "(3, 5000, 5000)", -1, "at most 4096 pixels a side"),
    ("conv3-8", "3x22a", "3x22a", -1, "Input size '3x22a' is malformed"),
    # does not fit its input: found on the meta device, reported at the token
    ("conv3-64 maxpool maxpool maxpool fc10", (3, 4, 4), "maxpool", 25,
     "`maxpool` at 25 empties the feature map: "),
    ("conv3-16/4 conv3-16/4 conv3-16/4 gap", (3, 16, 16), "conv3-16/4", 22,
     "a 3-wide window does not fit in 1"),  # the strides shrink 16 -> 4 -> 1
    ("fc10 conv3-64", None, "conv3-64", 5,
     "`conv3-64` at 5: needs a feature map, but the net is flat from `fc10` at 0 on"),
    ("conv3-32 resA3-16", None, "resA3-16", 9, "cannot shrink 32 channels to 16"),
    ("[conv9-8/1p4000]*30 fc10", (3, 4096, 4096), "fc10", 20, "more than the 274,877,906,944"),
    ("conv3-16384 conv3-16384", (3, 8, 8), "conv3-16384", 12,
     "too big to build for real: 2,415,935,488 of the net's 2,416,394,240 parameters"),
]


@pytest.mark.parametrize("text,size,token,position,message", BAD_SPECS)
def test_bad_specs_name_the_token_and_build_nothing(
        monkeypatch: pytest.MonkeyPatch, text: str, size: tuple | str | None, token: str,
        position: int, message: str) -> None:
    devices: list[str] = []
    assemble = spec._assemble

    def spy(text: str, layers: list, size: tuple, device: str) -> spec.SpecNet:
        devices.append(device)
        return assemble(text, layers, size, device)

    monkeypatch.setattr(spec, "_assemble", spy)
    with pytest.raises(SpecError) as info:
        build_from_spec(text, size or (3, 32, 32))
    assert message in str(info.value)
    assert (info.value.token, info.value.position) == (token, position)
    assert "\n" not in str(info.value)
    assert set(devices) <= {"meta"}  # nothing real was built
    try:
        parse(text)
    except SpecError:
        assert devices == []  # a syntax error or a limit: not even the meta net was built
    if position == -1:
        assert devices == []  # so was an input size out of bounds


# ---------------------------------------------------------------- no text breaks it

VALID = ["conv3-8", "conv1-4/2", "conv5-8/2p2", "conv3-4p0", "maxpool", "maxpool3/2",
         "avgpool2", "avgpool3/1p1", "lrn", "relu", "tanh", "sigmoid", "softmax", "bn",
         "dropout0.5", "flatten", "fc10", "gap", "res3-8", "res3-16/2", "resA3-8", "resA3-16/2",
         "bottleneck-4-16", "bottleneck-4-16/2", "inception(4,4,8,2,4,4)"]
INVALID = ["convv3-8", "conv3-", "fc0", "conv0-8", "maxpool3/2p2", "dropout2", "res5-8",
           "bottleneck-4-8", "inception(1,2)", "?", "-", "#", "conv3-99999", "*0", "*x"]
PUNCTUATION = ["[", "]", "(", ")", "*2", "*3"]
SMALL = (3, 16, 16)


def check_builds(text: str) -> None:
    """Parse, analyse and really run ``text``: only SpecError may come out, and a net that is
    built has the shapes its analysis says."""
    try:
        parse(text)
        result = profile_spec(text, SMALL)
        net = build_from_spec(text, SMALL).eval()
    except SpecError:
        return
    with torch.no_grad():
        out = net(torch.randn(2, *SMALL))
    assert analysis.format_shape(out.shape[1:]) == result.totals["output_shape"]


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(max_size=60),
                 st.text(alphabet="conv3-8relu[]()*,# \nmaxpolfcbgdt/.p0", max_size=60)))
def test_random_text_raises_only_spec_errors(text: str) -> None:
    check_builds(text)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(VALID + INVALID + PUNCTUATION), min_size=1, max_size=10),
       st.lists(st.sampled_from([" ", ",", "\n", " , ", "\t"]), min_size=1))
def test_token_soup_raises_only_spec_errors(tokens: list[str], separators: list[str]) -> None:
    text = "".join(tok + separators[i % len(separators)] for i, tok in enumerate(tokens))
    check_builds(text)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(VALID), min_size=1, max_size=8))
def test_valid_token_sequences_build_or_say_why(tokens: list[str]) -> None:
    check_builds(" ".join(tokens))


# ---------------------------------------------------------------- command line


def test_cli_summary_of_a_spec(capsys: pytest.CaptureFixture[str]) -> None:
    text = "conv3-64 relu maxpool fc10"
    assert main(["summary", "--spec", text, "--input", "3x32x32"]) == 0
    table = capsys.readouterr().out
    assert "conv1" in table and "fc1" in table and "165,642 params" in table
    assert main(["summary", "--spec", text, "--input", "3x32x32", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ",".join(analysis.COLUMNS) and len(lines) == 1 + 5
    assert main(["summary", "--spec", text, "--input", "3x32x32", "--format", "json",
                 "--flops"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model"] == "spec" and data["input"] == "3x32x32"
    assert data["layers"][0]["flops"] == 2 * 64 * 32 * 32 * 27
    assert main(["summary", "--spec", EXAMPLES["alexnet"]]) == 0
    assert "warning: `conv11-64/4p2`" in capsys.readouterr().out


@pytest.mark.parametrize("args,message", [
    (["--spec", "convv3-64"], "error: unknown token `convv3-64` at 0 (did you mean conv3-64?)"),
    (["--spec", "conv3-64 maxpool maxpool maxpool", "--input", "3x4x4"],
     "error: `maxpool` at 25 empties the feature map"),
    (["--spec", "[relu]*2000"], "error: `2000` at 7: the repeat count must be at most 1,000"),
])
def test_cli_bad_spec_exits_2_with_one_line(capsys: pytest.CaptureFixture[str], args: list[str],
                                            message: str) -> None:
    assert main(["summary", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [[], ["vgg16", "--spec", "relu"],
                                  ["--spec", "relu", "--option", "groups=1"]])
def test_cli_needs_exactly_one_of_name_and_spec(args: list[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["summary", *args])
    assert info.value.code == 2
