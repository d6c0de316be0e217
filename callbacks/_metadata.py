"""Descriptor: forward each device's configuration to its writer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from event_model import DocumentRouter
from event_model.documents import EventDescriptor

from ._descriptor import handle_descriptor_metadata

__all__ = ["MetadataCallback"]


class MetadataCallback(DocumentRouter):
    """Calls :func:`handle_descriptor_metadata` for every descriptor."""

    def __init__(self, devices: Mapping[str, Any]) -> None:
        super().__init__()
        self._devices = devices

    def descriptor(self, doc: EventDescriptor) -> None:
        handle_descriptor_metadata(doc, self._devices)
