"""The optional ``yaml`` module (pyyaml, the ``k8s`` extra), shared by the object readers."""

from __future__ import annotations

import importlib
from types import ModuleType


def yaml_module() -> ModuleType | None:
    """The ``yaml`` module (pyyaml, the ``k8s`` extra) when installed, else ``None``."""
    try:
        return importlib.import_module("yaml")
    except ImportError:
        return None
