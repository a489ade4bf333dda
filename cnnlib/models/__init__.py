"""The model zoo: a catalogue of named classic networks and their builders."""

from cnnlib.models.registry import REGISTRY, ModelInfo, build, builder, get, names

__all__ = ["REGISTRY", "ModelInfo", "build", "builder", "get", "names"]
