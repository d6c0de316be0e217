"""Sources of a shared writer: registration checks and frame checks.

acquire-zarr checks nothing about frames (a wrong dtype or shape is stored as
reinterpreted bytes), so every check happens here, before ``append``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ._collection import COLLECTION_GROUP
from ._errors import FrameError, WriterError
from ._image import IMAGE_LEVEL, ImageAxes, make_image
from ._layout import Compression, ZarrLayout, default_layout

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy.typing as npt
    from event_model.documents import DataKey

__all__ = ["SUPPORTED_DTYPES", "SourceInfo", "check_frame", "make_source"]

SUPPORTED_DTYPES = frozenset(
    np.dtype(t).str for t in ("u1", "u2", "u4", "u8", "i1", "i2", "i4", "i8", "f4", "f8")
)
"""Dtypes acquire-zarr stores (native byte order)."""


@dataclass(frozen=True)
class SourceInfo:
    """A registered source: one device writing one array of the store."""

    name: str
    """Source (device) name; also its data key, and its image's (or array's) name in the store."""
    dtype: np.dtype[np.generic]
    """Dtype every frame must have."""
    shape: tuple[int, ...]
    """Shape every frame must have."""
    capacity: int
    """Frames the array holds; 0 means it grows without bound."""
    layout: ZarrLayout
    """Chunking, sharding and compression of the array."""
    image: ImageAxes | None = None
    """OME-Zarr axes (types, units, pixel size) when the array is written as an image
    (group ``<name>``, array ``<name>/0``); ``None`` for a plain array ``<name>``."""

    def data_key(self, group: str) -> DataKey:
        """The bluesky data key of the source's frames (one frame per event, external)."""
        return {
            "source": f"zarrscribe:{group}/{self.name}",
            "shape": list(self.shape),
            "dtype": "array",
            "dtype_numpy": self.dtype.str,
            "external": "STREAM:",
        }

    @property
    def array_key(self) -> str:
        """Path of the array in the store: ``<name>/0`` for an image, else ``<name>``."""
        return self.name if self.image is None else f"{self.name}/{IMAGE_LEVEL}"


def make_source(
    name: str,
    dtype: npt.DTypeLike,
    shape: tuple[int, ...],
    capacity: int,
    layout: ZarrLayout | None,
    pixel_size: float | Sequence[float] | None = None,
    units: str | None = None,
    *,
    compression: Compression | None = None,
    ome: bool = False,
    shard_frames: int | None = None,
) -> SourceInfo:
    """Check a registration and return its :class:`SourceInfo` (default layout if none,
    with at most ``shard_frames`` frames in a shard).

    With ``ome`` the array is an OME-Zarr image (frames of one axis stay plain arrays);
    ``pixel_size`` and ``units`` are checked either way.
    """
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise WriterError(
            f"source name {name!r} cannot name an array; use a non-empty name "
            "without '/' that does not start with '.'"
        )
    if ome and name == COLLECTION_GROUP:
        raise WriterError(
            f"source name {name!r} is the group of the store's collection metadata; "
            "name the source otherwise"
        )
    try:
        np_dtype = np.dtype(dtype)
    except TypeError as e:
        raise WriterError(f"source {name!r}: {dtype!r} is not a NumPy dtype") from e
    if np_dtype.str not in SUPPORTED_DTYPES:
        raise WriterError(
            f"source {name!r}: dtype {np_dtype} is not supported by acquire-zarr; "
            "use one of uint8/16/32/64, int8/16/32/64, float32/64 (native byte order)"
        )
    frame_shape = tuple(int(s) for s in shape)
    if not 1 <= len(frame_shape) <= 4 or any(s < 1 for s in frame_shape):
        raise WriterError(
            f"source {name!r}: frame shape {tuple(shape)!r} must have 1 to 4 axes, each at least 1"
        )
    if int(capacity) < 0:
        raise WriterError(f"source {name!r}: capacity {capacity!r} is negative; give frames, or 0")
    if layout is None:
        layout = default_layout(
            frame_shape,
            np_dtype,
            capacity=int(capacity),
            compression=compression,
            max_frames=shard_frames,
        )
    layout.check(frame_shape)
    image = make_image(name, frame_shape, pixel_size, units)
    return SourceInfo(
        name, np_dtype, frame_shape, int(capacity), layout, image=image if ome else None
    )


def check_frame(info: SourceInfo, frame: object) -> npt.NDArray[np.generic]:
    """Return ``frame`` as a C-contiguous array, or raise :class:`FrameError`.

    Non-contiguous frames are copied (acquire-zarr would read their memory in order).
    """
    if not isinstance(frame, np.ndarray):
        raise FrameError(
            f"frame for {info.name!r} is a {type(frame).__name__}; push a numpy array"
        )
    if frame.dtype != info.dtype:
        raise FrameError(
            f"frame for {info.name!r} has dtype {frame.dtype}; registered {info.dtype}"
        )
    if frame.shape != info.shape:
        raise FrameError(
            f"frame for {info.name!r} has shape {frame.shape}; registered {info.shape}"
        )
    if not frame.flags.c_contiguous:
        return np.ascontiguousarray(frame)
    return frame
