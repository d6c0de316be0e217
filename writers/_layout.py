"""How frames are laid out on disk: chunking, sharding and compression.

acquire-zarr's throughput depends mostly on the layout. The defaults below come
from ``benchmarks/bench_writers.py`` (2 cores, acquire-zarr 0.10): whole-frame
chunks, and shards holding about ``SHARD_TARGET_BYTES`` of frames, so that few
shard files are fsync'd; frames larger than ``TILE_ABOVE_BYTES`` are tiled in
``TILE`` x ``TILE`` chunks, a shard spanning whole frames.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from ._errors import WriterError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Compression", "ZarrLayout", "check_shard_frames", "default_layout"]

SHARD_TARGET_BYTES = 32 * 2**20
"""Target size of an uncompressed shard (measured best for 512² and 2048² uint16)."""

TILE_ABOVE_BYTES = 4 * 2**20
"""Raw frames larger than this are tiled into ``TILE``-pixel square chunks."""

TILE = 512
"""Edge of a spatial chunk for large raw frames."""

MAX_FRAMES_PER_SHARD = 256
"""Upper bound on frames in a shard: bounds memory held per array."""


@dataclass(frozen=True)
class Compression:
    """Blosc compression of each chunk."""

    codec: Literal["lz4", "zstd"] = "lz4"
    """Blosc inner codec; lz4 at level 1 keeps up with a camera on two cores."""

    level: int = 1
    """Compression level, 1 (fast) to 9 (small)."""

    shuffle: bool = True
    """Byte shuffle before compressing; helps integer images a lot."""

    def __post_init__(self) -> None:
        if self.codec not in ("lz4", "zstd"):
            raise WriterError(f"compression codec {self.codec!r} is not 'lz4' or 'zstd'")
        if not 0 <= self.level <= 9:
            raise WriterError(f"compression level {self.level!r} is outside 0..9")


@dataclass(frozen=True)
class ZarrLayout:
    """Chunk and shard shape of one array of frames (first axis: frame number)."""

    chunk_shape: tuple[int, ...]
    """Chunk shape of one frame's axes (the frame axis is always chunked by 1)."""

    chunks_per_shard: tuple[int, ...]
    """Chunks per shard along each frame axis."""

    frames_per_shard: int
    """Frames per shard along the frame axis."""

    compression: Compression | None = field(default=None)
    """Blosc compression, or ``None`` for raw chunks."""

    def check(self, frame_shape: tuple[int, ...]) -> None:
        """Raise :class:`WriterError` unless this layout fits frames of ``frame_shape``."""
        n = len(frame_shape)
        if len(self.chunk_shape) != n or len(self.chunks_per_shard) != n:
            raise WriterError(
                f"layout chunk_shape {self.chunk_shape} / chunks_per_shard "
                f"{self.chunks_per_shard} do not have one entry per frame axis of {frame_shape}"
            )
        for size, chunk, per in zip(
            frame_shape, self.chunk_shape, self.chunks_per_shard, strict=True
        ):
            if not 1 <= chunk <= size or per < 1:
                raise WriterError(
                    f"layout chunk_shape {self.chunk_shape} with chunks_per_shard "
                    f"{self.chunks_per_shard} does not fit frames of shape {frame_shape}"
                )
        if self.frames_per_shard < 1:
            raise WriterError(f"layout frames_per_shard {self.frames_per_shard!r} must be >= 1")

    @property
    def shard_shape(self) -> tuple[int, ...]:
        """Shard shape in pixels, frame axis first."""
        pixels = (c * p for c, p in zip(self.chunk_shape, self.chunks_per_shard, strict=True))
        return (self.frames_per_shard, *pixels)

    def describe(self) -> dict[str, object]:
        """JSON description, as written into stream resources and store attributes."""
        return {
            "chunk_shape": [1, *self.chunk_shape],
            "shard_shape": list(self.shard_shape),
            "compression": None
            if self.compression is None
            else {
                "codec": f"blosc-{self.compression.codec}",
                "level": self.compression.level,
                "shuffle": self.compression.shuffle,
            },
        }


def check_shard_frames(value: object) -> None:
    """Raise :class:`WriterError` unless ``value`` is ``None`` or a whole number >= 1."""
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise WriterError(
            f"shard_frames {value!r} is not a whole number of frames >= 1; give e.g. 1 for a "
            "slow time-lapse, or None for the default"
        )


def default_layout(
    shape: tuple[int, ...],
    dtype: np.dtype[np.generic],
    *,
    capacity: int = 0,
    compression: Compression | None = None,
    max_frames: int | None = None,
) -> ZarrLayout:
    """Choose a fast layout for frames of ``shape`` and ``dtype``.

    Within 10% of the best layout measured for 2048x2048 and 512x512 uint16 frames
    (see ``benchmarks/bench_writers.py``). ``capacity`` (frames, 0 if unknown)
    keeps a shard from being larger than the whole acquisition; ``max_frames`` caps
    the frames in a shard (a frame is readable only with its shard's last frame, see
    ``benchmarks/bench_shards.py``).
    """
    check_shard_frames(max_frames)
    frame_bytes = math.prod(shape) * dtype.itemsize
    if compression is None and frame_bytes > TILE_ABOVE_BYTES and len(shape) >= 2:
        chunk = tuple(shape[:-2]) + tuple(min(TILE, s) for s in shape[-2:])
        per = tuple(1 for _ in shape[:-2]) + tuple(
            math.ceil(s / c) for s, c in zip(shape[-2:], chunk[-2:], strict=True)
        )
    else:
        chunk = tuple(shape)
        per = tuple(1 for _ in shape)
    frames = max(1, min(MAX_FRAMES_PER_SHARD, SHARD_TARGET_BYTES // max(1, frame_bytes)))
    if capacity > 0:
        frames = min(frames, capacity)
    if max_frames is not None:
        frames = min(frames, max_frames)
    return ZarrLayout(
        chunk_shape=chunk, chunks_per_shard=per, frames_per_shard=frames, compression=compression
    )
