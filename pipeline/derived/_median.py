"""`RunningMedian`: the median of a camera's last frames, every so many frames."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ...writers import WriterError
from ._producer import DerivedSource

if TYPE_CHECKING:
    import numpy.typing as npt

    from ...writers import ControllableDataWriter

__all__ = ["RunningMedian", "median_dtype", "median_of"]


def median_dtype(dtype: npt.DTypeLike) -> np.dtype[Any]:
    """The dtype a median of frames of ``dtype`` is stored in: float32 holds every median
    of 8- and 16-bit integers and of float32 exactly (halves included), else float64."""
    source = np.dtype(dtype)
    if source == np.float32 or (source.kind in "iu" and source.itemsize <= 2):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def median_of(frames: list[npt.NDArray[Any]], dtype: np.dtype[Any]) -> npt.NDArray[Any]:
    """``numpy.median(frames, axis=0)`` as ``dtype``, equal to it value for value.

    Integer frames are sorted pixel by pixel with a sorting network of element-wise
    minimum/maximum (vectorised, and numpy releases the GIL for each, so the camera's
    thread keeps running): about 5x faster than ``numpy.median`` for 8 frames of 512².
    The frames (private copies) are reordered. Float frames go to ``numpy.median``
    (its NaN handling)."""
    if frames[0].dtype.kind not in "iu":
        return np.ascontiguousarray(np.median(np.stack(frames), axis=0), dtype=dtype)
    v, n = frames, len(frames)
    spare = np.empty_like(v[0])
    for r in range(n):  # odd-even transposition: sorted after n rounds
        for i in range(r % 2, n - 1, 2):
            np.minimum(v[i], v[i + 1], out=spare)
            np.maximum(v[i], v[i + 1], out=v[i + 1])
            v[i], spare = spare, v[i]
    k = n // 2
    out: npt.NDArray[Any]
    if n % 2:
        out = v[k].astype(dtype)
    elif v[k].dtype.itemsize <= 2:  # the sum is exact in int32, the half in float32
        out = ((v[k - 1].astype(np.int32) + v[k]) * np.float32(0.5)).astype(dtype)
    else:
        out = ((v[k - 1].astype(np.float64) + v[k]) / 2).astype(dtype)
    return out


class RunningMedian(DerivedSource):
    """Every ``every`` frames of ``source``, the median of its last ``window`` frames
    (a background estimate), pixel by pixel: ``numpy.median`` over those frames.

    Median ``k`` (from 0) is made when frame ``(k + 1) * every - 1`` of the run has been
    seen, over frames ``(k + 1) * every - window`` to ``(k + 1) * every - 1``; frames
    outside every window are not copied. A frame the producer could not take (its
    queue full) is left out of its window and counted (:attr:`dropped`), the last
    window's last frame too; a window left with no frame makes no median. Frames after
    the last full ``every`` make none.
    Each median is equal to ``numpy.median`` of the frames of its window it saw.

    Parameters
    ----------
    source:
        The camera (its name, or the device: ``name``, ``writer_logic`` and its frame
        shape and dtype are taken from it when it has ``shape``/``dtype`` arguments).
    writer:
        The shared writer the camera writes into.
    shape, dtype:
        The camera's frame shape and dtype.
    window, every:
        Frames per median, and frames between two medians.
    name:
        Of the derived array; default ``<source>_median``.
    """

    statistic = "median"

    def __init__(
        self,
        source: str,
        writer: ControllableDataWriter,
        *,
        shape: tuple[int, ...],
        dtype: npt.DTypeLike,
        window: int = 8,
        every: int = 8,
        name: str | None = None,
        maxsize: int = 64,
        pixel_size: float | Sequence[float] | None = None,
        pixel_size_units: str = "micrometer",
        nice: int = 10,
    ) -> None:
        if int(window) < 1 or int(every) < 1:
            raise WriterError(
                f"running median of {source!r}: window={window!r} and every={every!r} "
                "must be at least 1 frame"
            )
        super().__init__(
            name or f"{source}_median",
            source,
            writer,
            dtype=median_dtype(dtype),
            shape=shape,
            maxsize=maxsize,
            pixel_size=pixel_size,
            pixel_size_units=pixel_size_units,
            nice=nice,
        )
        self.window = int(window)
        self.every = int(every)
        self._frames: dict[int, npt.NDArray[np.generic]] = {}

    def wants(self, index: int) -> bool:
        return (index % self.every) >= self.every - self.window

    def reset(self) -> None:
        self._frames = {}

    def consume(self, index: int, frame: npt.NDArray[np.generic]) -> None:
        end = (index // self.every + 1) * self.every  # its window: [end - window, end)
        stale = sorted({(i // self.every + 1) * self.every for i in self._frames} - {end})
        for earlier in stale:  # a window whose last frame was dropped: what it has
            self._emit(earlier)
        self._frames[index] = frame
        if index == end - 1:
            self._emit(end)

    def finish(self, source_frames: int) -> None:
        for end in sorted({(i // self.every + 1) * self.every for i in self._frames}):
            if end <= source_frames:  # its last frame was taken, and missed: what it has
                self._emit(end)

    def _emit(self, end: int) -> None:
        window = [self._frames.pop(i) for i in range(end - self.window, end) if i in self._frames]
        if window:
            self.emit(median_of(window, self.dtype))

    def configuration(self) -> dict[str, Any]:
        return {**super().configuration(), "window": self.window, "every": self.every}
