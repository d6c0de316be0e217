"""Discovery of the writers that devices expose."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._protocols import ControllableDataWriter, HasWriterLogic

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["get_available_writers"]


def get_available_writers(
    devices: Mapping[str, Any],
) -> dict[str, dict[str, ControllableDataWriter]]:
    """Return the unique writers exposed by ``devices`` as ``{mimetype: {group: writer}}``.

    Devices expose a writer through a ``writer_logic`` property
    (:class:`HasWriterLogic`); devices without one are skipped. A writer shared by
    several devices appears once. Two different writers claiming the same
    mimetype and group are an error: they would write the same store.
    """
    found: dict[str, dict[str, ControllableDataWriter]] = {}
    for device_name, device in devices.items():
        if not isinstance(device, HasWriterLogic):
            continue
        writer = device.writer_logic
        if not isinstance(writer, ControllableDataWriter):
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
