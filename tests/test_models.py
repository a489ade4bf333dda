"""The model zoo: every builder runs, and each net has the paper's shapes and parameter counts.

Parameter counts and structure are checked on meta-built models (no weight memory, built once
each); every model also gets one real forward pass on CPU, which checks the paper's feature-map
sizes through forward hooks on the way.
"""

from __future__ import annotations

import functools

import pytest
import torch
import torch.fx
import torchvision
from torch import nn

from cnnlib.errors import ModelOptionError
from cnnlib.meta import MetaBuild
from cnnlib.models import build, get, names
from cnnlib.models.cifar import cifar_resnet


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@functools.cache
def meta(name: str) -> nn.Module:
    """Model ``name`` built once on the meta device; shared by the structural tests."""
    with MetaBuild():
        return build(name)


def tv_params(tv_name: str) -> int:
    """torchvision's own parameter count for ``tv_name`` (weights metadata, no download)."""
    return torchvision.models.get_model_weights(tv_name).DEFAULT.meta["num_params"]


# Exact counts for the nets torchvision does not build (those are checked against torchvision).
EXACT_PARAMS = {
    "lenet5": 61_706,
    "alexnet_original": 60_965_224,
    "vgg11_lrn": 132_863_336,
    "vgg16_c": 133_638_952,
    "cifar_resnet20": 269_722,
    "cifar_resnet32": 464_154,
    "cifar_resnet44": 658_586,
    "cifar_resnet56": 853_018,
    "cifar_resnet110": 1_727_962,
}

# Feature-map shapes (C, H, W) after named layers, checked during the real forward pass.
SHAPES = {
    "lenet5": {"c1": (6, 28, 28), "s2": (6, 14, 14), "c3": (16, 10, 10), "s4": (16, 5, 5),
               "c5": (120, 1, 1)},
    "alexnet_original": {"conv1": (96, 55, 55), "pool1": (96, 27, 27), "conv2": (256, 27, 27),
                         "pool2": (256, 13, 13), "conv5": (256, 13, 13), "pool5": (256, 6, 6)},
    "zfnet": {"conv1": (96, 110, 110), "pool1": (96, 55, 55), "conv2": (256, 26, 26),
              "pool2": (256, 13, 13), "conv5": (256, 13, 13), "pool5": (256, 6, 6)},
    "nin": {"mlpconv1": (96, 54, 54), "pool3": (384, 5, 5), "mlpconv4": (1000, 5, 5)},
    "googlenet": {"conv1": (64, 112, 112), "pool1": (64, 56, 56), "conv2": (192, 56, 56),
                  "pool2": (192, 28, 28), "inception3a": (256, 28, 28),
                  "inception3b": (480, 28, 28), "pool3": (480, 14, 14),
                  "inception4a": (512, 14, 14), "inception4b": (512, 14, 14),
                  "inception4c": (512, 14, 14), "inception4d": (528, 14, 14),
                  "inception4e": (832, 14, 14), "pool4": (832, 7, 7),
                  "inception5a": (832, 7, 7), "inception5b": (1024, 7, 7),
                  "avgpool": (1024, 1, 1)},
    # v1 strides in the first 1x1 conv of a downsampling bottleneck, v1.5 in the 3x3.
    "resnet50": {"layer2.0.conv1": (128, 28, 28), "layer2.0.conv2": (128, 28, 28)},
    "resnet50_v1_5": {"layer2.0.conv1": (128, 56, 56), "layer2.0.conv2": (128, 28, 28)},
    "cifar_resnet20": {"layer1": (16, 32, 32), "layer2": (32, 16, 16), "layer3": (64, 8, 8)},
    "cifar_plain20": {"layer1": (16, 32, 32), "layer2": (32, 16, 16), "layer3": (64, 8, 8)},
}


@pytest.mark.parametrize("name", names())
def test_real_forward(name: str) -> None:
    info = get(name)
    torch.manual_seed(0)
    model = build(name).eval()
    assert n_params(model) == n_params(meta(name))
    seen: dict[str, tuple[int, ...]] = {}
    modules = dict(model.named_modules())
    for layer in SHAPES.get(name, {}):
        modules[layer].register_forward_hook(
            lambda _m, _i, out, layer=layer: seen.__setitem__(layer, tuple(out.shape[1:]))
        )
    with torch.no_grad():
        out = model(torch.randn(1, *info.input_size))
    assert out.shape == (1, info.num_classes)
    assert torch.isfinite(out).all()
    assert seen == SHAPES.get(name, {})


@pytest.mark.parametrize("name", names())
def test_meta_build_and_fx_trace(name: str) -> None:
    model = meta(name)
    assert all(p.is_meta for p in model.parameters())
    assert all(b.is_meta for b in model.buffers())
    graph = torch.fx.symbolic_trace(model)
    out = graph(torch.empty(1, *get(name).input_size, device="meta"))
    assert out.shape == (1, get(name).num_classes)


@pytest.mark.parametrize("name", [n for n in names() if get(n).torchvision])
def test_torchvision_backed_counts(name: str) -> None:
    assert n_params(meta(name)) == tv_params(get(name).torchvision)


