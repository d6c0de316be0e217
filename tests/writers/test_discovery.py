from __future__ import annotations

from dataclasses import dataclass

import pytest

from zarrscribe.writers import DataWriter, ZarrWriter, get_available_writers


@dataclass
class Device:
    name: str
    _writer: DataWriter

    @property
    def writer_logic(self) -> DataWriter:
        return self._writer


def test_unique_writers_by_mimetype_and_group() -> None:
    shared, other = ZarrWriter("default"), ZarrWriter("side")
    devices = {
        "cam1": Device("cam1", shared),
        "cam2": Device("cam2", shared),
        "cam3": Device("cam3", other),
        "motor": object(),
    }
    assert get_available_writers(devices) == {
        "application/x-zarr": {"default": shared, "side": other}
    }


def test_two_writers_for_one_group_is_an_error() -> None:
    devices = {"a": Device("a", ZarrWriter("g")), "b": Device("b", ZarrWriter("g"))}
    with pytest.raises(ValueError, match="device 'b' has a different application/x-zarr writer"):
        get_available_writers(devices)


def test_each_call_reads_every_device_s_writer_again() -> None:
    cam, motor = Device("cam", ZarrWriter("a")), object()
    devices = {"cam": cam, "motor": motor}
    assert list(get_available_writers(devices)["application/x-zarr"]) == ["a"]
    cam._writer = ZarrWriter("b")  # a device may change writers between runs
    devices["other"] = Device("other", ZarrWriter("c"))
    assert get_available_writers(devices) == {
        "application/x-zarr": {"b": cam._writer, "c": devices["other"]._writer}
    }
