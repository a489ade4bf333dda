"""Build modules on torch's ``meta`` device quickly.

A meta tensor has a shape and dtype but no storage, so a model built this way costs no weight
memory. ``torch.device("meta")`` alone still runs every ``nn.init`` call (``kaiming_normal_``
and friends), whose meta implementations go through Python reference kernels: ~80 ms for
ResNet-152, most of its build time. Initialising a meta tensor is meaningless, so the mode
below turns in-place ops on meta tensors into no-ops while it also routes factory calls to
the meta device. A TorchFunctionMode is thread-local, so a real model built in another thread
(a training job beside the dashboard) is unaffected.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._device import _device_constructors

_CONSTRUCTORS = _device_constructors()


class MetaBuild(TorchFunctionMode):
    """Within this mode, new tensors land on ``meta`` and in-place init on them is skipped."""

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