@pytest.mark.parametrize("name", EXACT_PARAMS)
def test_exact_counts(name: str) -> None:
    assert n_params(meta(name)) == EXACT_PARAMS[name]


def test_vgg_counts() -> None:
    millions = {"vgg11": 133, "vgg11_lrn": 133, "vgg13": 133, "vgg16_c": 134, "vgg16": 138,
                "vgg19": 144}
    assert {n: round(n_params(meta(n)) / 1e6) for n in millions} == millions
    # C is D with the third conv of stages 3-5 shrunk from 3x3 to 1x1 (8 of 9 taps gone).
    saved = 8 * (256 * 256 + 512 * 512 + 512 * 512)
    assert n_params(meta("vgg16")) - n_params(meta("vgg16_c")) == saved
    assert n_params(meta("vgg11_lrn")) == n_params(meta("vgg11"))  # LRN has no parameters
    conv1x1 = [m for m in meta("vgg16_c").features if isinstance(m, nn.Conv2d)
               and m.kernel_size == (1, 1)]
    assert [m.out_channels for m in conv1x1] == [256, 512, 512]
    with MetaBuild():
        assert n_params(build("vgg11", batch_norm=True)) == tv_params("vgg11_bn")


def test_alexnet_original_groups() -> None:
    with MetaBuild():
        assert n_params(build("alexnet_original", groups=1)) == 62_378_344
    with pytest.raises(ModelOptionError, match="groups"):
        build("alexnet_original", groups=4)
    model = meta("alexnet_original")
    assert [model.get_submodule(f"conv{i}").groups for i in range(1, 6)] == [1, 2, 1, 2, 2]
    assert isinstance(model.norm1, nn.LocalResponseNorm)


def test_lenet5_styles() -> None:
    classic, modern = meta("lenet5"), build("lenet5", style="modern")
    assert isinstance(classic.s2, nn.AvgPool2d) and isinstance(classic.act1, nn.Tanh)
    assert isinstance(modern.s2, nn.MaxPool2d) and isinstance(modern.act1, nn.ReLU)
    assert n_params(modern) == 61_706
    with torch.no_grad():
        assert modern(torch.randn(1, 1, 32, 32)).shape == (1, 10)
    with pytest.raises(ModelOptionError, match="style"):
        build("lenet5", style="fancy")


def test_zfnet_wide_variant() -> None:
    with MetaBuild():
        model = build("zfnet", conv345=(512, 1024, 512))
    assert model.fc6.in_features == 512 * 6 * 6
    assert not any(m.groups != 1 for m in model.modules() if isinstance(m, nn.Conv2d))


def test_googlenet_matches_the_paper() -> None:
    model = meta("googlenet")
    module = model.inception3a
    weights = sum(p.numel() for n, p in module.named_parameters() if n.endswith("weight"))
    assert weights == 163_328
    assert module.branch3.conv5x5.kernel_size == (5, 5)
    assert [type(b) for b in (module.branch1, module.branch2, module.branch3, module.branch4)] \
        == [nn.Sequential] * 4
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert type(model.avgpool) is nn.AvgPool2d
    assert round(n_params(model) / 1e6, 1) == 7.0


def test_resnet_v1_and_plain() -> None:
    for depth in (50, 101, 152):
        v1, v15 = meta(f"resnet{depth}"), meta(f"resnet{depth}_v1_5")
        assert n_params(v1) == n_params(v15)
        for layer in ("layer2", "layer3", "layer4"):
            assert v1.get_submodule(f"{layer}.0.conv1").stride == (2, 2)
            assert v1.get_submodule(f"{layer}.0.conv2").stride == (1, 1)
            assert v15.get_submodule(f"{layer}.0.conv2").stride == (2, 2)
    for depth in (18, 34):
        resnet, plain = meta(f"resnet{depth}"), meta(f"plain{depth}")
        shortcuts = sum(n_params(m) for n, m in resnet.named_modules()
                        if n.endswith("downsample"))
        assert shortcuts > 0
        assert n_params(plain) == n_params(resnet) - shortcuts
        assert not any(n.endswith("downsample") for n, _ in plain.named_modules())


def test_cifar_nets() -> None:
    rounded = {20: 0.27, 32: 0.46, 44: 0.66, 56: 0.85, 110: 1.7}
    for depth, millions in rounded.items():
        count = n_params(meta(f"cifar_resnet{depth}"))
        digits = 1 if depth == 110 else 2
        assert round(count / 1e6, digits) == millions
        assert n_params(meta(f"cifar_plain{depth}")) == count
    with pytest.raises(ModelOptionError, match="6n\\+2"):
        cifar_resnet(21)
    with MetaBuild():
        assert cifar_resnet(8).fc.out_features == 10


def test_num_classes_option() -> None:
    with MetaBuild():
        for name in ("lenet5", "nin", "googlenet", "vgg16_c", "resnet50", "cifar_plain20"):
            model = build(name, num_classes=7)
            out = model(torch.empty(1, *get(name).input_size, device="meta"))
            assert out.shape == (1, 7)
