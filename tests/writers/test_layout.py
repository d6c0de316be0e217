from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import zarr

from zarrscribe.writers import Compression, WriterError, ZarrWriter, default_layout, frames_on_disk


def test_large_raw_frames_are_tiled_with_whole_frame_shards() -> None:
    layout = default_layout((2048, 2048), np.dtype("uint16"))
    assert layout.chunk_shape == (512, 512)
    assert layout.chunks_per_shard == (4, 4)
    assert layout.shard_shape == (4, 2048, 2048)


def test_small_frames_are_one_chunk_many_per_shard() -> None:
    layout = default_layout((512, 512), np.dtype("uint16"))
    assert layout.chunk_shape == (512, 512)
    assert layout.shard_shape == (64, 512, 512)


def test_compressed_frames_are_whole_chunks() -> None:
    layout = default_layout((2048, 2048), np.dtype("uint16"), compression=Compression())
    assert layout.chunk_shape == (2048, 2048)
    assert layout.frames_per_shard == 4


def test_capacity_bounds_the_shard() -> None:
    assert default_layout((64, 64), np.dtype("uint8"), capacity=5).frames_per_shard == 5


def test_bad_compression() -> None:
    with pytest.raises(WriterError, match="codec 'gzip'"):
        Compression("gzip")  # type: ignore[arg-type]
    with pytest.raises(WriterError, match="level 12"):
        Compression(level=12)


def test_shard_frames_caps_the_shard() -> None:
    assert default_layout((512, 512), np.dtype("uint16"), max_frames=1).frames_per_shard == 1
    assert default_layout((2048, 2048), np.dtype("uint16"), max_frames=16).frames_per_shard == 4


@pytest.mark.parametrize("bad", [0, -2, 1.5, "8", True])
def test_bad_shard_frames_names_the_value(bad: object) -> None:
    with pytest.raises(WriterError, match=f"shard_frames {bad!r} is not a whole number"):
        ZarrWriter("g", shard_frames=bad)  # type: ignore[arg-type]


def test_one_frame_shards_are_readable_while_the_stream_is_open(tmp_path: Path) -> None:
    """A time-lapse writer (shard_frames=1): each frame reads back before close."""
    writer = ZarrWriter("g", shard_frames=1)
    writer.set_uri(str(tmp_path / "s.zarr"))
    writer.register("cam", np.uint16, (32, 32))
    writer.open("cam")
    frames = [np.full((32, 32), i, np.uint16) for i in range(3)]
    try:
        for i, frame in enumerate(frames):
            writer.write_frame("cam", frame)
            deadline = time.monotonic() + 10  # acquire-zarr writes on its own threads
            while frames_on_disk(tmp_path / "s.zarr").get("cam/0", 0) <= i:
                assert time.monotonic() < deadline, f"frame {i} never became readable"
                time.sleep(0.01)
        data = zarr.open_array(tmp_path / "s.zarr" / "cam" / "0", mode="r")[:]
        np.testing.assert_array_equal(data, np.stack(frames))
    finally:
        writer.close()
