"""A network's graph drawn as the papers draw it, as Graphviz DOT text.

Why DOT text: the dashboard hands it to ``st.graphviz_chart``, which lays it out in the browser,
so the main path needs no ``dot`` binary; :func:`svg` renders a download where one exists.
Everything comes from an analysis :class:`~cnnlib.analysis.Profile` (its rows, their inputs,
module scopes and output stages), so any network cnnlib can analyse can be drawn, a zoo model
or a user's ``nn.Module``.

Levels of detail (:data:`DETAILS`), from few nodes to every row of the table:

- ``all``: one node per row, named as in the table. At every other level a weight that a
  function reads (a ``parameter`` row: ViT's class token, ConvNeXt's layer scale) is no
  node and no edge: it is drawn inside the node of the layer reading it.
- ``layers``, the papers' figure: weight layers (``3x3 conv, 128, /2``, ``fc 1000``), pools,
  LRN, merges (``+``, ``concat``) and any other ``nn.Module`` cnnlib has no rule for are nodes;
  batch norm, activations, dropout, reshapes and glue functions (``getitem``, ``pad``) fold into
  the node they follow, named in order on its second line ("BN, ReLU") when they compute
  something (so a pre-activation net's "BN, ReLU" sits on the node before the conv they feed,
  where the data meets them). A pool with 1x1 windows and stride 1 (VGG's
  ``AdaptiveAvgPool2d(7)`` on a 7x7 map) is a no-op and folds too. Residual shortcuts become
  arcs into the ``+``: the rows on a shortcut (a 1x1 conv + BN projection, the CIFAR nets'
  subsample + zero-pad, an ``Identity``) fold into the arc, which is dashed where the shortcut
  projects or changes the shape and solid for the identity.
- ``blocks``: one node per block, e.g. ``basic block, 128, /2``, ``bottleneck 64-256``,
  ``inception (3a) 256``, ``denseblock (1) 256``; layers outside blocks as in ``layers``. The
  blocks after ResNet are named by what they hold, as their papers name them: ``inverted
  residual 24-144-24``, ``ConvNeXt block 96, 7x7 depthwise, MLP 384``, and a residual around
  an attention ``transformer block 768, 12-head attention, MLP 3072``; an fc after a
  space-to-depth is Swin's ``patch merging, 192, /2``.
- ``stages``: one node per run of layers at one resolution, e.g. ``2 × 3x3 conv, 128`` +
  ``2x2 max pool, /2`` for VGG or ``bottleneck 128-512, /2`` + ``3 × bottleneck 128-512``.

What a block is, found from the graph and the module tree rather than from model names: the
outermost module scope holding a merge (a residual block, an inception module, a dense block);
failing that, the outermost scope whose layers all sit at one resolution and hold at least two
weight layers, unless it is a run of two or more such scopes (so a plain net's ``layer1.0`` is
a block but ``layer1`` is not). A stage is known by the output resolution of its weight layers
and merges; a layer without weights (a pool, LRN) joins the stage of its input, so VGG's stages
read "convs + pool" and ZFNet's "conv + pool + LRN", as the papers group them. At ``layers``
and ``all`` each block is a cluster, which puts an inception module's branches side by side
under its name.

Edges carry output shapes (``64x56x56``, batch left out as in the table) at every level, but
show them only where the shape changed: on a node's first outgoing edge with a shape other than
the one that came into the node (a strided conv, a pool, a concat, a block that downsamples, a
shortcut arc that projects). A chain of 3x3 convs at one size, or of identical blocks, stays
uncluttered; the input and output nodes carry their shapes in their labels.

DenseNet concatenates every earlier feature map: drawn literally that is an edge from each layer
to every later concat (hundreds of crossing edges). A concat whose inputs include all those of
an earlier concat is drawn as that concat plus the new inputs, which computes the same tensor,
so a dense block reads as a chain of growing concats.

Input is any Profile; an odd graph (no rows, several outputs, a merge at the top level) gives an
odd drawing, never an exception. Building is a few linear passes over the rows: ResNet-152's
515 rows take milliseconds at any level.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import itertools
import re
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from cnnlib import formulas
from cnnlib.analysis import Profile, format_shape, stage_text

#: Levels of detail, from the fewest nodes to every row.
DETAILS = ("stages", "blocks", "layers", "all")
#: The most nodes :func:`default_detail` shows before it steps to a coarser level.
MAX_NODES = 60
RANKDIRS = ("TB", "LR", "BT", "RL")

#: Fill colour per kind of node: mid-light tints that all keep black text above 9:1 contrast
#: and stay distinct when a projector washes colours out.
COLOURS = {"input": "#D9D9D9", "conv": "#8DBDF0", "pool": "#F7B267", "fc": "#C5A3EC",
           "norm": "#F4D35E", "activation": "#A3D98B", "merge": "#F4978E", "block": "#7FD1C7",
           "other": "#FFFFFF"}
_LEGEND_NAMES = {"input": "input / output", "merge": "merge (+, concat)",
                 "block": "block / stage (several layers)"}
_SAME_COLOUR = {"output": "input", "lrn": "norm", "reshape": "other"}
_SHORTCUT_COLOUR = "#A61E1E"
_FONT = '"Helvetica,Arial,sans-serif"'
_MERGE_SYMBOLS = {"add": "+", "concat": "concat", "mul": "×"}
_MAX_LINES = 6  # of a block's or stage's label, before "… n more"
_SHORTCUT_ROWS = 8  # the longest shortcut branch looked for (ResNet-D's pool + conv + BN is 3)


def legend() -> dict[str, str]:
    """What each fill colour means: kind of node -> colour, for the page to show by the graph."""
    return {_LEGEND_NAMES.get(kind, kind): colour for kind, colour in COLOURS.items()}


# ---------------------------------------------------------------- kinds of rows

#: The colour group a row's kind (:data:`formulas.KINDS`, set by its rule) is drawn in; a kind
#: not listed is its own group.
_DRAWN_AS = {"max_pool": "pool", "avg_pool": "pool", "batch_norm": "norm", "dropout": "activation",
             "identity": "activation", "add": "merge", "concat": "merge", "mul": "merge",
             "matmul": "other", "attention": "other"}
_POOL_WORDS = {"max_pool": "max pool", "avg_pool": "avg pool"}


def _with_subclasses(cls: type) -> Iterator[type]:
    """``cls`` and torch's own classes derived from it (nn.Dropout from _DropoutNd); a user's
    subclass is left out, so the result does not depend on what is imported."""
    yield cls
    subclasses: list[type] = cls.__subclasses__()
    for sub in subclasses:
        if sub.__module__.startswith("torch."):
            yield from _with_subclasses(sub)


@functools.cache
def _class_names() -> dict[str, str]:
    """The layer classes formulas has rules for, by their lower-case name: how a function row
    ("relu") is named like its module ("ReLU") on a node's second line."""
    return {cls.__name__.lower(): cls.__name__
            for base in formulas.MODULE_RULES for cls in _with_subclasses(base)}


