"""Comparing two projections: what differs, and whether the new one would lose something."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from ._format import ATTRIBUTES_KEY, INCOMPLETE

__all__ = ["differences", "downgrades"]

_RANK = {"success": 3, "abort": 2, "fail": 2, INCOMPLETE: 1}


def _plain(value: Any) -> Any:
    """``value`` as it is written (JSON has no NaN: non-finite floats become ``None``,
    as ``to_jsonable`` writes them; NaN never equals itself, so a run with NaN metadata
    would otherwise always look changed)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    return str(value)


def differences(prefix: str, old: Any, new: Any) -> list[str]:
    """Each leaf where ``old`` and ``new`` differ, as ``path: old -> new`` (one per line)."""
    try:
        if old == new:  # equal as they are: equal as written too (the usual case)
            return []
    except (ValueError, TypeError):  # e.g. arrays, whose == is element-wise
        pass
    old, new = _plain(old), _plain(new)
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new)):
            out.extend(differences(f"{prefix}.{key}", old.get(key), new.get(key)))
        return out
    return [f"{prefix}: {json.dumps(old)[:80]} -> {json.dumps(new)[:80]}"]


def _essentials(metadata: Mapping[str, Any]) -> tuple[str, dict[str, int], set[str]]:
    """Exit status, readable frames per array and streams of store attributes or a
    catalog entry's metadata (either layout, any format version)."""
    ours = metadata.get(ATTRIBUTES_KEY) or {}
    status = ours.get("exit_status") or (ours.get("run") or {}).get("exit_status") or ""
    arrays = ours.get("arrays") or {}
    frames = {str(k): int((v.get("shape") or [0])[0]) for k, v in arrays.items()}
    streams = {str(v.get("stream")) for v in arrays.values() if v.get("stream")}
    return str(status), frames, streams


def downgrades(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What ``new`` would lose against ``old``: a worse exit status, fewer readable
    frames, arrays or streams that are gone. Empty if nothing."""
    old_status, old_frames, old_streams = _essentials(old)
    new_status, new_frames, new_streams = _essentials(new)
    out: list[str] = []
    if old_status and _RANK.get(new_status, 0) < _RANK.get(old_status, 0):
        out.append(f"exit status {old_status} -> {new_status}")
    for key, n in sorted(old_frames.items()):
        if key not in new_frames:
            out.append(f"array {key!r} ({n} frames) gone")
        elif new_frames[key] < n:
            out.append(f"array {key!r} {n} -> {new_frames[key]} frames")
    for stream in sorted(old_streams - new_streams):
        out.append(f"stream {stream!r} gone")
    return out
