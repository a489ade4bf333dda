"""cnnlib: the classic CNNs as a zoo, and the per-layer arithmetic of the course notes.

``import cnnlib`` is cheap: torch and pandas load on the first use of ``build``/``profile``
(PEP 562 lazy attributes), so a page that only lists the zoo stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["build", "build_from_spec", "list_models", "model_info", "parse_input_size", "profile",
           "profile_spec"]


def __getattr__(name: str) -> Any:
    if name in ("build", "list_models", "model_info"):
        from cnnlib.models import registry

        return {"build": registry.build, "list_models": registry.names,
                "model_info": registry.get}[name]
    if name in ("profile", "parse_input_size"):
        from cnnlib import analysis

        return getattr(analysis, name)
    if name in ("build_from_spec", "profile_spec"):
        from cnnlib import spec

        return getattr(spec, name)
    raise AttributeError(f"module 'cnnlib' has no attribute {name!r}")
