"""Build modules on torch's ``meta`` device quickly.

A meta tensor has a shape and dtype but no storage, so a model built this way costs no weight
memory. ``torch.device("meta")`` alone still runs every ``nn.init`` call (``kaiming_normal_``
and friends), whose meta implementations go through Python reference kernels: ~80 ms for
ResNet-152, most of its build time. Initialising a meta tensor is meaningless, so the mode
below turns in-place ops on meta tensors into no-ops while it also routes factory calls to
the meta device (except those that compute values, see ``_VALUE_CONSTRUCTORS``). The
functions of ``torch.nn.init`` are skipped before
they dispatch at all (they compute fans and enter ``no_grad`` first: 12 of ResNet-152's 32 ms).
Both switches are thread-local, so a real model built in another thread (a training job beside
the dashboard) is initialised as usual.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._device import _device_constructors

#: Constructors that compute values rather than allocate weights stay real: a builder may do
#: arithmetic on them and read the result back (RegNet's widths come from ``torch.arange(...)
#: .tolist()``, which a meta tensor cannot give). What a module registers as a buffer or
#: parameter still lands on meta (:func:`_buffer_to_meta`).
_VALUE_CONSTRUCTORS = {torch.arange, torch.range, torch.linspace, torch.logspace, torch.tensor,
                       torch.as_tensor, torch.asarray, torch.scalar_tensor, torch.tril_indices,
                       torch.triu_indices}
_CONSTRUCTORS = _device_constructors() - _VALUE_CONSTRUCTORS
_INIT_FUNCTIONS = ("uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_",
                   "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
                   "kaiming_normal_", "orthogonal_", "sparse_")
_building = threading.local()
_WRAPPING = threading.Lock()


def _skipped_while_building(init: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(init)
    def wrapper(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        if getattr(_building, "active", False):
            return tensor
        return init(tensor, *args, **kwargs)

    wrapper.skipped_while_building = True  # type: ignore[attr-defined]
    return wrapper


@functools.cache
def _wrap_init_functions() -> None:
    """Wrap ``torch.nn.init``'s functions once; outside a MetaBuild they behave as before.

    ``functools.cache`` does not stop two threads' first builds from both getting here, so
    the check-and-replace is locked: each function is wrapped exactly once.
    """
    with _WRAPPING:
        for name in _INIT_FUNCTIONS:
            init = getattr(nn.init, name, None)
            if init is not None and not getattr(init, "skipped_while_building", False):
                setattr(nn.init, name, _skipped_while_building(init))


def _buffer_to_meta(module: nn.Module, name: str, buffer: torch.Tensor | None
                    ) -> torch.Tensor | None:
    """A buffer registered during a build lands on meta, even one a value constructor made
    for real (BatchNorm's ``num_batches_tracked = torch.tensor(0)``, Swin's index tables)."""
    if getattr(_building, "active", False) and buffer is not None and not buffer.is_meta:
        return buffer.to("meta")
    return None


def _param_to_meta(module: nn.Module, name: str, param: nn.Parameter | None
                   ) -> nn.Parameter | None:
    if getattr(_building, "active", False) and param is not None and not param.is_meta:
        return nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
    return None


@functools.cache
def _register_hooks() -> None:
    """Once per process, under the wrapping lock; the hooks act only in a building thread."""
    with _WRAPPING:
        # torch's stubs say these hooks return None; a returned tensor replaces the one
        # being registered, as its documentation says and the meta build relies on
        nn.modules.module.register_module_buffer_registration_hook(
            _buffer_to_meta)  # type: ignore[arg-type]
        nn.modules.module.register_module_parameter_registration_hook(
            _param_to_meta)  # type: ignore[arg-type]


class MetaBuild(TorchFunctionMode):
    """Within this mode, new tensors land on ``meta`` and in-place init on them is skipped."""

    def __enter__(self) -> MetaBuild:
        _wrap_init_functions()
        _register_hooks()
        self._was_active = getattr(_building, "active", False)
        _building.active = True
        return super().__enter__()

    def __exit__(self, *exc: object) -> None:
        _building.active = self._was_active
        super().__exit__(*exc)

    def __torch_function__(
        self, func: Callable[..., Any], types: Any, args: tuple = (), kwargs: dict | None = None
    ) -> Any:
        kwargs = kwargs or {}
        if func in _CONSTRUCTORS:
            if kwargs.get("device") is None:
                kwargs["device"] = "meta"
            return func(*args, **kwargs)
        if args and isinstance(args[0], torch.Tensor) and args[0].is_meta:
            name = getattr(func, "__name__", "")
            if name.endswith("_") and not name.endswith("__"):
                return args[0]  # normal_, uniform_, zero_, fill_...: nothing to fill
        return func(*args, **kwargs)
