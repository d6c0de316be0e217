"""Discovery of the writers that devices expose."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from ._protocols import ControllableDataWriter, HasWriterLogic

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["get_available_writers"]

_checked: dict[tuple[int, type], tuple[weakref.ref[Any], bool]] = {}
"""``isinstance(obj, protocol)`` per (live) object and protocol."""


def _conforms(obj: Any, protocol: type) -> bool:
    """``isinstance(obj, protocol)``, checked once per object: a runtime Protocol check
    looks up the protocol's members again each time (slow before Python 3.12), and
    every run start asks it of every device."""
    key = (id(obj), protocol)
    known = _checked.get(key)
    if known is not None and known[0]() is obj:
        return known[1]
    result = isinstance(obj, protocol)
    try:
        ref = weakref.ref(obj, lambda _, key=key: _checked.pop(key, None))  # type: ignore[misc]
    except TypeError:  # not weakly referable: checked every time
        return result
    _checked[key] = (ref, result)
    return result


def get_available_writers(
    devices: Mapping[str, Any],
) -> dict[str, dict[str, ControllableDataWriter]]:
    """Return the unique writers exposed by ``devices`` as ``{mimetype: {group: writer}}``.

    Devices expose a writer through a ``writer_logic`` property
    (:class:`HasWriterLogic`); devices without one are skipped. A writer listed among
    the devices itself is taken too (for devices that do not expose theirs, such as a
    plain ophyd-async ``StandardDetector`` with a ``ZarrDataLogic``). A writer shared by
    several devices appears once. Two different writers claiming the same
    mimetype and group are an error: they would write the same store. Whether an
    object is a :class:`HasWriterLogic` device, or a :class:`ControllableDataWriter`,
    is checked once per object (a device's ``writer_logic`` is read every time).
    """
    found: dict[str, dict[str, ControllableDataWriter]] = {}
    for device_name, device in devices.items():
        if _conforms(device, ControllableDataWriter):
            writer = device  # a writer listed itself (its devices do not expose it)
        elif _conforms(device, HasWriterLogic):
            writer = device.writer_logic
        else:
            continue
        if not _conforms(writer, ControllableDataWriter):
            continue
        groups = found.setdefault(writer.mimetype, {})
        other = groups.get(writer.group)
        if other is not None and other is not writer:
            raise ValueError(
                f"device {device_name!r} has a different {writer.mimetype} writer for group "
                f"{writer.group!r} than another device; share one writer instance per group"
            )
        groups[writer.group] = writer
    return found
