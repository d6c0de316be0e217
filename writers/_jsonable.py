"""Conversion of metadata into plain JSON values."""

from __future__ import annotations

import math
from collections.abc import Mapping
from enum import Enum
from pathlib import PurePath
from typing import Any

import numpy as np

from ._errors import WriterError

__all__ = ["to_jsonable"]


def to_jsonable(value: Any, *, where: str = "metadata") -> Any:
    """Return ``value`` as plain JSON types (dict, list, str, int, float, bool, None).

    NumPy scalars and arrays, tuples, sets, paths and enums are converted. Anything
    else raises :class:`WriterError` naming where in the structure it was found.
    Non-finite floats become ``None``: JSON has no NaN. Structures nested too deeply
    to convert (or self-referencing ones) raise :class:`WriterError` too.
    """
    try:
        return _to_jsonable(value, where)
    except RecursionError:
        raise WriterError(
            f"{where} is nested too deeply to store (or contains itself); "
            "flatten it to a few levels of dicts and lists"
        ) from None


def _to_jsonable(value: Any, where: str) -> Any:
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.generic):
        return _to_jsonable(value.item(), where)
    if isinstance(value, np.ndarray):
        return _to_jsonable(value.tolist(), where)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str | int | np.integer):
                raise WriterError(
                    f"{where} has key {key!r} of type {type(key).__name__}; "
                    "metadata keys must be strings"
                )
            out[str(key)] = _to_jsonable(item, f"{where}[{key!r}]")
        return out
    if isinstance(value, list | tuple):
        return [_to_jsonable(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, set | frozenset):
        items = [_to_jsonable(item, f"{where}{{…}}") for item in value]
        return sorted(items, key=repr)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, Enum):
        return _to_jsonable(value.value, where)
    raise WriterError(
        f"{where} = {value!r} of type {type(value).__name__} is not JSON-serialisable; "
        "pass numbers, strings, lists or dicts (NumPy values are converted)"
    )