def _short(calc: formulas.Calc) -> str:
    """The name a folded layer goes by on its node's second line: BN, ReLU, Dropout."""
    if calc.kind == "batch_norm":
        return "BN"
    return _class_names().get(calc.type.lower(), calc.type)


def _is_1x1(calc: formulas.Calc) -> bool:
    return bool(calc.kernel) and all(k == 1 for k in calc.kernel)


def _stride_text(calc: formulas.Calc) -> str:
    """ ", /2" after a strided layer's label (any stride but 1, 11 included)."""
    return f", /{formulas.stride_text(calc)}" if any(s != 1 for s in calc.stride) else ""


def _noop_pool(calc: formulas.Calc) -> bool:
    return bool(calc.windows) and all(w.kernel == 1 and w.stride == 1 and w.padding == 0
                                      for w in calc.windows)


def _runs(lines: list[str]) -> list[str]:
    """Consecutive repeats counted: three "3x3 conv, 64" lines -> "3 × 3x3 conv, 64"."""
    counted = []
    for line, group in itertools.groupby(lines):
        n = sum(1 for _ in group)
        counted.append(f"{n} × {line}" if n > 1 else line)
    if len(counted) > _MAX_LINES:
        counted = [*counted[:_MAX_LINES - 1], f"… {len(counted) - _MAX_LINES + 1} more"]
    return counted


def _pretty(scope: str) -> str:
    """A module's name as the papers print it: inception3a -> inception (3a)."""
    last = scope.rpartition(".")[2]
    if last.isdigit():
        return f"block {last}"
    match = re.fullmatch(r"(.*?[A-Za-z])_?(\d\w*)", last)
    return f"{match[1]} ({match[2]})" if match else last


def _prefixes(scope: str) -> list[str]:
    """"a.b.c" -> ["a", "a.b", "a.b.c"]: the scope and the modules around it."""
    parts = scope.split(".") if scope else []
    return [".".join(parts[:n]) for n in range(1, len(parts) + 1)]


# ---------------------------------------------------------------- the graph


@dataclass(frozen=True)
class Node:
    """One box of the drawing."""

    id: str  # a DOT identifier: input, output, n<row>, b<block>, s<stage>
    label: str  # paper-style text, lines separated by "\n"
    kind: str  # picks the colour: a key of COLOURS, or output, lrn, reshape
    note: str = ""  # a last line: folded layers, a block's contents, a stage's resolution
    tooltip: str = ""
    cluster: int | None = None  # index into Graph.clusters


@dataclass(frozen=True)
class Edge:
    """Data flowing from one node to another; ``shape`` is the tensor's, ``label`` is shown."""

    src: str
    dst: str
    shape: str
    label: str = ""
    #: "identity" (drawn solid) or "projection" (dashed: a 1x1 conv, or any shortcut that
    #: changes the shape, like the CIFAR nets' parameter-free subsample + zero-pad); "" if none.
    shortcut: str = ""


@dataclass(frozen=True)
class Graph:
    """What :func:`to_dot` draws, kept as data so that tests and callers can inspect it."""

    model: str
    detail: str
    nodes: list[Node]
    edges: list[Edge]
    clusters: list[str]  # labels of the boxes drawn around blocks' nodes
    #: drawn as plain boxes in forward order, since the data flow could not be drawn
    #: readably (see :func:`build`)
    plain: bool = False


@dataclass(frozen=True, slots=True)
class _Shortcut:
    src: int  # the add's input on the shortcut side (the fork itself for a bare identity)
    path: tuple[int, ...]  # rows from the fork to the add, both excluded
    reshapes: bool  # projects or changes the shape: drawn dashed
    weights: bool  # has a weight layer (a projection proper)


