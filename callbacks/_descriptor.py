"""Forwarding of descriptor configuration into writers (the seed's helper)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from event_model.documents import EventDescriptor

from ..writers import HasMetadata, HasWriterLogic

__all__ = ["handle_descriptor_metadata"]


def handle_descriptor_metadata(doc: EventDescriptor, devices: Mapping[str, Any]) -> None:
    """Give each device named in ``doc['configuration']`` its configuration snapshot.

    A device gets it when it exposes a writer (``writer_logic``) that accepts
    metadata (``update_metadata``); the writer receives ``{device: {field: value}}``.
    Devices without a writer, or not in ``devices``, are skipped. Bluesky emits one
    descriptor per stream per run, so this runs once per stream.
    """
    for device_name, config in doc.get("configuration", {}).items():
        device = devices.get(device_name)
        if device is None or not isinstance(device, HasWriterLogic):
            continue
        writer = device.writer_logic
        if isinstance(writer, HasMetadata):
            writer.update_metadata({device_name: dict(config.get("data", {}))})
