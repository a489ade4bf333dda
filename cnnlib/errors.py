"""The errors cnnlib raises on bad input.

Every one is a ``ValueError`` whose message is a full sentence meant for the user (the CLI
prints it as its one line, the app shows it as is), so callers never need to reformat them.
"""

from __future__ import annotations


class CnnlibError(ValueError):
    """Base class: a problem with what the user asked for, not a bug in cnnlib."""


class UnknownModelError(CnnlibError):
    """A model name that is not in the zoo; carries close names as suggestions."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        hint = f" Did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"Unknown model '{name}'.{hint} `python -m cnnlib list` shows all.")
        self.name = name
        self.suggestions = suggestions


class ModelOptionError(CnnlibError):
    """An option that the model's builder does not take, or a value it rejects."""


class InputSizeError(CnnlibError):
    """An input size that is malformed or does not suit the network (channels, features).

    ``layer`` is the module path of the layer that does not fit ("" when the size itself is
    malformed), so a caller can point at it without reading the message.
    """

    def __init__(self, message: str, layer: str = "") -> None:
        super().__init__(message)
        self.layer = layer


class InputTooSmallError(InputSizeError):
    """An input so small that some layer's output would be empty."""


class AnalysisError(CnnlibError):
    """An op with no formula that also cannot run on meta tensors: the message names the op,
    its module path (``layer``) and torch's reason, rather than blaming the input size."""

    def __init__(self, message: str, layer: str = "") -> None:
        super().__init__(message)
        self.layer = layer


class TraceError(CnnlibError):
    """A module whose forward cannot be traced into a graph (data-dependent control flow)."""


class ImageError(CnnlibError):
    """A file that cannot be used as an image: not an image, corrupt, truncated, too large."""


class WeightsError(CnnlibError):
    """Weights that cannot be had or do not fit: no pretrained set, a bad checkpoint."""


class SpecError(CnnlibError):
    """A network description (:mod:`cnnlib.spec`) that cannot be parsed or does not fit its input.

    ``token`` is the offending token as typed and ``position`` its 0-based character offset in
    the spec, so an editor can underline it; ``position`` is -1 when the input size is at fault.
    """

    def __init__(self, message: str, token: str, position: int) -> None:
        super().__init__(message)
        self.token = token
        self.position = position
