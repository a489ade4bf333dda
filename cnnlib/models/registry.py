"""The zoo's catalogue: every model's name, metadata and where its builder lives.

The catalogue is plain data and imports no torch, so the dashboard can list the zoo (names,
years, descriptions) before anything heavy is loaded; a builder's module is imported only
when that model is first built. Names are part of the public interface (CLI, URLs, tests).
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cnnlib.errors import ModelOptionError, UnknownModelError

if TYPE_CHECKING:
    from torch import nn

PAPERS = {
    "lenet": "LeCun, Bottou, Bengio, Haffner. Gradient-based learning applied to document "
    "recognition. Proc. IEEE, 1998.",
    "alexnet": "Krizhevsky, Sutskever, Hinton. ImageNet classification with deep convolutional "
    "neural networks. NeurIPS 2012.",
    "alexnet_owt": "Krizhevsky. One weird trick for parallelizing convolutional neural networks. "
    "arXiv:1404.5997, 2014 (the single-GPU variant torchvision implements).",
    "zfnet": "Zeiler, Fergus. Visualizing and understanding convolutional networks. ECCV 2014 "
    "(arXiv:1311.2901, 2013).",
    "vgg": "Simonyan, Zisserman. Very deep convolutional networks for large-scale image "
    "recognition. ICLR 2015 (arXiv:1409.1556, 2014).",
    "nin": "Lin, Chen, Yan. Network in network. ICLR 2014 (arXiv:1312.4400, 2013).",
    "googlenet": "Szegedy et al. Going deeper with convolutions. CVPR 2015 "
    "(arXiv:1409.4842, 2014).",
    "resnet": "He, Zhang, Ren, Sun. Deep residual learning for image recognition. CVPR 2016 "
    "(arXiv:1512.03385, 2015).",
    "resnext": "Xie, Girshick, Dollar, Tu, He. Aggregated residual transformations for deep "
    "neural networks. CVPR 2017 (arXiv:1611.05431, 2016).",
    "densenet": "Huang, Liu, van der Maaten, Weinberger. Densely connected convolutional "
    "networks. CVPR 2017 (arXiv:1608.06993, 2016).",
    "mobilenet_v2": "Sandler, Howard, Zhu, Zhmoginov, Chen. MobileNetV2: inverted residuals "
    "and linear bottlenecks. CVPR 2018 (arXiv:1801.04381, 2018).",
    "mobilenet_v3": "Howard et al. Searching for MobileNetV3. ICCV 2019 (arXiv:1905.02244, "
    "2019).",
    "efficientnet": "Tan, Le. EfficientNet: rethinking model scaling for convolutional neural "
    "networks. ICML 2019 (arXiv:1905.11946, 2019).",
    "regnet": "Radosavovic, Kosaraju, Girshick, He, Dollar. Designing network design spaces. "
    "CVPR 2020 (arXiv:2003.13678, 2020).",
    "vit": "Dosovitskiy et al. An image is worth 16x16 words: transformers for image "
    "recognition at scale. ICLR 2021 (arXiv:2010.11929, 2020).",
    "swin": "Liu et al. Swin transformer: hierarchical vision transformer using shifted "
    "windows. ICCV 2021 (arXiv:2103.14030, 2021).",
    "convnext": "Liu, Mao, Wu, Feichtenhofer, Darrell, Xie. A ConvNet for the 2020s. CVPR 2022 "
    "(arXiv:2201.03545, 2022).",
}

#: The family group of the nets the course leads to after ResNet (torchvision's definitions).
AFTER_RESNET = "After ResNet"


@dataclass(frozen=True)
class ModelInfo:
    """Metadata of one zoo model; ``builder`` is ``"module:function"`` under cnnlib.models."""

    name: str
    family: str
    year: int
    paper: str
    input_size: tuple[int, int, int]
    description: str
    differs: str
    builder: str
    top5_error: float | None = None  # ILSVRC top-5 error (%) of the entry, where it was one
    torchvision: str | None = None  # torchvision model it equals exactly, if any
    num_classes: int = 1000


def _m(name: str, family: str, year: int, paper: str, input_size: tuple[int, int, int],
       description: str, differs: str, builder: str, **extra: Any) -> ModelInfo:
    return ModelInfo(name, family, year, PAPERS[paper], input_size, description, differs,
                     builder, **extra)


_IMAGENET = (3, 224, 224)
_CIFAR = (3, 32, 32)

_MODELS: list[ModelInfo] = [
    _m("lenet5", "LeNet", 1998, "lenet", (1, 32, 32),
       "LeNet-5: two 5x5 conv + subsampling stages and three fully connected layers, ~60k params.",
       "style='classic' (default): tanh and average pooling as in 1998; style='modern': ReLU and "
       "max pooling. C3 is fully connected to S2 (the paper wires it sparsely).",
       "classic:lenet5", num_classes=10),
    _m("alexnet", "AlexNet", 2014, "alexnet_owt", _IMAGENET,
       "AlexNet as torchvision builds it: 64-192-384-256-256 filters, no LRN, one GPU.",
       "The 'one weird trick' single-GPU variant; alexnet_original is the 2012 paper's net.",
       "classic:alexnet", torchvision="alexnet"),
    _m("alexnet_original", "AlexNet", 2012, "alexnet", (3, 227, 227),
       "AlexNet as in 2012: 227x227 input, 96-256-384-384-256 filters, LRN, 60.97M params.",
       "conv2/4/5 split into two groups (the two GPUs); groups=1 joins them (62.38M params). "
       "torchvision's alexnet uses 64-192-384-256-256 filters and no LRN.",
       "classic:alexnet_original", top5_error=16.4),
    _m("zfnet", "ZFNet", 2013, "zfnet", _IMAGENET,
       "ZFNet: AlexNet with a 7x7 stride-2 first layer, found by visualizing AlexNet's filters.",
       "conv1 7x7/2 instead of 11x11/4 and conv2 stride 2, on one GPU (no groups); "
       "conv345=(512, 1024, 512) gives the wider variant some notes describe.",
       "classic:zfnet", top5_error=11.7),
    _m("vgg11", "VGG", 2014, "vgg", _IMAGENET,
       "VGG configuration A: 8 conv (3x3) + 3 fc layers, 133M params.",
       "A: the shallowest VGG; A-LRN adds LRN after conv1.", "vgg:vgg11", torchvision="vgg11"),
    _m("vgg11_lrn", "VGG", 2014, "vgg", _IMAGENET,
       "VGG configuration A-LRN: configuration A with local response normalisation.",
       "A plus one LRN after the first conv (the paper found it does not help).",
       "vgg:vgg11_lrn"),
    _m("vgg13", "VGG", 2014, "vgg", _IMAGENET,
       "VGG configuration B: 10 conv (3x3) + 3 fc layers, 133M params.",
       "B: A with a second 3x3 conv in the first two stages.", "vgg:vgg13", torchvision="vgg13"),
    _m("vgg16_c", "VGG", 2014, "vgg", _IMAGENET,
       "VGG configuration C: VGG-16 with 1x1 convs as the third layer of stages 3-5, 134M params.",
       "C: like D but the last conv of stages 3, 4, 5 is 1x1 (conv1-256/512/512).",
       "vgg:vgg16_c"),
    _m("vgg16", "VGG", 2014, "vgg", _IMAGENET,
       "VGG-16, configuration D: 13 conv (3x3) + 3 fc layers, 138M params.",
       "D: C with 3x3 instead of 1x1 convs; the VGG most courses tabulate.",
       "vgg:vgg16", torchvision="vgg16"),
    _m("vgg19", "VGG", 2014, "vgg", _IMAGENET,
       "VGG-19, configuration E: 16 conv (3x3) + 3 fc layers, 144M params.",
       "E: D with a fourth 3x3 conv in stages 3-5.", "vgg:vgg19", top5_error=7.3,
       torchvision="vgg19"),
    _m("nin", "NiN", 2013, "nin", _IMAGENET,
       "Network in Network: mlpconv blocks (a conv followed by two 1x1 convs), global average "
       "pooling instead of fully connected layers.",
       "The ImageNet variant (4 mlpconv blocks, 11x11/4 first conv, dropout).", "classic:nin"),
    _m("googlenet", "GoogLeNet", 2014, "googlenet", _IMAGENET,
       "GoogLeNet (Inception v1) as in the paper: 22 layers, 9 Inception modules with real 5x5 "
       "branches, LRN, no batch norm: 7.0M params (the paper's table: 6.8M weights, K = 1024).",
       "No auxiliary classifiers (they are training-only); googlenet_tv is torchvision's "
       "version with batch norm and 3x3 where the paper has 5x5.",
       "googlenet:googlenet", top5_error=6.7),
    _m("googlenet_tv", "GoogLeNet", 2014, "googlenet", _IMAGENET,
       "GoogLeNet as torchvision builds it: batch norm, 3x3 convs in the '5x5' branch, "
       "6.6M params.",
       "Differs from the paper (googlenet): batch norm after every conv, no LRN, 3x3 for 5x5.",
       "googlenet:googlenet_tv", torchvision="googlenet"),
]

_RESNET_STAGES = {18: "2-2-2-2", 34: "3-4-6-3", 50: "3-4-6-3", 101: "3-4-23-3", 152: "3-8-36-3"}
for _depth, _stages in _RESNET_STAGES.items():
    _bottleneck = _depth >= 50
    _MODELS.append(_m(
        f"resnet{_depth}", "ResNet", 2015, "resnet", _IMAGENET,
        f"ResNet-{_depth} as in the paper: "
        f"{'bottleneck 1x1-3x3-1x1' if _bottleneck else 'basic 3x3-3x3'} blocks, stages {_stages}.",
        ("v1: a downsampling bottleneck strides in its first 1x1 conv; "
         f"resnet{_depth}_v1_5 (torchvision's) strides in the 3x3." if _bottleneck else
         f"Identical to torchvision's; plain{_depth} is the same net without shortcuts."),
        f"resnet:resnet{_depth}", top5_error=3.57 if _depth == 152 else None,
        torchvision=None if _bottleneck else f"resnet{_depth}"))
for _depth in (50, 101, 152):
    _MODELS.append(_m(
        f"resnet{_depth}_v1_5", "ResNet", 2015, "resnet", _IMAGENET,
        f"ResNet-{_depth} v1.5 as torchvision builds it.",
        "v1.5: the stride of a downsampling bottleneck sits in its 3x3 conv (slightly more MACs, "
        "better accuracy); same parameters as the paper's v1.",
        f"resnet:resnet{_depth}_v1_5", torchvision=f"resnet{_depth}"))
for _depth in (18, 34):
    _MODELS.append(_m(
        f"plain{_depth}", "ResNet", 2015, "resnet", _IMAGENET,
        f"Plain-{_depth}: ResNet-{_depth}'s layers without the shortcuts (the paper's baseline).",
        f"resnet{_depth} minus every shortcut; the paper shows it trains worse as it gets deeper.",
        f"resnet:plain{_depth}"))
_CIFAR_PARAMS = {20: "0.27M", 32: "0.46M", 44: "0.66M", 56: "0.85M", 110: "1.7M"}
for _depth, _params in _CIFAR_PARAMS.items():
    _MODELS.append(_m(
        f"cifar_resnet{_depth}", "CIFAR ResNet", 2015, "resnet", _CIFAR,
        f"ResNet-{_depth} for CIFAR-10 (sec. 4.2): 6n+2 layers, 16-32-64 filters, "
        f"{_params} params.",
        "Identity shortcuts with zero-padded channels (option A), so no shortcut parameters.",
        f"cifar:cifar_resnet{_depth}", num_classes=10))
    _MODELS.append(_m(
        f"cifar_plain{_depth}", "CIFAR ResNet", 2015, "resnet", _CIFAR,
        f"Plain-{_depth} for CIFAR-10: cifar_resnet{_depth} without shortcuts.",
        f"Same layers and parameters as cifar_resnet{_depth}; deeper plain nets train worse.",
        f"cifar:cifar_plain{_depth}", num_classes=10))
_MODELS += [
    _m("resnext50_32x4d", "ResNeXt", 2016, "resnext", _IMAGENET,
       "ResNeXt-50 (32x4d): ResNet-50 whose 3x3 convs are split into 32 groups ('cardinality').",
       "torchvision's definition (stride in the 3x3 conv, like ResNet v1.5).",
       "resnet:resnext50_32x4d", torchvision="resnext50_32x4d"),
    _m("densenet121", "DenseNet", 2016, "densenet", _IMAGENET,
       "DenseNet-121: every layer in a dense block gets the concatenated maps of all before it.",
       "torchvision's definition (growth rate 32, blocks 6-12-24-16, compression 0.5).",
       "densenet:densenet121", torchvision="densenet121"),
]
# After ResNet: torchvision's own definitions, so their accuracies are torchvision's metadata.
_TORCHVISION = "torchvision's definition, built by its own builder (no weights)."
_MODELS += [
    _m("mobilenet_v2", AFTER_RESNET, 2018, "mobilenet_v2", _IMAGENET,
       "MobileNetV2: inverted residual blocks (a 1x1 conv widening 6x, but 1x in the first, a "
       "3x3 depthwise conv, a linear 1x1 projection), the shortcut between the thin ends; "
       "3.5M params.",
       _TORCHVISION, "after_resnet:mobilenet_v2", torchvision="mobilenet_v2"),
    _m("mobilenet_v3_large", AFTER_RESNET, 2019, "mobilenet_v3", _IMAGENET,
       "MobileNetV3-Large: MobileNetV2's blocks chosen by architecture search, with "
       "squeeze-and-excitation and hard-swish; 5.5M params.",
       _TORCHVISION, "after_resnet:mobilenet_v3_large", torchvision="mobilenet_v3_large"),
    _m("mobilenet_v3_small", AFTER_RESNET, 2019, "mobilenet_v3", _IMAGENET,
       "MobileNetV3-Small: the search's smaller net, for low-resource use; 2.5M params.",
       _TORCHVISION, "after_resnet:mobilenet_v3_small", torchvision="mobilenet_v3_small"),
    _m("efficientnet_b0", AFTER_RESNET, 2019, "efficientnet", _IMAGENET,
       "EfficientNet-B0: searched MBConv blocks (inverted residuals with squeeze-and-excitation "
       "and SiLU), the base that compound scaling of depth, width and resolution grows into "
       "B1-B7; 5.3M params.",
       _TORCHVISION, "after_resnet:efficientnet_b0", torchvision="efficientnet_b0"),
    _m("regnet_y_400mf", AFTER_RESNET, 2020, "regnet", _IMAGENET,
       "RegNetY-400MF: four stages of grouped-conv bottleneck blocks whose widths follow a "
       "quantised linear rule found by searching design spaces, with squeeze-and-excitation "
       "(the Y); 4.3M params.",
       _TORCHVISION, "after_resnet:regnet_y_400mf", torchvision="regnet_y_400mf"),
    _m("vit_b_16", AFTER_RESNET, 2020, "vit", _IMAGENET,
       "ViT-B/16: one 16x16 stride-16 conv cuts the image into 196 patch tokens, then 12 "
       "transformer encoder layers of 12-head self-attention, no other convolution; 86.6M "
       "params.",
       "torchvision's definition for 224x224 inputs only (its position embeddings are for "
       "14x14 patches), built by its own builder (no weights).",
       "after_resnet:vit_b_16", torchvision="vit_b_16"),
    _m("swin_t", AFTER_RESNET, 2021, "swin", _IMAGENET,
       "Swin-T: a transformer with a CNN's pyramid: self-attention within 7x7 windows, "
       "shifted every other block, and patch merging between stages; 28.3M params.",
       _TORCHVISION, "after_resnet:swin_t", torchvision="swin_t"),
    _m("convnext_tiny", AFTER_RESNET, 2022, "convnext", _IMAGENET,
       "ConvNeXt-T: a ResNet modernised towards Swin, step by step: a 4x4 patchify stem, "
       "7x7 depthwise convs, inverted bottlenecks, LayerNorm and GELU; 28.6M params.",
       _TORCHVISION, "after_resnet:convnext_tiny", torchvision="convnext_tiny"),
]

REGISTRY: dict[str, ModelInfo] = {m.name: m for m in _MODELS}


def names() -> list[str]:
    """All model names, in catalogue order (grouped by family, oldest first)."""
    return list(REGISTRY)


def get(name: str) -> ModelInfo:
    """The metadata of ``name``; an unknown name raises with the closest names as hints."""
    try:
        return REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(str(name).lower(), REGISTRY, n=3, cutoff=0.5)
        raise UnknownModelError(str(name), close) from None


def builder(name: str) -> Any:
    """The builder function of ``name``, importing its module on first use."""
    module, function = get(name).builder.split(":")
    return getattr(importlib.import_module(f"cnnlib.models.{module}"), function)


def build(name: str, **options: Any) -> nn.Module:
    """Build model ``name`` with the builder's ``options``; unknown options name the valid ones."""
    fn = builder(name)
    params = inspect.signature(fn).parameters
    unknown = sorted(set(options) - set(params))
    if unknown:
        valid = ", ".join(p for p in params) or "none"
        raise ModelOptionError(f"{name} has no option {', '.join(unknown)}; its options: {valid}.")
    for key, value in options.items():
        _check_option(name, key, value, params[key].annotation)
    return fn(**options)


