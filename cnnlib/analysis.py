"""Per-layer analysis: trace a network once, then walk its graph with the formulas.

Why a trace and a walk rather than a forward pass with hooks: even on meta tensors a hooked
forward costs as much as a real CPU forward (every conv's shape inference runs Python meta
kernels), so a new input size would cost ~100 ms for ResNet-152. Instead a zoo model is built
once per architecture on the meta device (no weight memory, see :mod:`cnnlib.meta`) and traced
once with ``torch.fx`` into a graph; :func:`profile` then walks that graph with the pure-Python
rules of :mod:`cnnlib.formulas`, which takes milliseconds and allocates no tensors. Layers
with no formula fall back to running that one op on meta tensors. A module given by the user is
traced in place (fx keeps references to its submodules), so its weights are never copied.

Every browser session of the dashboard is a thread, so this module is shared between threads:
traces take :data:`cnnlib.concurrency.MODULES` exclusively (fx patches torch for the whole
process while it traces) and walks take it shared; the zoo's traces and profiles are cached
once per process (:func:`cnnlib.concurrency.memoize`), and a :class:`Profile` cannot be
changed by whoever it is handed to.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import io
import json
import math
import operator
import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

import pandas as pd
import torch
from torch import fx, nn
from torch.utils.flop_counter import FlopCounterMode

from cnnlib import formulas
from cnnlib.concurrency import MODULES, memoize
from cnnlib.errors import AnalysisError, CnnlibError, InputSizeError, InputTooSmallError, TraceError
from cnnlib.formulas import RF_GLOBAL, RF_WINDOW, Calc, EmptyOutputError, ShapeMismatchError, TShape
from cnnlib.meta import MetaBuild
from cnnlib.models import registry

#: The CSV/DataFrame columns, in order. ``macs`` becomes ``flops`` (2 x MACs) on request.
COLUMNS = ["name", "type", "output_shape", "kernel", "stride", "padding", "params",
           "activations", "memory_bytes", "macs", "receptive_field", "jump", "stage", "block"]
MAX_SIDE = 16384
MAX_CHANNELS = 16384


# ---------------------------------------------------------------- input sizes


def parse_input_size(value: Any, channels: int = 3) -> tuple[int, int, int]:
    """``"3x224x224"``, ``"224x224"``, ``"224"``, ``224`` or a tuple -> ``(C, H, W)``.

    A missing channel count takes ``channels`` (the model's own). Anything else raises
    :class:`InputSizeError` naming what was wrong.
    """
    example = "expected C x H x W with positive integers, e.g. 3x224x224"
    if isinstance(value, str):
        parts = [p for p in re.split(r"[x×X*,\s]+", value.strip()) if p]
        if not parts or not all(re.fullmatch(r"[+-]?\d+", p) for p in parts):
            raise InputSizeError(f"Input size '{value[:40]}' is malformed: {example}.")
        if any(len(p.lstrip("+-0")) > 9 for p in parts):  # int() refuses 4,300+ digits
            raise InputSizeError(f"Input size '{value[:40]}' is too large: at most "
                                 f"{MAX_CHANNELS} channels and {MAX_SIDE} pixels a side.")
        dims = [int(p) for p in parts]
    elif isinstance(value, int) and not isinstance(value, bool):
        dims = [value]
    elif isinstance(value, (tuple, list, torch.Size)) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value):
        dims = list(value)
    else:
        raise InputSizeError(f"Input size {value!r} is malformed: {example}.")
    if len(dims) == 1:
        dims = [channels, dims[0], dims[0]]
    elif len(dims) == 2:
        dims = [channels, *dims]
    if len(dims) != 3:
        raise InputSizeError(f"Input size {value!r} has {len(dims)} dimensions: {example}.")
    if min(dims) <= 0:
        raise InputSizeError(f"Input size {value!r} has a zero or negative side: {example}.")
    c, h, w = dims
    if c > MAX_CHANNELS or max(h, w) > MAX_SIDE:
        raise InputSizeError(f"Input size {value!r} is too large: at most {MAX_CHANNELS} "
                             f"channels and {MAX_SIDE} pixels a side.")
    return c, h, w


def format_shape(shape: Iterable[int]) -> str:
    return "x".join(str(d) for d in shape)


# ---------------------------------------------------------------- tracing


def _scope(node: fx.Node) -> str:
    """The module path a node was traced under (fx records the stack of module calls)."""
    stack = node.meta.get("nn_module_stack")
    return next(reversed(stack.values()))[0] if stack else ""


@dataclass(frozen=True)
class Traced:
    """A network's graph, traced once, ready to be walked at any input size (and by any
    number of threads at once: a walk only reads it).

    ``unused`` lists the modules whose parameters the forward never reads (GoogLeNet's
    auxiliary classifiers in eval mode), with how many each holds: a fact of the graph, the
    same at every input size. ``twins`` caches meta copies of TorchScript submodules,
    ``fallbacks`` what ops without a formula gave on meta tensors (see ``_Walk._fallback``)."""

    name: str
    root: nn.Module
    graph: fx.Graph
    modules: dict[str, nn.Module]
    default_channels: int = 3
    unused: tuple[tuple[str, int], ...] = ()
    twins: dict[int, nn.Module] = field(default_factory=dict, compare=False, repr=False)
    fallbacks: dict[Any, tuple] = field(default_factory=dict, compare=False, repr=False)


_INPLACE_OPERATORS = {"__iadd__": operator.iadd, "__isub__": operator.isub,
                      "__imul__": operator.imul, "__itruediv__": operator.itruediv}


class _Proxy(fx.Proxy):
    """fx's Proxy without ``__iadd__`` records ``out += identity`` as ``out + identity``,
    a new tensor; this one records the in-place operator, so the walk knows that torchvision's
    residual additions allocate nothing (12.7% of ResNet-18's activation memory otherwise)."""


for _dunder, _op in _INPLACE_OPERATORS.items():
    def _inplace(self: _Proxy, other: Any, _op: Callable = _op) -> fx.Proxy:
        return self.tracer.create_proxy("call_function", _op, (self, other), {})
    setattr(_Proxy, _dunder, _inplace)


class _Tracer(fx.Tracer):
    """fx's tracer, with in-place operators kept (:class:`_Proxy`) and TorchScript submodules
    taken as leaves: their compiled forward cannot be traced into, and tracing around them
    lost their parameters and multiply-adds."""

    def proxy(self, node: fx.Node) -> fx.Proxy:
        return _Proxy(node, self)

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return isinstance(m, torch.jit.ScriptModule) or super().is_leaf_module(
            m, module_qualified_name)


def _leaf_graph(module: nn.Module, name: str) -> fx.Graph:
    """A layer given as the whole model (``profile(nn.Conv2d(...))``): one call of it, so its
    own rule applies, instead of a trace of its forward's functions and weights."""
    graph = fx.Graph()
    x = graph.placeholder("x")
    graph.output(graph.call_module(name, (x,)))
    return graph


def _unused(module: nn.Module, graph: fx.Graph, modules: dict[str, nn.Module]
            ) -> tuple[tuple[str, int], ...]:
    """The outermost modules all of whose parameters no node of the graph reads."""
    used: set[int] = set()
    for node in graph.nodes:
        if node.op == "call_module":
            used.update(id(p) for p in modules[str(node.target)].parameters())
        elif node.op == "get_attr":
            value: Any = module
            for part in str(node.target).split("."):
                value = getattr(value, part, None)
            if isinstance(value, nn.Module):
                used.update(id(p) for p in value.parameters())
            elif isinstance(value, torch.Tensor):
                used.add(id(value))
    unused = {id(p) for p in module.parameters()} - used
    if not unused:
        return ()
    found: list[tuple[str, int]] = []

    def listed(path: str) -> bool:
        return any(path == q or path.startswith(f"{q}.") for q, _ in found)

    for path, m in modules.items():
        params = list(m.parameters())
        if path and not listed(path) and params and all(id(p) in unused for p in params):
            found.append((path, sum(p.numel() for p in params)))
    for full, p in module.named_parameters():  # loose ones, in partly used modules
        if id(p) in unused and not listed(full):
            found.append((full, p.numel()))
    return tuple(found)


def trace(module: nn.Module, name: str | None = None) -> Traced:
    """Trace ``module`` into a graph of leaf layers (torch.nn modules) and functions.

    One trace at a time in the process, and none beside a forward or a walk (see
    :mod:`cnnlib.concurrency`), so a failure here is the module's own. Only fx's
    ``TraceError`` means data-dependent control flow; anything else is reported as it is.
    """
    tracer = _Tracer()
    modules = dict(module.named_modules())
    if tracer.is_leaf_module(module, ""):
        leaf = type(module).__name__
        modules[leaf] = module
        graph = _leaf_graph(module, leaf)
    else:
        try:
            with MODULES.exclusive():
                graph = tracer.trace(module)
        except fx.proxy.TraceError as exc:
            raise TraceError(
                f"Cannot trace {type(module).__name__} into a graph ({exc}): its forward "
                "branches on tensor values or iterates over a tensor; cnnlib needs a static "
                "graph.") from exc
        except Exception as exc:  # fx raises many types; the user needs one clear sentence
            raise TraceError(
                f"Cannot trace {type(module).__name__} into a graph: torch.fx stopped in its "
                f"forward with {type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}") from exc
    first_conv = next((m for m in modules.values() if isinstance(m, nn.modules.conv._ConvNd)),
                      None)
    channels = first_conv.in_channels if first_conv is not None else 3
    return Traced(name or type(module).__name__, module, graph, modules, channels,
                  _unused(module, graph, modules))


def _options_key(options: dict[str, Any]) -> tuple:
    def freeze(v: Any) -> Any:
        return tuple(freeze(x) for x in v) if isinstance(v, (list, tuple)) else v
    return tuple(sorted((k, freeze(v)) for k, v in options.items()))


@memoize(maxsize=64)
def _traced_zoo(name: str, options_key: tuple) -> Traced:
    with MetaBuild():
        model = registry.build(name, **dict(options_key))
    model.eval()
    return trace(model, name)


def traced_model(name: str, **options: Any) -> Traced:
    """The zoo model ``name`` built on the meta device and traced, cached per architecture."""
    registry.get(name)  # unknown names fail here with suggestions, before any build
    return _traced_zoo(name, _options_key(options))


def torchvision_names() -> list[str]:
    """torchvision's classification models (``list_models(module=torchvision.models)``)."""
    import torchvision

    return torchvision.models.list_models(module=torchvision.models)


@memoize(maxsize=16)
def traced_torchvision(name: str) -> Traced:
    """A torchvision classification model (random init, never downloaded) built on the meta
    device and traced, cached per name. Tensors a builder computed for real and kept as plain
    attributes (not buffers, which MetaBuild already puts on meta) are moved to meta too, so
    the model runs on meta as a whole."""
    import torchvision

    names = torchvision_names()
    if name not in names:
        close = difflib.get_close_matches(name, names, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise CnnlibError(f"Unknown torchvision classification model '{name}'.{hint}")
    with MetaBuild(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # GoogLeNet's init-weights notice
        model = torchvision.models.get_model(name, weights=None)
    return trace(model.eval().to("meta"), name)


def torchvision_input_size(name: str) -> tuple[int, int, int]:
    """The input a torchvision model is built for: its ``image_size`` where it has one (ViT:
    fixed), else its pretrained weights' crop size (Inception-v3 299, EfficientNet-B7 600),
    else 224."""
    import torchvision

    side = getattr(traced_torchvision(name).root, "image_size", None)
    if side is None:
        try:
            crop = torchvision.models.get_model_weights(name).DEFAULT.transforms().crop_size
            side = int(crop[0])
        except (AttributeError, ValueError, IndexError, TypeError):
            side = 224
    return 3, int(side), int(side)


def profile_torchvision(name: str, input_size: Any = None, *, flops: bool = False,
                        bytes_per_element: int = 4) -> Profile:
    """Analyse torchvision's classification model ``name`` (any of :func:`torchvision_names`)
    at ``input_size`` (default: :func:`torchvision_input_size`)."""
    traced = traced_torchvision(name)
    default = torchvision_input_size(name)
    size = parse_input_size(default if input_size is None else input_size, default[0])
    return _profile(traced, size, default, flops, bytes_per_element)


# ---------------------------------------------------------------- the walk


#: The producer of a constant: a buffer (Swin's relative position index) or a tensor made from
#: nothing. A row reading one does not read the image, so it is no input of that row's:
#: otherwise the graph would draw Swin's position-bias lookups as fed by the image.
_CONSTANT = -2


@dataclass(slots=True)
class _Val:
    """A tensor flowing along an edge during the walk: shape and receptive-field state."""

    shape: TShape  # including a batch dimension of 1
    rf: tuple[int, ...]  # receptive field per spatial dim of the input, in input pixels
    jump: tuple[int, ...]  # input pixels between neighbouring outputs
    depth: int  # weight layers on the longest path from the input
    producer: int  # row index that produced it, -1 for the input, _CONSTANT for neither
    start: tuple[float, ...] = ()  # input coordinate of output (0, 0)'s receptive-field centre
    dtype: torch.dtype = torch.float32  # integer and bool tensors index, mask, count
    # Which dims of ``shape`` are the image's spatial grid (see :func:`_layout`): (2, 3) for
    # NCHW maps, (1, 2) channels-last, one token dim after flattening the grid, () once lost.
    grid: tuple[int, ...] = ()
    tokens: tuple[int, ...] = ()  # the grid a single token dim was flattened from (14, 14)


@dataclass(slots=True)
class Row:
    """One layer of the analysis: a row of the table plus what explain() needs."""

    name: str
    node: str
    calc: Calc
    out: _Val
    inputs: list[int]
    rf_in: tuple[int, ...]
    jump_in: tuple[int, ...]
    block: str
    # the output's grid size (56, 56), whatever its layout; a token count (197,) where tokens
    # no longer make a grid; () once the grid is gone (the "head")
    stage: tuple[int, ...]


@functools.lru_cache(maxsize=256)
def stage_text(stage: tuple[int, ...]) -> str:
    """A stage as the ``stage`` column shows it: "56x56", "197 tokens" (a token count with no
    grid behind it: a class token joined ViT's 196 patches), or "head" once the grid is gone."""
    if len(stage) == 1:
        return f"{stage[0]} tokens"
    return format_shape(stage) if stage else "head"


def _stage(val: _Val) -> tuple[int, ...]:
    """The grid size a value's maps or tokens make (see :attr:`Row.stage`)."""
    sizes = tuple(val.shape[a] for a in val.grid)
    if len(sizes) == 1 and val.tokens and math.prod(val.tokens) == sizes[0]:
        return val.tokens  # ViT's 196 patch tokens are still its 14x14 grid
    return sizes


#: Ops that reorder a tensor's dims, and ops that regroup them (same elements, new shape).
_PERMUTES = frozenset({"permute", "transpose", "swapaxes", "swapdims", "movedim", "moveaxis"})
_RESHAPES = frozenset({"view", "reshape", "flatten", "unflatten", "squeeze", "unsqueeze",
                       "Flatten", "Unflatten"})


def _permutation(op: Callable, args: tuple, kwargs: dict, rank: int) -> list[int] | None:
    """Per output dim, the input dim it is, for a dim-reordering op: the op is run on a small
    real tensor whose dims all have different strides, so torch's own reading of its arguments
    (negative dims, lists, movedim's rules) decides; None where it cannot run."""
    probe = torch.empty((2,) * rank)
    try:
        out = op(probe, *args, **kwargs)
    except Exception:  # an argument the probe cannot stand in for: the layout is lost
        return None
    if not isinstance(out, torch.Tensor) or out.dim() != rank:
        return None
    strides = list(probe.stride())
    return [strides.index(s) for s in out.stride()]


def _index_axes(index: Any, rank: int) -> list[int | None] | None:
    """Per input dim of ``x[index]``, its output dim (None: an integer took it away); None for
    an index the walk cannot follow (tensors, lists)."""
    items = list(index) if isinstance(index, tuple) else [index]
    used = sum(1 for i in items if i is not None and i is not Ellipsis)
    if items.count(Ellipsis) > 1 or used > rank:
        return None
    if Ellipsis in items:
        at = items.index(Ellipsis)
        items[at:at + 1] = [slice(None)] * (rank - used)
    else:
        items += [slice(None)] * (rank - used)
    axes: list[int | None] = []
    out = 0
    for item in items:
        if item is None:
            out += 1
        elif isinstance(item, slice):
            axes.append(out)
            out += 1
        elif isinstance(item, int) and not isinstance(item, bool):
            axes.append(None)
        else:
            return None
    return axes


def _regroup(src: _Val, after: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The grid of ``src`` after a reshape to ``after``: kept when its dims come through
    whole, one token dim when its adjacent dims merge (ViT's 14x14 -> 196), the grid again
    when a token dim splits back into it; lost (()) when it mixes with other dims."""
    before, grid = tuple(src.shape), src.grid
    if before == tuple(after):
        return grid, src.tokens
    if list(grid) != list(range(grid[0], grid[-1] + 1)):
        return (), ()
    prefix_in, prefix_out = [1], [1]
    for d in before:
        prefix_in.append(prefix_in[-1] * d)
    for d in after:
        prefix_out.append(prefix_out[-1] * d)
    first, last = prefix_in[grid[0]], prefix_in[grid[-1] + 1]
    starts = [j for j, p in enumerate(prefix_out) if p == first]
    ends = [j for j, p in enumerate(prefix_out) if p == last and starts and j > starts[0]]
    if not starts or not ends:
        return (), ()
    j1 = ends[0]
    j0 = max(j for j in starts if j < j1)  # past any size-1 dims before the grid
    sizes = tuple(before[a] for a in grid)
    if j1 - j0 == 1:  # the grid's dims merge into one: tokens
        return (j0,), (src.tokens if len(grid) == 1 else sizes)
    if tuple(after[j0:j1]) == sizes:
        return tuple(range(j0, j1)), src.tokens
    if len(grid) == 1 and tuple(after[j0:j1]) == src.tokens:
        return tuple(range(j0, j1)), ()
    return (), ()


def _path(node: fx.Node) -> str:
    """The module path a node belongs to: its own for a layer, its caller's for a function."""
    return str(node.target) if node.op == "call_module" else _scope(node)


def _op_name(node: fx.Node) -> str:
    if node.op == "call_method":
        return str(node.target)
    return getattr(node.target, "__name__", str(node.target)).strip("_")


def _to_meta(value: Any) -> Any:
    if isinstance(value, _Val):
        return torch.empty(value.shape, device="meta", dtype=value.dtype)
    if isinstance(value, (list, tuple)) and not isinstance(value, torch.Size):
        return type(value)(_to_meta(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_meta(v) for k, v in value.items()}
    return value


_Leaf = TypeVar("_Leaf")


def _leaves(value: Any, cls: type[_Leaf]) -> list[_Leaf]:
    """The ``cls`` instances in a call's arguments or an op's output, in order, through
    nested lists, tuples and dicts."""
    if isinstance(value, cls):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in _leaves(item, cls)]
    if isinstance(value, dict):
        return [v for item in value.values() for v in _leaves(item, cls)]
    return []


def _vals_in(value: Any) -> list[_Val]:
    return _leaves(value, _Val)


def _tensors_in(value: Any) -> list[torch.Tensor]:
    return _leaves(value, torch.Tensor)


def _map_tensors(value: Any, fn: Callable[[torch.Tensor], Any]) -> Any:
    """``value`` with every tensor in it replaced by ``fn(tensor)``: tuples, named tuples,
    torch's return types (``torch.return_types.max``), lists and dicts keep their type."""
    if isinstance(value, torch.Tensor):
        return fn(value)
    if isinstance(value, tuple) and not isinstance(value, torch.Size):
        items = [_map_tensors(v, fn) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    if isinstance(value, list):
        return [_map_tensors(v, fn) for v in value]
    if isinstance(value, dict):
        return {k: _map_tensors(v, fn) for k, v in value.items()}
    return value


def _shapes(value: Any) -> Any:
    if isinstance(value, _Val):
        return value.shape
    if isinstance(value, (list, tuple)) and not isinstance(value, torch.Size):
        return type(value)(_shapes(v) for v in value)
    return value


def _describe(vals: list[_Val]) -> str:
    """Input tensors for an error message: shapes with the batch, and dtypes that are not
    float32 (an integer index tensor is often the point)."""
    return ", ".join(format_shape(v.shape) + ("" if v.dtype == torch.float32 else
                                              f" {str(v.dtype).removeprefix('torch.')}")
                     for v in vals) or "no tensors"


#: Exception texts that mean the input's size does not suit the op (a fixed reshape, an
#: assert on the image size); anything else is a limit of the analysis, and says so.
_SIZE_WORDS = re.compile(r"shape|size|dimension|channels|mat1 and mat2|must match|"
                         r"cannot be multiplied|invalid for input", re.IGNORECASE)


#: How many meta runs a Traced keeps (per distinct call: input shapes, dtypes, arguments).
_FALLBACKS_KEPT = 20_000


def _signature(value: Any) -> Any:
    """A hashable key for a call's arguments, tensors by shape and dtype; None where some
    argument cannot be keyed (a real tensor, an object without a value equality)."""
    if isinstance(value, _Val):
        return ("T", value.shape, value.dtype)
    if isinstance(value, (tuple, list)):
        items = tuple(_signature(v) for v in value)
        return None if any(i is None for i in items) else (type(value).__name__, items)
    if isinstance(value, dict):
        return _signature(tuple((k, v) for k, v in value.items()))
    if isinstance(value, slice):
        bounds = _signature((value.start, value.stop, value.step))
        return None if bounds is None else ("slice", bounds)
    if value is None or value is Ellipsis or isinstance(
            value, (bool, int, float, str, torch.dtype, torch.device, torch.memory_format,
                    torch.layout)):
        return (type(value).__name__, value)
    if (callable(value) or isinstance(value, nn.Module)) and not isinstance(value, torch.Tensor):
        return ("id", id(value))  # functions, modules: the same object
    return None


#: Where a function without a rule comes from, when it cannot hide a matrix product.
_NO_PRODUCTS = {"torch", "_operator", "operator", "builtins", "math"}


def _run_on_meta(fn: Callable, args: tuple, kwargs: dict, count: bool) -> tuple[Any, Any, int]:
    """The fallback for layers without a formula: run the op itself on meta tensors.

    Returns the output (meta tensors, in whatever structure the op returns), the meta
    inputs, and, where ``count`` is set (modules and non-torch functions, where convolutions
    and matrix products hide), the multiply-adds: half the FLOPs torch's FlopCounterMode
    counts during that run.
    """
    args, kwargs = _to_meta(args), _to_meta(kwargs)
    if not _tensors_in((args, kwargs)):  # a factory (torch.zeros(n, c, h, w)): on meta too
        with torch.device("meta"):
            return fn(*args, **kwargs), (args, kwargs), 0
    if not count:
        return fn(*args, **kwargs), (args, kwargs), 0
    counter = FlopCounterMode(display=False)
    with counter:
        out = fn(*args, **kwargs)
    return out, (args, kwargs), counter.get_total_flops() // 2


def _meta_calc(out: torch.Tensor, inputs: Any, macs: int) -> Calc:
    """A fallback row: the output's shape; an output that is one of the inputs (``relu_``,
    ``mul_``, ``+=``) or a view of one (``x[:, :, ::2]``, ``reshape``) allocates nothing, so it
    counts as in place for the memory total."""
    base = out._base
    inplace = any(out is t or (base is not None and (base is t or base is t._base))
                  for t in _tensors_in(inputs))
    calc = Calc("", TShape(out.shape), inplace=inplace, macs=macs,
                macs_terms=((macs,),) if macs else ())
    if macs:
        calc.note = "counted by torch.utils.flop_counter on meta tensors (no formula)"
    return calc


class _Walk:
    """One walk of a traced graph at one input size."""

    def __init__(self, traced: Traced, input_size: tuple[int, int, int]) -> None:
        self.traced = traced
        self.input_size = input_size
        self.image = input_size[1:]
        self.inputs_given = False
        self.rows: list[Row] = []
        self.names: Counter[str] = Counter()
        self.seen_params: set[int] = set()
        self.output: Any = None
        self._passthrough: Any = None  # a fallback's non-tensor result (a size, a tuple)
        self._dtype: torch.dtype | None = None  # the last fallback's output dtype
        self._structure: Callable[[list[_Val | None]], Any] | None = None  # and its structure

    def run(self) -> _Walk:
        env: dict[fx.Node, Any] = {}
        for node in self.traced.graph.nodes:
            if node.op == "placeholder":
                env[node] = self._placeholder(node)
            elif node.op == "get_attr":
                env[node] = self._get_attr(node)
            elif node.op == "output":
                self.output = fx.node.map_arg(node.args[0], env.__getitem__)
            elif len(node.args) == 1 and not node.kwargs and type(node.args[0]) is fx.Node:
                env[node] = self._call(node, (env[node.args[0]],), {})  # most layers
            else:
                args = fx.node.map_arg(node.args, env.__getitem__)
                kwargs = fx.node.map_arg(node.kwargs, env.__getitem__)
                env[node] = self._call(node, args, kwargs)
        self._stage_weights()
        return self

    def _stage_weights(self) -> None:
        """Rows the image does not flow into (a weight read by a function: ViT's class token
        and position embedding, Swin's qkv weights and position-bias table, ConvNeXt's layer
        scale; and what is made from weights alone) have no grid of their own: each takes
        the stage of the first row that reads it, where its work is done, rather than the
        head's, which would colour them as the classifier in the middle of a stage."""
        fed: list[bool] = []
        reader: dict[int, int] = {}
        for i, r in enumerate(self.rows):
            fed.append(any(s == -1 or fed[s] for s in r.inputs))
            for s in r.inputs:
                if s >= 0:
                    reader.setdefault(s, i)
        for i in reversed(range(len(self.rows))):  # readers come later: already staged
            if not fed[i] and i in reader:
                self.rows[i].stage = self.rows[reader[i]].stage

    def _placeholder(self, node: fx.Node) -> Any:
        if not self.inputs_given:  # forward's first argument: the image
            self.inputs_given = True
            image = self._source((1, *self.input_size), producer=-1)
            image.grid = (2, 3)  # N, C, H, W
            return image
        if node.args:  # an optional argument of forward(): its default
            return node.args[0]
        raise TraceError(f"{self.traced.name}.forward takes more than one input ({node.name}).")

    def _source(self, shape: tuple[int, ...], dtype: torch.dtype = torch.float32,
                producer: int = _CONSTANT) -> _Val:
        """A tensor no layer produced: the image (producer -1), or a constant (a buffer,
        ``torch.zeros(...)``: :data:`_CONSTANT`)."""
        ones = (1,) * len(self.image)
        return _Val(TShape(shape), ones, ones, 0, producer, (0.0,) * len(ones), dtype)

    def _get_attr(self, node: fx.Node) -> Any:
        value = self.traced.root
        for part in str(node.target).split("."):
            value = getattr(value, part)
        if not isinstance(value, torch.Tensor):
            return value
        val = self._source(value.shape, value.dtype)
        if isinstance(value, nn.Parameter) and id(value) not in self.seen_params:
            self.seen_params.add(id(value))
            n = value.numel()
            # a weight read by a function (F.layer_norm's, ViT's class token): its params
            # count here, and it is no activation (in place: no memory of the forward's)
            calc = Calc("parameter", val.shape, params=n, params_terms=((n,),), inplace=True)
            val.producer = self._add_row(node, str(node.target), calc, val, [])
        return val

    def _call(self, node: fx.Node, args: tuple, kwargs: dict) -> Any:
        if len(args) == 1 and not kwargs and isinstance(args[0], _Val):
            inputs = [args[0]]  # the common case, without walking nested arguments
        else:
            if node.target in (operator.getitem, getattr) and not isinstance(args[0], _Val):
                return node.target(*args)  # an output of a tuple/dict/named tuple: no layer
            inputs = _vals_in((args, kwargs))
        if node.op == "call_module":
            module = self.traced.modules[str(node.target)]
            rule = formulas.module_rule(module)
            if rule is not None and ((len(args) == 1 and isinstance(args[0], _Val)
                                      and not kwargs)
                                     or rule in formulas.MODULE_RULES_WITH_ARGS):
                result = self._apply(node, rule, module, *_shapes(args), **_shapes(kwargs))
            else:
                ran = self._fallback(node, self._module_fn(module), args, kwargs, True)
                if ran is None:  # no tensor out: a Python value, not a table row
                    return self._passthrough
                result = ran
            calc = result.calc if isinstance(result, formulas.Outputs) else result
            calc.type = type(module).__name__
            calc.params, calc.params_terms = self._own_params(module, calc)
            dims = getattr(module, "dims", None)
            if calc.type == "Permute" and isinstance(dims, (list, tuple)):  # torchvision's
                layout = self._layout("permute", lambda t: torch.permute(t, dims), args, {},
                                      inputs, calc)
            else:
                layout = self._layout(calc.type, None, args, kwargs, inputs, calc)
            return self._emit_all(node, str(node.target), result, inputs, layout)
        fn = node.target if node.op == "call_function" and callable(node.target) else None
        if fn is None:  # a method: call it on the first (tensor) argument
            method = str(node.target)

            def fn(obj: Any, *a: Any, **k: Any) -> Any:
                return getattr(obj, method)(*a, **k)
        rule = formulas.FUNCTION_RULES.get(node.target)
        if rule is not None and inputs:
            result = self._apply(node, rule, *_shapes(args), **_shapes(kwargs))
            calc = result.calc if isinstance(result, formulas.Outputs) else result
            calc.type = formulas.FUNCTION_TYPES.get(rule, _op_name(node))
        else:
            # Functions from outside torch (torchvision's fx-wrapped shifted_window_attention)
            # may multiply; torch's own ops without a rule (views, softmax, indexing) do not.
            home = (getattr(fn, "__module__", None) or "torch").partition(".")[0]
            count = home not in _NO_PRODUCTS
            ran = self._fallback(node, fn, args, kwargs, count)
            if ran is None:
                return self._passthrough
            result = ran
            calc = result.calc if isinstance(result, formulas.Outputs) else result
            calc.type = _op_name(node)
        if not inputs:  # a tensor made from nothing (torch.zeros(...)): not a layer
            return self._sources(result)
        scope = _scope(node)
        layout = self._layout(_op_name(node), fn, args, kwargs, inputs, calc)
        return self._emit_all(node, f"{scope}.{_op_name(node)}" if scope else _op_name(node),
                              result, inputs, layout)

    def _layout(self, op: str, fn: Callable | None, args: tuple, kwargs: dict,
                inputs: list[_Val], calc: Calc) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Where the image's grid is in an op's output (``_Val.grid`` and ``.tokens``), so a
        row's stage is the grid it works on in any layout: ops that reorder dims move it,
        reshapes regroup it (:func:`_regroup`), slicing keeps what it does not index away,
        and every other op keeps its input's when it keeps the rank (conv, norm, linear on
        the last dim, add, concatenation...). What the walk cannot follow loses it, until a
        window (a conv, a pool) slides over dims 2, 3 of N, C, H, W maps again: MaxViT's
        convs after its window attention, whose partitions the walk does not follow."""
        out = calc.out
        if calc.rf == RF_WINDOW and len(out) == 2 + len(self.image):
            return tuple(range(2, len(out))), ()
        first = args[0] if args and isinstance(args[0], _Val) else None
        if op in _PERMUTES or op in _RESHAPES or op == "getitem":
            if first is None or not first.grid:
                return (), ()
            rank = len(first.shape)
            if op in _PERMUTES:
                perm = _permutation(fn, args[1:], kwargs, rank) if fn is not None else None
                if perm is None or len(out) != rank:
                    return (), ()
                return tuple(perm.index(a) for a in first.grid), first.tokens
            if op == "getitem":
                axes = _index_axes(args[1], rank) if len(args) == 2 else None
                if axes is None:
                    return (), ()
                kept = [axes[a] for a in first.grid]
                if any(a is None for a in kept):
                    return (), ()
                return tuple(a for a in kept if a is not None), first.tokens
            return _regroup(first, tuple(out))
        src = next((v for v in inputs if v.grid and len(v.shape) == len(out)), None)
        return (src.grid, src.tokens) if src is not None else ((), ())

    def _sources(self, result: Calc | formulas.Outputs) -> Any:
        dtype, self._dtype = self._dtype, None
        structure, self._structure = self._structure, None
        if isinstance(result, Calc):
            return self._source(result.out, dtype or torch.float32)
        outs = [None if o is None else self._source(o[0], o[1] or torch.float32)
                for o in result.outputs]
        return structure(outs) if structure is not None else tuple(outs)

    def _emit_all(self, node: fx.Node, name: str, result: Calc | formulas.Outputs,
                  inputs: list[_Val],
                  layout: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())) -> Any:
        """One row for the op; for several outputs (a tuple) the row shows the first, and
        every output is a value produced by that row."""
        dtype = self._dtype
        self._dtype = None
        if isinstance(result, Calc):
            val = self._emit(node, name, result, inputs, layout)
            if dtype is not None:
                val.dtype = dtype
            elif len(inputs) == 1:
                val.dtype = inputs[0].dtype
            elif inputs:
                val.dtype = functools.reduce(torch.promote_types, (v.dtype for v in inputs))
            return val
        val = self._emit(node, name, result.calc, inputs, layout)
        if inputs:
            val.dtype = inputs[0].dtype
        outs: list[_Val | None] = []
        for o in result.outputs:
            if o is None:
                outs.append(None)
                continue
            twin = _Val(TShape(o[0]), val.rf, val.jump, val.depth, val.producer, val.start,
                        o[1] or val.dtype)
            if len(o[0]) == len(val.shape):  # attention's weights beside its output: no grid
                twin.grid, twin.tokens = val.grid, val.tokens
            outs.append(twin)
        structure, self._structure = self._structure, None
        return structure(outs) if structure is not None else tuple(outs)

    def _apply(self, node: fx.Node, rule: Callable[..., Any], *args: Any, **kwargs: Any
               ) -> Calc | formulas.Outputs:
        try:
            return rule(*args, **kwargs)
        except EmptyOutputError as exc:
            shape = next(a for a in args if isinstance(a, TShape))
            raise InputTooSmallError(
                f"{self._label(node)} gets a {format_shape(shape[2:])} input and would output "
                f"an empty map ({exc.detail}).", _path(node)) from None
        except ShapeMismatchError as exc:
            raise InputSizeError(f"{self._label(node)} {exc}.", _path(node)) from None

    def _module_fn(self, module: nn.Module) -> Callable:
        """Call ``module`` with meta stand-ins for its weights, leaving it alone: another
        thread may be running the real one (a model the dashboard shares between sessions),
        so its weights are not swapped out, even for a moment. A TorchScript module cannot
        be copied that way: it is saved and loaded back onto meta, once per trace."""
        if isinstance(module, torch.jit.ScriptModule):
            twin = self.traced.twins.get(id(module))
            if twin is None:
                buffer = io.BytesIO()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", FutureWarning)  # jit's deprecation notice
                    torch.jit.save(module, buffer)
                    buffer.seek(0)
                    twin = torch.jit.load(buffer, map_location="meta")
                self.traced.twins[id(module)] = twin
            return twin
        return _meta_twin(module)

    def _fallback(self, node: fx.Node, fn: Callable, args: tuple, kwargs: dict, count: bool
                  ) -> Calc | formulas.Outputs | None:
        """Run the op on meta tensors: a Calc for one tensor out, Outputs for a structure
        holding tensors (``self._structure`` rebuilds it around the walk's values), None for a
        Python value (kept in ``self._passthrough``).

        What an op gives for given input shapes, dtypes and arguments is kept on the Traced
        (:attr:`Traced.fallbacks`): the repeated blocks of a transformer (Swin's 24 window
        attentions, run whole on meta) cost one run per distinct call, not one per block."""
        key = _signature((node.op, node.target, args, kwargs))
        found = self.traced.fallbacks.get(key) if key is not None else None
        if found is None:
            found = self._run_fallback(node, fn, args, kwargs, count)
            if key is not None:
                if len(self.traced.fallbacks) > _FALLBACKS_KEPT:
                    self.traced.fallbacks.clear()
                self.traced.fallbacks[key] = found
        kind, calc, dtype, out = found
        if kind == "value":
            self._passthrough = out
            return None
        self._dtype = dtype
        if kind == "tensor":
            return dataclasses.replace(calc)
        tensors = _tensors_in(out)

        def structure(vals: list[_Val | None]) -> Any:
            it = iter(vals)
            return _map_tensors(out, lambda _t: next(it))
        self._structure = structure
        return formulas.Outputs(dataclasses.replace(calc),
                                tuple((TShape(t.shape), t.dtype) for t in tensors))

    def _run_fallback(self, node: fx.Node, fn: Callable, args: tuple, kwargs: dict,
                      count: bool) -> tuple[str, Calc | None, torch.dtype | None, Any]:
        """The meta run itself -> (kind, calc, dtype, output): kind "tensor", "tensors" (a
        structure; the output kept for its shape) or "value" (no tensor in it)."""
        try:
            out, metas, macs = _run_on_meta(fn, args, kwargs, count)
        except CnnlibError:
            raise
        except Exception as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            # a message formatted while tracing names fx's placeholders: "got Proxy(getitem_2)"
            reason = re.sub(r"Proxy\(\w+\)", "another value", reason)
            vals = _vals_in((args, kwargs))
            if isinstance(exc, AssertionError) or (
                    isinstance(exc, (RuntimeError, ValueError))
                    and not isinstance(exc, NotImplementedError)  # no meta kernel
                    and _SIZE_WORDS.search(reason)):
                where = f" on input {_describe(vals)}" if vals else ""
                raise InputSizeError(f"{self._label(node)} fails{where}: "
                                     f"{reason.rstrip('.!')}.", _path(node)) from None
            raise AnalysisError(
                f"{self._label(node)} has no formula and cannot run on meta tensors "
                f"(inputs {_describe(vals)}): {type(exc).__name__}: {reason.rstrip('.!')}.",
                _path(node)) from None
        if isinstance(out, torch.Tensor):
            return "tensor", _meta_calc(out, metas, macs), out.dtype, None
        tensors = _tensors_in(out)
        if not tensors:
            return "value", None, None, out
        return "tensors", _meta_calc(tensors[0], metas, macs), tensors[0].dtype, out

    def _label(self, node: fx.Node) -> str:
        if node.op == "call_module":
            module = self.traced.modules[str(node.target)]
            return f"Layer {node.target} ({type(module).__name__})"
        scope = _scope(node)
        return f"Operation {_op_name(node)}" + (f" in {scope}" if scope else "")

    def _own_params(self, module: nn.Module, calc: Calc) -> tuple[int, tuple]:
        """Parameters count once per module, at its first call (a shared layer adds none)."""
        if id(module) in self.seen_params:
            return 0, ()
        self.seen_params.add(id(module))
        if calc.params_terms:
            return calc.params, calc.params_terms
        n = sum(p.numel() for p in module.parameters())
        return n, ((n,),) if n else ()

    def _emit(self, node: fx.Node, name: str, calc: Calc, inputs: list[_Val],
              layout: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())) -> _Val:
        src = inputs[0] if len(inputs) == 1 else max(inputs, key=lambda v: v.rf)
        rf_in, jump_in, start = src.rf, src.jump, src.start
        if calc.rf == RF_WINDOW:
            ws = calc.windows
            rf = tuple(r + (w.kernel - 1) * w.dilation * j
                       for r, j, w in zip(rf_in, jump_in, ws, strict=False))
            jump = tuple(j * w.stride for j, w in zip(jump_in, ws, strict=False))
            start = tuple(s + ((w.kernel - 1) * w.dilation / 2 - w.padding) * j
                          for s, j, w in zip(start, jump_in, ws, strict=False))
            rf, jump = rf + rf_in[len(rf):], jump + jump_in[len(jump):]
            start = start + src.start[len(start):]
        elif calc.rf == RF_GLOBAL:
            rf, jump = tuple(max(r, s) for r, s in zip(rf_in, self.image, strict=True)), jump_in
            start = tuple((s - 1) / 2 for s in self.image)
        elif len(inputs) == 1 and calc.out == src.shape:  # element-wise: nothing changes
            rf, jump = rf_in, jump_in
        else:
            rf = tuple(max(v.rf[i] for v in inputs) for i in range(len(rf_in)))
            jump = tuple(max(v.jump[i] for v in inputs) for i in range(len(jump_in)))
            start = src.start
            if (not calc.weight_layer and len(calc.out) == len(src.shape) > 2
                    and calc.out[1] == src.shape[1]
                    and all(a <= b for a, b in zip(calc.out[2:], src.shape[2:], strict=True))):
                # a subsampling op with no window (x[:, :, ::2, ::2]): spread the jump (not
                # a permute or reshape, which moves the channels)
                factors = _subsampling(src.shape[2:], calc.out[2:])
                jump = tuple(j * (factors[i] if i < len(factors) else 1)
                             for i, j in enumerate(jump))
        depth = max((v.depth for v in inputs), default=0) + int(calc.weight_layer)
        val = _Val(TShape(calc.out), rf, jump, depth, -1, start, grid=layout[0],
                   tokens=layout[1])
        val.producer = self._add_row(node, name, calc, val, inputs, rf_in, jump_in)
        return val

    def _add_row(self, node: fx.Node, name: str, calc: Calc, val: _Val, inputs: list[_Val],
                 rf_in: tuple[int, ...] = (), jump_in: tuple[int, ...] = ()) -> int:
        self.names[name] += 1
        if self.names[name] > 1:
            name = f"{name}#{self.names[name]}"
        stage = _stage(val)
        block = _scope(node)
        if node.op == "call_module":
            block = block.rpartition(".")[0]
        self.rows.append(Row(name, node.name, calc, val,
                             [v.producer for v in inputs if v.producer != _CONSTANT],
                             rf_in, jump_in, block, stage))
        return len(self.rows) - 1


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class Profile:
    """The analysis of one network at one input size.

    ``layers`` is the per-layer DataFrame (columns :data:`COLUMNS`), ``totals`` a read-only
    mapping of sums, ``warnings`` one sentence per layer that deserves a remark, ``edges`` the
    data flow between rows (``-1`` is the input), for drawing the graph.

    A zoo model's Profile is cached and handed to every thread that asks (every session of
    the dashboard), so it cannot be changed: the fields are frozen, and ``layers`` is a
    copy-on-write copy of the table, so a caller that edits it edits its own.
    """

    model: str
    input_size: tuple[int, int, int]
    table: pd.DataFrame = field(repr=False)
    totals: Mapping[str, Any]
    warnings: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    rows: tuple[Row, ...] = field(repr=False)
    bytes_per_element: int = 4
    flops: bool = False

    @property
    def layers(self) -> pd.DataFrame:
        """The per-layer table: the caller's own (shallow, copy-on-write) copy."""
        return self.table.copy(deep=False)

    def explain(self, row: int | str) -> dict[str, str]:
        """Row ``row`` (index or name) with each number's formula filled in."""
        r = self.rows[self._index(row)]
        lines = formulas.explain(r.calc, self.bytes_per_element)
        if r.calc.rf == RF_WINDOW and r.calc.windows:
            w, rf_in, j = r.calc.windows[0], r.rf_in[0], r.jump_in[0]
            dil = f"*{w.dilation}" if w.dilation > 1 else ""
            lines["receptive_field"] = (f"{rf_in} + ({w.kernel} - 1){dil}*{j} = {r.out.rf[0]}; "
                                        f"jump {j}*{w.stride} = {r.out.jump[0]}")
        return lines

    def receptive_box(self, row: int | str, y: int, x: int) -> tuple[int, int, int, int]:
        """Input pixels (top, left, bottom, right; bottom/right exclusive) that output position
        (y, x) of ``row`` depends on: the patch Zeiler & Fergus show next to a unit.

        Unlike the ``receptive_field`` column (the textbook size, padding included), this maps
        the position back layer by layer, clipping at every layer's edge, so pixels reachable
        only through some intermediate layer's padding are left out; it equals the support of
        the gradient of that output with respect to the input.
        """
        image = self.input_size[1:]
        pending: dict[int, list[list[int]] | None] = {self._index(row): [[y, y], [x, x]]}
        box: list[list[int]] | None = [[size, -1] for size in image]  # empty until reached
        for i in range(max(pending), -1, -1):
            if i not in pending:
                continue
            r = self.rows[i]
            for src in r.inputs:
                spatial = self.rows[src].calc.out[2:] if src >= 0 else image
                mapped = _map_back(r.calc, pending[i], spatial)
                if src < 0:
                    box = _union(box, mapped)
                else:
                    pending[src] = _union(pending.get(src, [[s, -1] for s in spatial]), mapped)
        spans = box or [[0, size - 1] for size in image]
        (top, bottom), (left, right) = spans
        return top, left, bottom + 1, right + 1

    def _index(self, row: int | str) -> int:
        if isinstance(row, int):
            return row
        for i, r in enumerate(self.rows):
            if r.name == row:
                return i
        raise CnnlibError(f"{self.model} has no layer named '{row}'.")

    def to_json(self) -> str:
        return json.dumps({"model": self.model, "input": format_shape(self.input_size),
                           "layers": self.table.to_dict(orient="records"),
                           "totals": dict(self.totals)}, indent=2, default=int)


def unused_note(totals: Mapping[str, Any]) -> str:
    """One sentence on the parameters the forward never reads ("" when there are none): the
    CLI's table and the Explore page print it under the totals."""
    n = totals.get("unused_params", 0)
    if not n:
        return ""
    where = list(totals["unused_modules"])
    held = ", ".join(where[:4]) + (f" and {len(where) - 4} more" if len(where) > 4 else "")
    return (f"{n:,} more parameters ({held}) are never read by the forward and are not "
            f"counted above; the model holds {totals['params'] + n:,} in all.")


def _meta_twin(module: nn.Module) -> nn.Module:
    """A shallow copy of ``module`` (and of its submodules) whose parameters and buffers are
    meta tensors of the same shapes; the original is not touched."""
    twin = copy.copy(module)
    twin._parameters = {k: None if v is None else torch.empty_like(v, device="meta")  # type: ignore[misc]
                        for k, v in module._parameters.items()}  # meta tensors stand in
    twin._buffers = {k: None if v is None else torch.empty_like(v, device="meta")
                     for k, v in module._buffers.items()}
    twin._modules = {k: None if m is None else _meta_twin(m) for k, m in module._modules.items()}
    return twin


def _subsampling(before: tuple[int, ...], after: tuple[int, ...]) -> list[int]:
    """Per dimension, how many input positions one output steps over, for ops with no window
    (``x[:, :, ::2, ::2]``): 1 for element-wise ops."""
    return [max(1, round(a / b)) if b else 1 for a, b in zip(before, after, strict=False)]


def _map_back(calc: Calc, spans: list[list[int]] | None, spatial: tuple[int, ...]
              ) -> list[list[int]] | None:
    """Index ranges of a layer's output -> the ranges of its input they depend on (None: all)."""
    if spans is None or calc.rf == RF_GLOBAL or len(calc.out) <= 2 or len(spatial) != len(spans):
        return None
    if calc.windows:
        return [[max(0, lo * w.stride - w.padding),
                 min(size - 1, hi * w.stride - w.padding + w.dilation * (w.kernel - 1))]
                for (lo, hi), w, size in zip(spans, calc.windows, spatial, strict=True)]
    factors = _subsampling(spatial, calc.out[2:])
    return [[lo * f, min(size - 1, hi * f + f - 1)]  # element-wise (f = 1) or subsampling
            for (lo, hi), f, size in zip(spans, factors, spatial, strict=True)]


def _union(a: list[list[int]] | None, b: list[list[int]] | None) -> list[list[int]] | None:
    if a is None or b is None:
        return None
    return [[min(x[0], y[0]), max(x[1], y[1])] for x, y in zip(a, b, strict=True)]


def _analyse(traced: Traced, size: tuple[int, int, int]) -> _Walk:
    with MODULES.shared():  # it reads the modules and may run one (the meta fallback)
        return _Walk(traced, size).run()


def smallest_input(traced: Traced, channels: int, limit: int = 4096) -> int | None:
    """The smallest square side the network accepts (no empty map, every shape fits)."""
    def empty_at(side: int) -> bool:
        try:
            _analyse(traced, (channels, side, side))
        except InputTooSmallError:
            return True
        except CnnlibError:
            return False
        return False

    lo, hi = 1, limit
    if empty_at(hi):
        return None
    while lo < hi:  # the first side with no empty map
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if empty_at(mid) else (lo, mid)
    for side in range(lo, min(limit, lo + 256) + 1):  # fixed-size classifiers: first exact fit
        try:
            _analyse(traced, (channels, side, side))
            return side
        except CnnlibError:
            continue
    return None


def profile(model: str | nn.Module, input_size: Any = None, *, flops: bool = False,
            bytes_per_element: int = 4, **options: Any) -> Profile:
    """Analyse a zoo model (by name, with builder ``options``) or any ``nn.Module``.

    ``input_size`` is ``(C, H, W)`` or a string like ``"3x224x224"``; it defaults to the zoo
    model's own input size. ``flops=True`` reports FLOPs (2 x MACs) instead of MACs. A zoo
    model's Profile is computed once per process for each size and option and then shared.
    """
    if isinstance(model, nn.Module):
        if options:
            raise CnnlibError("Builder options apply to zoo model names, not to a module.")
        if input_size is None:
            raise InputSizeError("Give an input_size (C x H x W) to analyse a module.")
        traced = trace(model)
        return _profile(traced, parse_input_size(input_size, traced.default_channels), None,
                        flops, bytes_per_element)
    info = registry.get(model)  # unknown names fail here with suggestions, before any build
    size = parse_input_size(info.input_size if input_size is None else input_size,
                            info.input_size[0])
    return _zoo_profile(model, size, flops, bytes_per_element, _options_key(options))


@memoize(maxsize=256)
def _zoo_profile(name: str, size: tuple[int, int, int], flops: bool, bytes_per_element: int,
                 options_key: tuple) -> Profile:
    return _profile(_traced_zoo(name, options_key), size, registry.get(name).input_size,
                    flops, bytes_per_element)


def _profile(traced: Traced, size: tuple[int, int, int], default: tuple[int, int, int] | None,
             flops: bool, bytes_per_element: int) -> Profile:
    """Walk ``traced`` at ``size``; an input that does not fit names the layer, and says what
    would (the smallest input, or the model's own size ``default``)."""
    try:
        walk = _analyse(traced, size)
    except InputTooSmallError as exc:
        side = smallest_input(traced, size[0])
        hint = (f" The smallest input {traced.name} accepts is {size[0]}x{side}x{side}."
                if side else "")
        raise InputTooSmallError(f"Input {format_shape(size)} is too small for {traced.name}: "
                                 f"{exc}{hint}", exc.layer) from None
    except AnalysisError as exc:
        raise AnalysisError(f"Cannot analyse {traced.name} at {format_shape(size)}: {exc}",
                            exc.layer) from None
    except InputSizeError as exc:
        hint = (f" {traced.name} is built for {format_shape(default)} inputs."
                if default and tuple(default) != size else "")
        raise InputSizeError(f"Input {format_shape(size)} does not fit {traced.name}: "
                             f"{exc}{hint}", exc.layer) from None
    return _result(traced.name, size, walk, flops, bytes_per_element)


def _result(name: str, size: tuple[int, int, int], walk: _Walk, flops: bool,
            bytes_per_element: int) -> Profile:
    rows = walk.rows
    records = []
    for r in rows:
        c = r.calc
        if c.type == "parameter":  # a weight read by a function: its own shape, no batch
            shape, activations = format_shape(c.out), 0
        else:
            shape, activations = format_shape(c.out[1:]), math.prod(c.out[1:])
        records.append((
            r.name, c.type, shape, formulas.kernel_text(c),
            formulas.stride_text(c), formulas.padding_text(c), c.params,
            activations, activations * bytes_per_element, c.macs * (2 if flops else 1),
            r.out.rf[0] if r.out.rf else 1, r.out.jump[0] if r.out.jump else 1,
            stage_text(r.stage), r.block))
    columns = [("flops" if flops and col == "macs" else col) for col in COLUMNS]
    layers = pd.DataFrame.from_records(records, columns=columns)
    allocated = sum(rec[7] for rec, r in zip(records, rows, strict=True) if not r.calc.inplace)
    outputs = _vals_in(walk.output)
    macs = sum(r.calc.macs for r in rows)
    totals = {
        "params": int(sum(r.calc.params for r in rows)),
        "macs": int(macs),
        "flops": int(2 * macs),
        "activations": int(allocated),
        "memory_bytes": int(allocated * bytes_per_element),
        "input_activations": int(math.prod(size)),
        "layers": len(rows),
        "weight_layers": sum(int(r.calc.weight_layer) for r in rows),
        "depth": max((v.depth for v in outputs), default=0),
        "output_shape": format_shape(outputs[0].shape[1:]) if outputs else "",
        # parameters the forward never reads, and the modules holding them: params + these
        # = every parameter of the model
        "unused_params": int(sum(n for _, n in walk.traced.unused)),
        "unused_modules": tuple(path for path, _ in walk.traced.unused),
    }
    warnings = tuple(f"{r.name}: {r.calc.warning}" for r in rows if r.calc.warning)
    edges = tuple((src, i) for i, r in enumerate(rows) for src in r.inputs)
    return Profile(name, size, layers, MappingProxyType(totals), warnings, edges, tuple(rows),
                   bytes_per_element, flops)
