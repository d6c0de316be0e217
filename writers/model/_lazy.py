"""A package's names imported on first use (PEP 562), so importing it loads nothing heavy."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from typing import Any

__all__ = ["import_on_first_use"]


def import_on_first_use(package: str, where: Mapping[str, str], name: str) -> Any:
    """The body of ``package``'s ``__getattr__``: ``name`` from its module ``where[name]``
    (relative to ``package``), kept on the package so the next use is a plain attribute."""
    if name not in where:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(where[name], package), name)
    setattr(sys.modules[package], name, value)
    return value