class _Net:
    """A profile's rows with what every level of detail needs, worked out once per build."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self.rows = profile.rows
        self.kinds = [_DRAWN_AS.get(r.calc.kind, r.calc.kind) for r in self.rows]
        self.all_inputs = self._chain_concats()  # weights included: what "all" draws
        self.readers = self._weight_readers()
        # the data flow every other level draws: a weight is no input (see _weight_readers)
        self.inputs = [[s for s in ins if s not in self.readers] for ins in self.all_inputs]
        self.consumers = Counter(src for ins in self.inputs for src in ins)
        self.shortcuts = {i: s for i, r in enumerate(self.rows)
                          if r.calc.kind == "add" and (s := self._shortcut(i)) is not None}
        self.absorbed = {row for s in self.shortcuts.values() for row in s.path}
        self.rep: list[int] = []  # the row whose node a row folds into at "layers" (-1: input)
        for i in range(len(self.rows)):
            own = i not in self.absorbed and (len(self.inputs[i]) != 1 or self._is_layer(i))
            self.rep.append(i if own else self._rep(self.inputs[i][0]))
        for i, reader in self.readers.items():  # a weight is drawn in the node reading it
            self.rep[i] = self.rep[reader]
        # each row's stage, by resolution; filled in row order: a row's key may be its input's
        self.stage_keys: list[tuple[int, ...]] = []
        for i in range(len(self.rows)):
            self.stage_keys.append(self._stage_key(i))
        self.block_names, self.block_of, self.merge_blocks = self._blocks()
        for i, reader in sorted(self.readers.items()):
            self.block_of[i] = self.block_of[reader]
        self.block_rows: list[list[int]] = [[] for _ in self.block_names]
        for i, b in enumerate(self.block_of):
            if b is not None:
                self.block_rows[b].append(i)

    # ------------------------------------------------------------ rows

    def shape(self, row: int) -> tuple[int, ...]:
        return tuple(self.rows[row].calc.out) if row >= 0 else (1, *self.profile.input_size)

    def shape_text(self, row: int) -> str:
        return format_shape(self.shape(row)[1:])

    def _rep(self, row: int) -> int:
        return self.rep[row] if row >= 0 else -1

    def _chain_concats(self) -> list[list[int]]:
        """Each row's inputs, where a concat of all of an earlier concat's inputs and more takes
        that concat in their place: the same tensor, drawn with far fewer edges."""
        inputs = [list(r.inputs) for r in self.rows]
        earlier: dict[int, list[int]] = {}  # first input -> concats that start with it
        for i, r in enumerate(self.rows):
            if r.calc.kind != "concat" or not r.inputs or len(set(r.inputs)) < len(r.inputs):
                continue
            mine = set(r.inputs)
            subsets = [c for c in earlier.get(r.inputs[0], [])
                       if set(self.rows[c].inputs) < mine and self._grows(c, i)]
            if subsets:
                c = max(subsets, key=lambda c: len(self.rows[c].inputs))
                inputs[i] = [c, *(x for x in r.inputs if x not in set(self.rows[c].inputs))]
            earlier.setdefault(r.inputs[0], []).append(i)
        return inputs

    def _weight_readers(self) -> dict[int, int]:
        """Weights a function reads -> the first row computing with data that reads them.

        A weight is a ``parameter`` row (F.layer_norm's weight, ViT's class token and position
        embedding, ConvNeXt's layer scale, Swin's attention projections) or a row computed from
        weights alone (the class token's ``expand``, Swin's relative-position-bias lookup). They
        are not data flow: drawn as nodes they crowd the figure with "parameter" boxes and make
        the layer reading them look like a merge (a LayerNorm2d's layer_norm of x, weight and
        bias became a block named "block 1"). So every level but "all" draws each weight inside
        its reader's node, with no edge; "all" keeps one node per row. A weight that no data
        row reads stays a row like any other."""
        weights: set[int] = set()
        for i, (row, ins) in enumerate(zip(self.rows, self.all_inputs, strict=True)):
            if (row.calc.type == "parameter" and not ins) or (ins and all(
                    s in weights for s in ins)):
                weights.add(i)
        consumers: dict[int, list[int]] = {}
        for i, ins in enumerate(self.all_inputs):
            for src in dict.fromkeys(ins):
                consumers.setdefault(src, []).append(i)
        readers: dict[int, int] = {}
        for i in sorted(weights, reverse=True):  # a weight's consumers are decided before it
            for c in consumers.get(i, []):
                if c not in weights or c in readers:
                    readers[i] = readers.get(c, c)
                    break
            else:
                weights.discard(i)
        return readers

    def _grows(self, first: int, then: int) -> bool:
        """Whether concat ``then`` extends ``first`` along the same dimension."""
        a, b = self.shape(first), self.shape(then)
        return len(a) == len(b) and sum(x != y for x, y in zip(a, b, strict=True)) == 1

    def _ancestors(self, row: int, low: int) -> set[int]:
        """``row`` and the rows it depends on, down to index ``low``."""
        seen, todo = {row}, [row]
        while todo:
            current = todo.pop()
            for src in self.inputs[current] if current >= 0 else ():
                if src >= low and src not in seen:
                    seen.add(src)
                    todo.append(src)
        return seen

    def _shortcut(self, add: int) -> _Shortcut | None:
        """The shortcut of a residual ``+``: the input reaching the other's ancestry in fewest
        rows, each used by nothing else, while the other side holds more weight layers (or an
        attention: a transformer's residuals hold one and no conv or fc)."""
        ins = self.inputs[add]
        if len(ins) != 2:
            return None
        found = []
        for side, other in ((ins[1], ins[0]), (ins[0], ins[1])):
            chain = [side]
            while (len(chain) <= _SHORTCUT_ROWS and chain[-1] >= 0
                   and len(self.inputs[chain[-1]]) == 1):
                chain.append(self.inputs[chain[-1]][0])
            ancestors = self._ancestors(other, min(chain))
            for pos, row in enumerate(chain):
                if row in ancestors:
                    main = sum(self.kinds[a] in ("conv", "fc") or self.attends(a)
                               for a in ancestors if a > row)
                    path = tuple(reversed(chain[:pos]))
                    weights = sum(self.kinds[p] in ("conv", "fc") for p in path)
                    if main > weights:
                        found.append((len(path), side, row, path, weights > 0))
                    break
                if row < 0 or self.consumers[row] != 1:
                    break
        if not found:
            return None
        _, side, fork, path, weights = min(found, key=lambda f: f[0])
        reshapes = weights or self.shape(fork) != self.shape(add) or any(
            self.rows[p].calc.params or self.shape(p) != self.shape(self.inputs[p][0])
            for p in path)
        return _Shortcut(side, path, bool(reshapes), weights)

    def attends(self, row: int) -> bool:
        """Whether a row is an attention: ``nn.MultiheadAttention`` or scaled dot-product
        attention (kind "attention"), or a function cnnlib has no rule for that computes and is
        named so (Swin's ``shifted_window_attention``, counted by torch's flop counter)."""
        calc = self.rows[row].calc
        return calc.kind == "attention" or (
            calc.kind == "other" and calc.macs > 0 and "attention" in calc.type.lower())

    def attention_text(self, row: int) -> str:
        """An attention row as the papers name it: "12-head attention" (the heads from
        formulas' note on nn.MultiheadAttention), or a function's own name, spaced: "shifted
        window attention"."""
        calc = self.rows[row].calc
        if calc.kind != "attention":
            return calc.type.replace("_", " ")
        heads = re.match(r"(\d+) heads", calc.note)
        return f"{heads[1]}-head attention" if heads else "attention"

    def _is_layer(self, row: int) -> bool:
        """A single-input row that is a node of its own at "layers"."""
        kind, calc = self.kinds[row], self.rows[row].calc
        if kind == "pool":
            return not _noop_pool(calc)
        # an nn.Module with no rule (Upsample, ConvTranspose2d) is a layer; a function is glue
        # unless it computes (Swin's shifted_window_attention, once its weights are no inputs)
        return kind in ("conv", "fc", "lrn") or (kind == "other" and (
            calc.type[:1].isupper() or calc.kind == "attention" or calc.macs > 0))

    def _stage_key(self, row: int) -> tuple[int, ...]:
        """The resolution a row's stage is known by: its output's for a weight layer or a merge;
        its input's stage for the rest, so a pool (or LRN, flatten) ends the stage before it
        rather than starting one, as the papers group "conv, pool, norm" into one layer."""
        ins = self.inputs[row]
        if len(ins) != 1 or self.kinds[row] in ("conv", "fc"):
            return self.rows[row].stage
        return self.stage_keys[ins[0]] if ins[0] >= 0 else self.shape(-1)[2:]

    # ------------------------------------------------------------ blocks

    def _blocks(self) -> tuple[list[str], list[int | None], set[str]]:
        """Block scopes (in order of appearance), each row's block, and which hold a merge."""
        merges = {r.block for i, r in enumerate(self.rows) if len(self.inputs[i]) >= 2 and r.block}
        merge_blocks = {s for s in merges if not any(p in merges for p in _prefixes(s)[:-1])}
        # a weight's block is its reader's (set by the caller), whatever scope it was read in
        scopes = [[] if i in self.readers else _prefixes(r.block) for i, r in enumerate(self.rows)]
        stages: dict[str, set[tuple[int, ...]]] = {}
        weights: Counter[str] = Counter()
        has_merge_block: set[str] = set()
        for i, prefixes in enumerate(scopes):
            if any(p in merge_blocks for p in prefixes):
                has_merge_block.update(prefixes)
                continue
            for p in prefixes:
                stages.setdefault(p, set()).add(self.stage_keys[i])
                weights[p] += self.kinds[i] in ("conv", "fc")

        def plain(scope: str) -> bool:
            found = stages.get(scope, set())
            return (scope not in has_merge_block and len(found) == 1 and () not in found
                    and weights[scope] >= 2)

        children: dict[str, list[str]] = {}
        for scope in stages:
            children.setdefault(scope.rpartition(".")[0], []).append(scope)
        chosen = set(merge_blocks)
        for scope in sorted(stages, key=lambda s: s.count(".")):
            if (plain(scope) and not any(p in chosen for p in _prefixes(scope))
                    and sum(plain(c) for c in children.get(scope, [])) < 2):
                chosen.add(scope)
        names: list[str] = []
        index: dict[str, int] = {}
        block_of: list[int | None] = []
        for prefixes in scopes:
            block = next((p for p in prefixes if p in chosen), None)
            if block is not None and block not in index:
                index[block] = len(names)
                names.append(block)
            block_of.append(index.get(block) if block is not None else None)
        return names, block_of, merge_blocks

    def block_title(self, b: int) -> tuple[str, str]:
        """A block's label and note: "bottleneck 64-256, /2" / "projection shortcut"."""
        rows = self.block_rows[b]
        members = set(rows)
        out = self.shape(rows[-1])
        channels = out[1] if len(out) > 1 else ""
        entry = next((s for i in rows for s in self.inputs[i] if s not in members), None)
        down = 1
        if entry is not None and len(out) > 2 and len(self.shape(entry)) == len(out) and out[2]:
            down = max(1, round(self.shape(entry)[2] / out[2]))
        adds = [i for i in rows if i in self.shortcuts]
        attention = [i for i in rows if self.attends(i) and i not in self.absorbed]
        if adds and attention:
            return self.attention_title(rows, attention[0]), ""
        if len(adds) == 1:
            convs = [i for i in rows if self.kinds[i] == "conv" and i not in self.absorbed]
            if len(convs) == 2:
                title = f"basic block, {channels}"
            elif len(convs) == 3 and all(_is_1x1(self.rows[i].calc) for i in convs[::2]):
                groups = self.groups(convs[1])
                title = (f"bottleneck {self.shape(convs[1])[1]}-{channels}"
                         + (f", g={groups}" if groups > 1 else ""))
            else:
                title = f"residual block, {len(convs)} conv, {channels}"
            shortcut = self.shortcuts[adds[0]]
            note = ("" if not shortcut.reshapes else
                    "projection shortcut" if shortcut.weights else "parameter-free shortcut")
            title = self.later_block_title(rows, title)
            return title + (f", /{down}" if down > 1 else ""), note
        own = [i for i in rows if self.rep[i] == i]
        if self.block_names[b] in self.merge_blocks:
            counts = Counter(self.kinds[i] for i in own)
            note = ", ".join(f"{counts[k]} {'LRN' if k == 'lrn' else k}"
                             for k in ("conv", "pool", "fc", "lrn") if counts[k])
            weighted = [i for i in own if self.kinds[i] in ("conv", "fc")]
            if (weighted and any(self.rows[i].calc.kind == "mul" for i in own)
                    and all(all(d == 1 for d in self.shape(i)[2:]) for i in weighted)):
                # squeeze-and-excitation: weights on a pooled 1x1 map, multiplied back in (an
                # SE module outside a residual, as in MobileNetV3's and EfficientNet's strided
                # blocks, is its own block; its scope's name is a bare index, "block 2")
                return f"SE block {channels}", note
            return f"{_pretty(self.block_names[b])} {channels}", note
        return "\n".join(_runs([self.label(i) for i in own])), ""

    def attention_title(self, rows: list[int], attention: int) -> str:
        """A residual block around an attention, named as the transformer papers draw it: with
        an MLP after it (fcs widening the tokens, then back), "transformer block 768, 12-head
        attention, MLP 3072" (ViT's encoder block, Swin's block with "shifted window
        attention"); without one, "attention block 768, ...". The width is the tokens' (the
        last dimension: ViT's 197x768 tokens, Swin's 56x56x96 channels-last maps)."""
        width = self.shape(attention)[-1]
        what = self.attention_text(attention)
        hidden = [self.shape(i)[-1] for i in rows if i > attention and self.kinds[i] == "fc"
                  and i not in self.absorbed and self.shape(i)[-1] > width]
        if hidden:
            return f"transformer block {width}, {what}, MLP {max(hidden)}"
        return f"attention block {width}, {what}"

    # ------------------------------------------------------------ labels

    def channels(self, row: int) -> int:
        """A conv's or fc's output channels: dimension 1 of a conv's map, the last of an fc's
        (ConvNeXt's and Swin's fcs run on channels-last maps)."""
        out = self.shape(row)
        return out[-1] if self.kinds[row] == "fc" else out[1] if len(out) > 1 else 0

    def groups(self, row: int) -> int:
        """A convolution's groups, from its weight's shape (C_out, C_in/groups, K, K)."""
        terms, ins = self.rows[row].calc.params_terms, self.inputs[row]
        if not terms or len(terms[0]) < 2 or not terms[0][1] or not ins:
            return 1
        c_in = self.shape(ins[0])[1] if len(self.shape(ins[0])) > 1 else 0
        return c_in // terms[0][1] if c_in % terms[0][1] == 0 and c_in > terms[0][1] else 1

    def label(self, row: int) -> str:
        """The papers' name for a layer: "3x3 conv, 128, /2", "max pool, /2", "fc 1000", "+"."""
        calc, kind = self.rows[row].calc, self.kinds[row]
        out = calc.out
        if kind == "conv":
            kernel = formulas.kernel_text(calc)
            text = (f"{kernel} conv" if kernel else calc.type) + (
                f", {out[1]}" if len(out) > 1 else "") + _stride_text(calc)
            groups = self.groups(row)
            text += f", g={groups}" if groups > 1 else ""
            dilation = calc.windows[0].dilation if calc.windows else 1
            return text + (f", d={dilation}" if dilation > 1 else "")
        if kind == "fc":
            merged = self._merges_patches(row)
            if merged > 1:
                return f"patch merging, {out[-1]}, /{merged}"
            return f"fc {out[-1]}" if out else "fc"
        if kind == "pool":
            word = _POOL_WORDS.get(calc.kind, "pool")
            if formulas.is_global_pool(calc) or (calc.windows and all(
                    w.out == 1 and w.kernel >= w.size for w in calc.windows)):
                return f"global {word}"
            if not calc.windows:  # adaptive, with uneven windows
                return f"{formulas.kernel_text(calc)} {word}".strip()
            return f"{formulas.kernel_text(calc)} {word}{_stride_text(calc)}"
        if kind == "lrn":
            return "LRN"
        if kind == "merge":
            return _MERGE_SYMBOLS.get(calc.kind, calc.type)
        if self.attends(row):
            return self.attention_text(row)
        if not self.all_inputs[row]:  # a parameter or constant feeding the graph
            return f"{calc.type} {format_shape(out[1:])}"
        return _short(calc)

    def _merges_patches(self, row: int) -> int:
        """The factor ``f`` where the fc ``row`` reads, through the glue folded before it, a
        space-to-depth of its map (each f x f patch's features side by side: two dimensions
        / f, one x f², nothing computed), as Swin's patch merging does before its reduction
        fc (56x56x96 -> 28x28x384 -> fc 192); 1 for any other fc."""
        src = self.inputs[row][0] if len(self.inputs[row]) == 1 else -1
        while src >= 0 and self.rep[src] != src and len(self.inputs[src]) == 1:
            before, after = self.shape(self.inputs[src][0]), self.shape(src)
            if len(before) == len(after) and before != after:
                down = {b // a for a, b in zip(after, before, strict=True) if b > a and b % a == 0}
                grown = [a // b for a, b in zip(after, before, strict=True) if a > b]
                shrunk = sum(b > a for a, b in zip(after, before, strict=True))
                if (len(down) == 1 and shrunk == 2 and grown == [next(iter(down)) ** 2]
                        and not self.rows[src].calc.macs):
                    return next(iter(down))
                return 1
            src = self.inputs[src][0]
        return 1

    def folded_note(self, rows: list[int]) -> str:
        """What computes inside a node besides its layer: "BN, ReLU" (reshapes left out)."""
        names = (self._short(i) for i in rows
                 if self.kinds[i] in ("norm", "activation")
                 and self.rows[i].calc.kind != "identity")
        return ", ".join(dict.fromkeys(names))

    def _short(self, row: int) -> str:
        """:func:`_short`, with a norm function named as its module: ConvNeXt's LayerNorm2d
        calls F.layer_norm, a row of type "norm", drawn "LayerNorm"."""
        calc = self.rows[row].calc
        if calc.type == "norm":
            function = self.rows[row].name.rpartition(".")[2].split("#")[0]
            return _class_names().get(function.replace("_", ""), calc.type)
        return _short(calc)

    def tooltip(self, row: int) -> str:
        r = self.rows[row]
        params = f", {r.calc.params:,} params" if r.calc.params else ""
        return f"{r.name}: {self.shape_text(row)}{params}"

    # ------------------------------------------------------------ levels

    def node_ids(self, detail: str) -> list[str]:
        """Each row's node at ``detail``."""
        n = len(self.rows)
        if detail == "all":
            return [f"n{i}" for i in range(n)]
        if detail == "layers":
            return [_row_id(self.rep[i]) for i in range(n)]
        blocks = [self._block_id(i) for i in range(n)]
        if detail == "blocks":
            return blocks
        stage_of = self._stages(blocks)
        return [stage_of.get(b, b) for b in blocks]

    def _block_id(self, row: int) -> str:
        rep = self.rep[row]
        block = self.block_of[row] if self.block_of[row] is not None else (
            self.block_of[rep] if rep >= 0 else None)
        return f"b{block}" if block is not None else _row_id(rep)

    def _stages(self, blocks: list[str]) -> dict[str, str]:
        """Block-level node -> stage node: consecutive nodes at one resolution share one."""
        last: dict[str, int] = {}
        for i, b in enumerate(blocks):
            if i not in self.readers:  # a weight's node is its reader's, which comes later
                last[b] = i
        stage_of: dict[str, str] = {}
        key: tuple[int, ...] | None = None
        count = -1
        for b, i in last.items():
            if b != "input":
                if self._key(b, i) != key:
                    key, count = self._key(b, i), count + 1
                stage_of[b] = f"s{count}"
        return stage_of

    def _key(self, block_level_id: str, last_row: int) -> tuple[int, ...]:
        """The resolution of a block-level node: its last row's, or its layer's."""
        if block_level_id.startswith("b"):
            return self.stage_keys[last_row]
        return self.stage_keys[int(block_level_id[1:])]

    def node(self, node_id: str, rows: list[int], detail: str) -> Node:
        """The node ``node_id`` made of ``rows`` at ``detail``."""
        if node_id.startswith("n"):
            row = int(node_id[1:])
            block = self.block_of[row] if detail in ("layers", "all") else None
            note = self.rows[row].name if detail == "all" else self.folded_note(
                [i for i in rows if i != row and i not in self.absorbed])
            return Node(node_id, self.label(row), self.kinds[row], note, self.tooltip(row), block)
        if node_id.startswith("b"):
            b = int(node_id[1:])
            title, note = self.block_title(b)
            return Node(node_id, title, "block", note, self.block_names[b])
        parts: dict[str, list[int]] = {}
        for i, block_id in zip(rows, (self._block_id(i) for i in rows), strict=True):
            parts.setdefault(block_id, []).append(i)
        inner = [self.node(block_id, part, "blocks") for block_id, part in parts.items()]
        if len(inner) == 1:
            return dataclasses.replace(inner[0], id=node_id)
        lines = _runs([line for n in inner for line in n.label.split("\n")])
        first, part = next(iter(parts.items()))
        key = self._key(first, part[-1])
        note = f"at {stage_text(key)}" if key else ""
        # "the 56x56 stage", "the 197-token stage"
        name = f"{key[0]}-token" if len(key) == 1 else stage_text(key)
        return Node(node_id, "\n".join(lines), "block", note, f"the {name} stage")

    def graph(self, detail: str) -> Graph:
        """Input, one node per group of rows at ``detail`` (in the rows' order), output."""
        ids = self.node_ids(detail)
        members: dict[str, list[int]] = {}
        # nodes in the order of their data rows: a weight comes before the node reading it
        weights_last = sorted(range(len(ids)), key=lambda i: detail != "all" and i in self.readers)
        for i in weights_last:
            members.setdefault(ids[i], []).append(i)
        for rows in members.values():
            rows.sort()
        size = format_shape(self.profile.input_size)
        nodes = [Node("input", f"input {size}", "input",
                      self.folded_note(members.pop("input", [])), "the network's input")]
        nodes += [self.node(node_id, rows, detail) for node_id, rows in members.items()]
        out = self.profile.totals.get("output_shape", "")
        nodes.append(Node("output", f"output {out}".strip(), "output", "", "the network's output"))
        clusters = []
        if detail in ("layers", "all"):
            clusters = [self.block_title(b)[0].split("\n")[0] if name in self.merge_blocks
                        else name for b, name in enumerate(self.block_names)]
        return Graph(self.profile.model, detail, nodes, self._edges(ids, detail), clusters)

    def _edges(self, ids: list[str], detail: str) -> list[Edge]:
        """One edge per pair of nodes that data flows between, ``ids`` giving each row's node;
        at "all" also from each weight to the row reading it."""
        inputs = self.all_inputs if detail == "all" else self.inputs
        flows: list[tuple[str, str, int, str]] = []  # (from, to, row carrying the data, shortcut)
        for i, dst in enumerate(ids):
            shortcut = self.shortcuts.get(i)
            for source in inputs[i]:
                kind = ""
                if shortcut is not None and source == shortcut.src and dst == f"n{i}":
                    kind = "projection" if shortcut.reshapes else "identity"
                flows.append((ids[source] if source >= 0 else "input", dst, source, kind))
        sinks = [i for i in range(len(ids)) if not self.consumers[i] and i not in self.readers]
        flows += [(ids[i], "output", i, "") for i in sinks] or [("input", "output", -1, "")]
        arrived = {"input": self.shape_text(-1)}  # node -> the shape of its first input
        for src, dst, row, _ in flows:
            if src != dst:
                arrived.setdefault(dst, self.shape_text(row))
        edges: dict[tuple[str, str], Edge] = {}
        labelled: set[tuple[str, str]] = set()
        for src, dst, row, kind in flows:
            if src == dst or (src, dst) in edges:
                continue
            shape = self.shape_text(row)
            label = "" if shape == arrived.get(src) or (src, shape) in labelled else shape
            labelled.add((src, shape))
            edges[src, dst] = Edge(src, dst, shape, label, kind)
        return list(edges.values())

    def later_block_title(self, rows: list[int], title: str) -> str:
        """What the papers after ResNet call a residual block that :meth:`block_title` names
        by its convs: MobileNetV2's "inverted residual 24-144-24" (a 1x1 conv widening the
        thin ends, a 3x3 depthwise conv, a 1x1 conv back), MobileNet's "depthwise separable
        16" (a depthwise conv, then a 1x1), and ", SE" where a squeeze-and-excitation sits
        inside (two convs on a 1x1 map, their output multiplied back in). A block that is
        none of these keeps ``title``; a bottleneck with SE (RegNetY) keeps its name."""
        out = self.shape(rows[-1])
        if len(out) < 4:
            return title
        convs = [i for i in rows if self.kinds[i] == "conv" and i not in self.absorbed]
        squeeze = [i for i in convs if self.shape(i)[2:] == (1, 1) != out[2:]]
        core = [i for i in convs if i not in squeeze]
        se = ", SE" if squeeze else ""

        def depthwise(i: int) -> bool:
            return 1 < self.groups(i) == self.shape(i)[1]

        def pointwise(i: int) -> bool:
            return self.label(i).startswith("1x1 ") and not depthwise(i)

        if len(core) == 3 and pointwise(core[0]) and depthwise(core[1]) and pointwise(core[2]):
            inner = self.shape(core[1])[1]
            return f"inverted residual {out[1]}-{inner}-{out[1]}{se}" if inner > out[1] \
                else f"depthwise bottleneck {inner}-{out[1]}{se}"
        if len(core) == 2 and depthwise(core[0]) and pointwise(core[1]):
            return f"depthwise separable {out[1]}{se}"
        # ConvNeXt's block: a large depthwise conv, then an MLP on each position's channels
        # (fcs on a channels-last map, or 1x1 convs) widening and back
        mlp = [i for i in rows if i not in self.absorbed and (
            self.kinds[i] == "fc" or (i in core and pointwise(i)))]
        if ([i for i in core if i not in mlp] == core[:1] and core and depthwise(core[0])
                and len(mlp) == 2 and core[0] < mlp[0]
                and self.channels(mlp[0]) > out[1] == self.channels(mlp[1])):
            kernel = formulas.kernel_text(self.rows[core[0]].calc)
            return f"ConvNeXt block {out[1]}, {kernel} depthwise, MLP {self.channels(mlp[0])}{se}"
        if len(core) == 3 and squeeze and pointwise(core[0]) and pointwise(core[2]):
            groups = self.groups(core[1])
            return (f"bottleneck {self.shape(core[1])[1]}-{out[1]}"
                    + (f", g={groups}" if groups > 1 else "") + se)
        return title


def _row_id(row: int) -> str:
    return f"n{row}" if row >= 0 else "input"


def build(profile: Profile, detail: str = "layers") -> Graph:
    """The nodes and edges of ``profile``'s network at ``detail`` (one of :data:`DETAILS`).

    A network whose data flow cannot be drawn readably (building it fails, or what it draws
    is not a network: several ends fan into the output, or one node feeds more than
    :data:`MAX_FANOUT` others, as when an analysis misses a layer and its consumers seem to
    read the input) is drawn as plain boxes in forward order instead (:func:`plain`), so a
    page always has a picture and never an error."""
    if detail not in DETAILS:
        raise ValueError(f"Unknown detail '{detail}': expected one of {', '.join(DETAILS)}.")
    try:
        drawn = _Net(profile).graph(detail)
    except Exception:  # any failure: the picture must not take the page down
        return plain(profile, detail)
    return _tidied(drawn) if readable(drawn) else plain(profile, detail)


#: A conv with as many groups as filters, as :meth:`_Net.label` writes it ("3x3 conv, 96, /2,
#: g=96"): one filter per channel, what MobileNet calls a depthwise conv.
_DEPTHWISE = re.compile(r"\b(\d+x\d+) conv, (\d+)((?:, /\d+)?), g=\2\b")


def _tidied(drawn: Graph) -> Graph:
    """``drawn`` with every depthwise conv named so on every line it appears ("3x3 depthwise
    conv, 96, /2" instead of "3x3 conv, 96, /2, g=96"), in nodes and cluster titles alike,
    and no line ending in a space (a parameter with no shape to print, ConvNeXt's layer
    scale, is "parameter", not "parameter ")."""
    def named(text: str) -> str:
        text = _DEPTHWISE.sub(r"\1 depthwise conv, \2\3", text)
        return "\n".join(line.rstrip() for line in text.split("\n"))

    return dataclasses.replace(
        drawn, nodes=[dataclasses.replace(n, label=named(n.label), note=named(n.note))
                      for n in drawn.nodes],
        clusters=[named(c) for c in drawn.clusters])


def default_detail(profile: Profile) -> str:
    """"layers" (the papers' figure) when it has at most :data:`MAX_NODES` nodes, else
    "blocks", else "stages": a page opens on the finest view that still reads at a glance."""
    # the nodes each level draws, plain boxes included (see build): a few ms for ResNet-152
    counts = {d: len(build(profile, d).nodes) for d in ("layers", "blocks")}
    return next((d for d in ("layers", "blocks") if counts[d] <= MAX_NODES), "stages")


def row_groups(profile: Profile, detail: str) -> list[str]:
    """Each row of ``profile.layers`` with the id of the node that draws it at ``detail``:
    what a chart sums over to show a deep net per block (``"b3"``) or stage as its graph
    does. A row drawn as its own node (or folded into one) has ``"n<row>"``."""
    try:
        return _Net(profile).node_ids(detail)
    except Exception:  # drawn as plain boxes (see build)
        return _plain_ids(profile, detail)


# ---------------------------------------------------------------- plain boxes: the fallback

#: The most nodes one node may feed before its drawing is taken for a lost data flow
#: (GoogLeNet's widest fork, an inception module's input, feeds 4).
MAX_FANOUT = 8
#: How deep in the module tree the plain boxes group rows at each detail (None: one per row).
_PLAIN_DEPTH = {"stages": 1, "blocks": 3, "layers": None, "all": None}


def readable(drawn: Graph) -> bool:
    """Whether ``drawn`` reads as a network: one end into the output, and no node feeding
    more than :data:`MAX_FANOUT` others."""
    fanout = Counter(edge.src for edge in drawn.edges)
    ends = sum(edge.dst == "output" for edge in drawn.edges)
    return ends <= 1 and max(fanout.values(), default=0) <= MAX_FANOUT


def _plain_ids(profile: Profile, detail: str) -> list[str]:
    """Each row's plain box: consecutive rows under one module ``_PLAIN_DEPTH[detail]``
    levels deep share a box (``b<k>``); at "layers" a function without parameters (a
    reshape, an add) joins the box before it; at "all" every row is a box (``n<row>``)."""
    depth = _PLAIN_DEPTH[detail]
    ids: list[str] = []
    previous = None
    for row, (name, row_type, params) in enumerate(zip(
            profile.layers["name"], profile.layers["type"], profile.layers["params"],
            strict=True)):
        glue = row_type[:1].islower() and not params  # a function row: reshape, add, cat
        if detail == "all" or (not ids and depth is None):
            ids.append(f"n{row}")
        elif depth is None:
            ids.append(ids[-1] if glue else f"n{row}")
        else:
            scope = ".".join(name.split("#")[0].split(".")[:depth])
            if ids and (scope == previous or (glue and "." not in name)):
                ids.append(ids[-1])
            else:
                ids.append(f"b{row}")
                previous = scope
    return ids


def plain(profile: Profile, detail: str = "layers") -> Graph:
    """``profile``'s rows as plain boxes in forward order, one after another: what is drawn
    when the data flow cannot be (see :func:`build`). A box names its module and sums its
    rows ("encoder.layers.encoder_layer_0: 11 rows, 7.1M params"); edges carry the shape
    where it changes. Nothing in it depends on the data flow, so it always draws."""
    ids = _plain_ids(profile, detail)
    rows: dict[str, list[int]] = {}
    for row, node_id in enumerate(ids):
        rows.setdefault(node_id, []).append(row)
    layers = profile.layers
    nodes = [Node("input", f"input {format_shape(profile.input_size)}", "input", "",
                  "the network's input")]
    edges: list[Edge] = []
    before, shape, shown = "input", format_shape(profile.input_size), ""
    for node_id, members in rows.items():
        edges.append(Edge(before, node_id, shape, "" if shape in (shown, format_shape(
            profile.input_size)) else shape))
        shown = shape
        names = [str(layers["name"].iloc[r]) for r in members]
        scopes = [n for n, t, p in zip(names, layers["type"].iloc[members],
                                       layers["params"].iloc[members], strict=True)
                  if not (t[:1].islower() and not p)] or names  # glue left out
        params = int(layers["params"].iloc[members].sum())
        out = str(layers["output_shape"].iloc[members[-1]])
        if len(members) == 1:
            label, note = names[0], str(layers["type"].iloc[members[0]])
        else:
            split = (n.split("#")[0].split(".") for n in scopes)
            common = list(itertools.takewhile(lambda parts: len(set(parts)) == 1,
                                              zip(*split, strict=False)))
            label = ".".join(p[0] for p in common) or f"{names[0]} ... {names[-1]}"
            note = f"{len(members)} rows"
        if params:
            note += f", {formulas.short(params)} params"
        nodes.append(Node(node_id, label, "other" if len(members) == 1 else "block", note,
                          f"{label}: {out}"))
        before, shape = node_id, out
    nodes.append(Node("output", f"output {profile.totals.get('output_shape', '')}".strip(),
                      "output", "", "the network's output"))
    edges.append(Edge(before, "output", shape, "" if shape == shown else shape))
    return Graph(profile.model, detail, nodes, edges, [], plain=True)


def details(profile: Profile) -> list[str]:
    """The levels of :data:`DETAILS` that draw different graphs for ``profile``, coarse to
    fine. A level that draws exactly what the next finer one draws is left out (a VGG or
    AlexNet has no blocks, so "blocks" would repeat "layers"): a page offers only choices
    that change the picture."""
    graphs = {d: build(profile, d) for d in DETAILS}
    drawn = {d: (g.nodes, g.edges, g.clusters) for d, g in graphs.items()}
    return [d for d, finer in zip(DETAILS, (*DETAILS[1:], None), strict=True)
            if finer is None or drawn[d] != drawn[finer]]


# ---------------------------------------------------------------- DOT


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _node_statement(node: Node) -> str:
    # A plain label, not an HTML-like one with a smaller note: Graphviz anchors HTML text at its
    # left edge, so where the browser draws a narrower font than Graphviz measured (Streamlit's
    # does), HTML labels slide to the left of their boxes while plain ones stay centred.
    text = f"{node.label}\n{node.note}" if node.note else node.label
    colour = COLOURS[_SAME_COLOUR.get(node.kind, node.kind)]
    attrs = [f"label={_quote(text)}", f'fillcolor="{colour}"',
             f"tooltip={_quote(node.tooltip or node.label)}"]
    if node.label in _MERGE_SYMBOLS.values() and node.label != "concat":
        # a "+" is a small circle, as in the papers, unless a long note would swell it
        attrs.append(f"shape={'circle' if len(node.note) <= 8 else 'ellipse'}, margin=0.02")
    if node.kind == "block":
        attrs.append("peripheries=2")
    return f"{node.id} [{', '.join(attrs)}];"


def _edge_statement(edge: Edge) -> str:
    attrs = [f"label={_quote(edge.label)}"] if edge.label else []
    if edge.shortcut:
        # weight 0: the arc may bend as it likes, the main path stays a straight column
        attrs += [f'color="{_SHORTCUT_COLOUR}"', "penwidth=1.6", "weight=0",
                  f"tooltip={_quote(edge.shortcut + ' shortcut')}"]
        if edge.shortcut == "projection":
            attrs.append("style=dashed")
    return f"{edge.src} -> {edge.dst}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";"


def render(graph: Graph, *, font_size: int = 14, rankdir: str = "TB") -> str:
    """DOT text of ``graph``, one statement per line (nodes, then edges)."""
    if rankdir not in RANKDIRS:
        raise ValueError(f"Unknown rankdir '{rankdir}': expected one of {', '.join(RANKDIRS)}.")
    cluster_size, edge_size = max(8, round(font_size * 0.75)), max(8, round(font_size * 0.8))
    lines = [
        f"digraph {_quote(graph.model)} {{",
        f"  graph [rankdir={rankdir}, newrank=true, nodesep=0.25, ranksep=0.3, fontname={_FONT}, "
        f"fontsize={font_size}, tooltip={_quote(f'{graph.model} ({graph.detail})')}];",
        f'  node [shape=box, style="rounded,filled", fontname={_FONT}, fontsize={font_size}, '
        f'color="#333333", fontcolor="#000000", margin="0.12,0.05"];',
        f'  edge [fontname={_FONT}, fontsize={edge_size}, color="#444444", fontcolor="#202020", '
        f"arrowsize=0.7];",
    ]
    in_cluster: dict[int, list[Node]] = {}
    for node in graph.nodes:
        if node.cluster is not None:
            in_cluster.setdefault(node.cluster, []).append(node)
    for node in graph.nodes:
        if node.cluster is None:
            lines.append(f"  {_node_statement(node)}")
        elif node is in_cluster[node.cluster][0]:
            lines += [f"  subgraph cluster_{node.cluster} {{",
                      f"    graph [label={_quote(graph.clusters[node.cluster])}, "
                      f'style="rounded,dashed", color="#7F7F7F", fontcolor="#303030", '
                      f"fontsize={cluster_size}];",
                      *(f"    {_node_statement(n)}" for n in in_cluster[node.cluster]),
                      "  }"]
    lines += [f"  {_edge_statement(edge)}" for edge in graph.edges]
    return "\n".join([*lines, "}"]) + "\n"


def to_dot(profile: Profile, detail: str = "layers", *, font_size: int = 14,
           rankdir: str = "TB") -> str:
    """DOT text of ``profile``'s network at ``detail``; ``font_size`` scales every text (the
    classroom mode's bigger labels), ``rankdir`` "TB" draws top to bottom as the papers do."""
    return render(build(profile, detail), font_size=font_size, rankdir=rankdir)


def svg_available() -> bool:
    """Whether :func:`svg` can work here: the Graphviz ``dot`` program and the ``graphviz``
    package are both present (the browser draws the graph without either)."""
    return shutil.which("dot") is not None and importlib.util.find_spec("graphviz") is not None


def svg(dot_text: str) -> bytes | None:
    """``dot_text`` laid out as SVG, or None where :func:`svg_available` is false (the page
    then shows only the browser's rendering)."""
    if not svg_available():
        return None
    import graphviz  # the download's extra: only this needs it

    return graphviz.Source(dot_text).pipe(format="svg")
