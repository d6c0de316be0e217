from __future__ import annotations

from typing import Any

from zarrscribe.callbacks import handle_descriptor_metadata
from zarrscribe.writers import ZarrWriter


class Device:
    def __init__(self, writer: ZarrWriter) -> None:
        self._writer = writer

    @property
    def writer_logic(self) -> ZarrWriter:
        return self._writer


def test_configuration_goes_to_writers_that_take_metadata() -> None:
    writer = ZarrWriter()
    devices: dict[str, Any] = {"cam1": Device(writer), "motor": object()}
    descriptor: Any = {
        "configuration": {
            "cam1": {"data": {"cam1-exposure": 0.1}, "timestamps": {}, "data_keys": {}},
            "motor": {"data": {"motor-velocity": 2}, "timestamps": {}, "data_keys": {}},
            "unknown": {"data": {"x": 1}, "timestamps": {}, "data_keys": {}},
        }
    }
    handle_descriptor_metadata(descriptor, devices)
    assert writer.metadata == {"cam1": {"cam1-exposure": 0.1}}
