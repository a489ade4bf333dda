"""Numbers typed into the zoo's text are checked against the models they describe.

Home shows every description under "Every number is computed from the model itself", so a
parameter count written in a description, in its "differs" note or in the builder's
docstring must be the built model's own count, to the precision it is written with (as
torchvision's tests hold ``meta["num_params"]`` to the model): "138M params" is
round(count / 1e6) == 138, "60.97M params" two decimals, and "~60k params" is 60k to its one
significant figure. A figure in a clause with ``option=value`` (``groups=1 joins them (62.38M
params)``) is the count of the model built with that option.
"""

from __future__ import annotations

import functools
import inspect
import re

import pytest

from cnnlib.meta import MetaBuild
from cnnlib.models import registry

#: A written parameter count: "~60k params", "0.27M params", "138M parameters".
FIGURE = re.compile(r"(?P<approx>~)?(?P<value>\d+(?:\.\d+)?)\s?(?P<unit>[kMG])\s+"
                    r"param(?:eter)?s\b")
UNITS = {"k": 1e3, "M": 1e6, "G": 1e9}
#: ``option=value`` in the same clause as a figure: the build option the figure is for.
OPTION = re.compile(r"\b(?P<key>[a-z_]\w*)=(?P<value>\d+)\b")


def figures(text: str) -> list[tuple[str, dict[str, int]]]:
    """Every parameter count written in ``text``, with the build options its clause names."""
    found = []
    for clause in re.split(r";|\.\s", text):
        options = {m["key"]: int(m["value"]) for m in OPTION.finditer(clause)}
        found += [(m.group(0), options) for m in FIGURE.finditer(clause)]
    return found


def agrees(figure: str, count: int) -> bool:
    """Whether ``count`` is ``figure`` ("~60k params", "60.97M params") at its precision."""
    m = FIGURE.fullmatch(figure)
    assert m, figure
    value, scaled = m["value"], count / UNITS[m["unit"]]
    if "." in value:
        return round(scaled, len(value.split(".")[1])) == float(value)
    # "~60k": the trailing zeros are not significant; "60k" without "~" means 60 exactly
    zeros = len(value) - len(value.rstrip("0")) if m["approx"] else 0
    return round(scaled, -zeros) == int(value)


@functools.cache
def n_params(name: str, options: tuple[tuple[str, int], ...] = ()) -> int:
    with MetaBuild():
        model = registry.build(name, **dict(options))
    return sum(p.numel() for p in model.parameters())


def texts(name: str) -> dict[str, str]:
    info = registry.get(name)
    return {"description": info.description, "differs": info.differs,
            "builder docstring": inspect.getdoc(registry.builder(name)) or ""}


def accepted(name: str, options: dict[str, int]) -> dict[str, int]:
    """The options the builder takes ("ResNet-20 (n=3)" names no option of the builder)."""
    takes = inspect.signature(registry.builder(name)).parameters
    return {k: v for k, v in options.items() if k in takes}


WRITTEN = [(name, where, figure, accepted(name, options)) for name in registry.names()
           for where, text in texts(name).items() for figure, options in figures(text)]


def test_the_counts_are_found() -> None:
    """The regex sees the zoo's figures (a check that matches nothing passes vacuously)."""
    seen = {(name, figure) for name, _, figure, _ in WRITTEN}
    assert ("vgg16", "138M params") in seen
    assert ("lenet5", "~60k params") in seen
    assert ("alexnet_original", "62.38M params") in seen
    assert ("cifar_resnet110", "1.7M params") in seen  # the description and the docstring
    assert ("nin", "7.4M params") in seen  # the builder's docstring
    assert len(WRITTEN) >= 20


@pytest.mark.parametrize(("name", "where", "figure", "options"), WRITTEN,
                         ids=[f"{n}-{w}-{f}" for n, w, f, _ in WRITTEN])
def test_written_counts_are_the_models_own(name: str, where: str, figure: str,
                                           options: dict[str, int]) -> None:
    count = n_params(name, tuple(sorted(options.items())))
    assert agrees(figure, count), f"{name}'s {where} says {figure}; the model has {count:,}"


@pytest.mark.parametrize(("figure", "count", "ok"), [
    ("138M params", 138_357_544, True), ("133M params", 138_357_544, False),
    ("60.97M params", 60_965_224, True), ("60.96M params", 60_965_224, False),
    ("~60k params", 61_706, True), ("~60k params", 66_000, False), ("60k params", 61_706, False),
    ("0.27M params", 269_722, True), ("0.28M params", 269_722, False),
    ("7.0M params", 6_998_552, True), ("7.4M params", 6_998_552, False),
])
def test_a_wrong_figure_fails(figure: str, count: int, ok: bool) -> None:
    assert agrees(figure, count) is ok


def test_a_clause_names_its_build_option() -> None:
    text = "split into two groups; groups=1 joins them (62.38M params). LRN, 60.97M params."
    assert figures(text) == [("62.38M params", {"groups": 1}), ("60.97M params", {})]
