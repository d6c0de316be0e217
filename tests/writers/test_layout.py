from __future__ import annotations

import numpy as np
import pytest

from zarrscribe.writers import Compression, WriterError, default_layout


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
