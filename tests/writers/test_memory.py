from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
import zarr

from tests.conftest import small_disk
from zarrscribe.writers import Compression, WriterError, ZarrWriter, frames_on_disk
from zarrscribe.writers._memory import anonymous_memory, default_memory_limit

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

MiB = 2**20


def test_anonymous_memory_is_read() -> None:
    used = anonymous_memory()
    assert used is not None
    assert 0 < used < (default_memory_limit() or 2**62) * 2


def test_a_limit_below_two_frames_is_refused_before_any_store_exists(tmp_path: Path) -> None:
    w = ZarrWriter(max_memory=1)
    w.set_uri(str(tmp_path / "m.zarr"))
    w.register("cam", np.uint16, (4, 4))
    w.open("cam")
    with pytest.raises(WriterError, match=r"max_memory=1 bytes .* below the 16,480 bytes"):
        w.write_frame("cam", np.zeros((4, 4), np.uint16))
    assert not (tmp_path / "m.zarr").exists()
    w.close()


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB tmpfs."""
    with small_disk(tmp_path / "full", 8) as mount:
        yield mount


def test_a_disk_that_takes_nothing_fails_after_the_timeout(full_disk: Path) -> None:
    w = ZarrWriter(max_memory=10 * MiB, memory_timeout=1.0)  # queue ~8.2 MiB, 1.8 in flight
    w.set_uri(str(full_disk / "s.zarr"))
    w.register("cam", np.uint16, (128, 64))  # 16 KiB frames; 8 MiB fill the disk
    w.open("cam")
    with pytest.raises(WriterError, match=r"MiB wait to reach the disk .* took nothing in 1 s"):  # noqa: PT012
        for i in range(2000):
            w.write_frame("cam", np.full((128, 64), i + 1, np.uint16))
    assert 1.0 <= w.throttled_seconds < 10
    with pytest.raises(WriterError, match="No space left on device"):
        w.close()  # acquire-zarr cannot flush, nor can the attributes be written


@pytest.mark.parametrize("compression", [None, Compression()])
def test_max_memory_600_mib_with_fast_2048_frames_completes(
    tmp_path: Path, compression: Compression | None
) -> None:
    n = 300 if compression is None else 120
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 4000, (2048, 2048), dtype=np.uint16) for _ in range(4)]
    w = ZarrWriter(max_memory=600 * MiB, compression=compression)
    w.set_uri(str(tmp_path / "m.zarr"))
    w.register("cam", np.uint16, (2048, 2048))
    w.open("cam")
    for i in range(n):
        w.write_frame("cam", frames[i % 4])
    w.close()
    assert frames_on_disk(tmp_path / "m.zarr") == {"cam/0": n}
    array = zarr.open_array(tmp_path / "m.zarr" / "cam" / "0", mode="r")
    np.testing.assert_array_equal(array[n - 1], frames[(n - 1) % 4])