#: The largest count an option may give (classes, groups, filters): far above any real net,
#: low enough that a typo cannot ask the meta build for an absurd layer.
MAX_OPTION_COUNT = 100_000


def _check_option(name: str, key: str, value: Any, annotation: Any) -> None:
    """Refuse, with one sentence, a value whose type or range the builder's signature rules
    out, before torch sees it and fails with a traceback (a negative dimension, a string
    for a size). The annotations are strings (``from __future__ import annotations``):
    ``int`` is a count (1 to :data:`MAX_OPTION_COUNT`), ``float`` a dropout probability,
    ``tuple[int, ...]`` filter counts, ``bool`` and ``str`` as they say; a ``str`` value
    is checked by its builder."""
    kind = str(annotation)
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."

    def count(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_OPTION_COUNT

    if kind == "int":
        ok, want = count(value), f"a whole number from 1 to {MAX_OPTION_COUNT:,}"
    elif kind == "float":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1
        want = "a probability from 0 to 1"
    elif kind == "bool":
        ok, want = isinstance(value, bool), "True or False"
    elif kind == "str":
        ok, want = isinstance(value, str), "a word"
    elif kind.startswith("tuple[int"):
        size = kind.count("int")
        ok = isinstance(value, (tuple, list)) and len(value) == size and all(map(count, value))
        want = f"{size} whole numbers from 1 to {MAX_OPTION_COUNT:,}, e.g. (384, 384, 256)"
    else:
        return
    if not ok:
        raise ModelOptionError(f"{name}'s option {key} must be {want}, not {shown}.")
