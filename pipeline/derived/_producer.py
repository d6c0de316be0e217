"""`DerivedSource`: frames computed from a device's frames, written beside them and
announced by the RunEngine like any device's array.

The documents are the truth, and in a run the RunEngine is their only source. So a
derived source is a bluesky device (flyable, collectable, writing stream assets) that
a plan includes (:func:`with_derived`): its descriptor, StreamResource and StreamDatum
documents come from the RunEngine into the run, in order, and the log, replay, the
catalog and every reader describe its array as they describe a camera's.

Frames reach it by a tap on the shared writer (``add_frame_listener``): the camera's
thread hands each frame to a bounded :class:`~zarrscribe.writers.FrameSink` and
returns at once; the computation runs on the sink's thread and writes its results
through the same writer. A producer slower than the camera never stalls the
RunEngine or the camera: frames that find the queue full are not seen, counted in
:attr:`DerivedSource.dropped`, logged, and reported in the run's documents (the
``<name>_summary`` stream: frames seen, dropped, written).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ...writers import FrameSink, HasFrameListeners, WriterError
from ..sim import DeviceStatus

if TYPE_CHECKING:
    import numpy.typing as npt
    from bluesky.protocols import Reading, StreamAsset
    from event_model.documents import DataKey

    from ...writers import ControllableDataWriter

__all__ = ["DerivedSource"]

logger = logging.getLogger(__name__)


class DerivedSource:
    """Base of a derived source: frames of ``source`` in, frames of ``name`` out.

    Subclasses implement :meth:`wants` (whether frame ``index`` of the source is
    needed: only those are copied and queued) and :meth:`consume` (called on the
    producer's thread with each frame it sees; it calls :meth:`emit` with a result).

    Parameters
    ----------
    name:
        Name of the derived array (its data key, image name and event stream).
    source:
        Name of the source (a device's array in the same writer).
    writer:
        The writer both write into (it must offer frame listeners).
    dtype, shape:
        Of every derived frame.
    maxsize:
        Source frames that may wait for the producer; more are dropped and counted.
    pixel_size, pixel_size_units:
        Of the derived image (usually the source camera's).
    nice:
        How much lower than the camera the producer's thread runs on the CPU (Linux
        thread niceness; 0 keeps it equal): where cores are scarce, the camera and the
        writer go first and the producer drops frames instead.
    """

    statistic = "derived"
    """What the frames are (recorded in the configuration)."""

    def __init__(
        self,
        name: str,
        source: str,
        writer: ControllableDataWriter,
        *,
        dtype: npt.DTypeLike,
        shape: tuple[int, ...],
        maxsize: int = 64,
        pixel_size: float | Sequence[float] | None = None,
        pixel_size_units: str = "micrometer",
        nice: int = 10,
    ) -> None:
        if not isinstance(writer, HasFrameListeners):
            raise WriterError(
                f"derived source {name!r}: writer {writer!r} offers no frame listeners "
                "(add_frame_listener); use a ZarrWriter"
            )
        self.name = name
        self.parent = None
        self.source = source
        self._writer = writer
        self._taps: HasFrameListeners = writer
        self.dtype = np.dtype(dtype)
        self.shape = tuple(int(s) for s in shape)
        self.maxsize = int(maxsize)
        self._pixel_size = pixel_size
        self._units = pixel_size_units if pixel_size is not None else None
        self._lock = threading.Lock()
        self._sink: FrameSink[tuple[int, Any]] | None = None
        self._announced = 0
        self._niced = False
        self.nice = int(nice)
        self._data_keys: dict[str, DataKey] = {}
        self._seen = self._dropped = 0

    def __repr__(self) -> str:
        return self.name  # bluesky records repr(device) in a run's plan_args

    @property
    def writer_logic(self) -> ControllableDataWriter:
        """The shared writer (the pipeline lends it to the run like a camera's)."""
        return self._writer

    @property
    def summary_stream(self) -> str:
        """The stream of the one event that reports what the producer saw and dropped."""
        return f"{self.name}_summary"

    # ------------------------------------------------------------------ subclass API
    def wants(self, index: int) -> bool:
        """Whether frame ``index`` of the source is needed (only those are queued)."""
        return True

    def consume(self, index: int, frame: npt.NDArray[np.generic]) -> None:
        """Take frame ``index`` of the source (a private copy); call :meth:`emit`."""
        raise NotImplementedError

    def reset(self) -> None:
        """Forget what earlier acquisitions left (called at kickoff)."""

    def finish(self, source_frames: int) -> None:
        """The source stopped after ``source_frames`` frames and every queued one was
        consumed: emit what waits for a frame that never came (called at complete)."""

    def emit(self, frame: npt.NDArray[np.generic]) -> None:
        """Write one derived frame (on the producer's thread; may wait for the disk)."""
        self._writer.write_frame(self.name, frame)

    # ------------------------------------------------------------------ frames in
    def _tap(self, name: str, index: int, frame: npt.NDArray[np.generic]) -> None:
        """On the camera's thread: queue a copy, never wait."""
        sink = self._sink
        if sink is None or not self.wants(index):
            return
        # a full queue refuses at once, before the frame is copied
        full = sink.pending >= self.maxsize
        accepted = not full and sink.put_nowait((index, np.array(frame, copy=True)))
        with self._lock:
            if accepted:
                self._seen += 1
            else:
                self._dropped += 1

    def _take(self, item: tuple[int, Any]) -> None:
        if not self._niced:  # on the producer's own thread, once
            self._niced = True
            _lower_priority(self.nice)
        self.consume(*item)

    @property
    def seen(self) -> int:
        """Source frames queued for the producer in the current (or last) acquisition."""
        with self._lock:
            return self._seen

    @property
    def dropped(self) -> int:
        """Source frames the producer could not take (its queue was full)."""
        with self._lock:
            return self._dropped

    # ------------------------------------------------------------------ bluesky
    def stage(self) -> DeviceStatus:
        """Register the derived array (before any frame of the store)."""
        try:
            self._writer.register(
                self.name,
                self.dtype,
                self.shape,
                0,
                pixel_size=self._pixel_size,
                units=self._units,
            )
        except Exception as e:
            return DeviceStatus.failed(e)
        return DeviceStatus.finished()

    def unstage(self) -> DeviceStatus:
        self._stop_listening()
        return DeviceStatus.finished()

    def kickoff(self) -> DeviceStatus:
        """Open the derived array and start taking the source's frames."""
        try:
            self._data_keys = self._writer.open(self.name)
        except Exception as e:
            return DeviceStatus.failed(e)
        self._stop_listening()
        with self._lock:
            self._seen = self._dropped = 0
        self._announced = self.get_index()
        self.reset()
        self._niced = False
        self._sink = FrameSink(self._take, maxsize=self.maxsize, name=self.name)
        self._taps.add_frame_listener(self.source, self._tap)
        return DeviceStatus.finished()

    def complete(self) -> DeviceStatus:
        """Done once every queued frame was taken (the source stopped pushing)."""
        status = DeviceStatus()

        def finish() -> None:
            self._taps.remove_frame_listener(self.source, self._tap)
            sink = self._sink
            if sink is not None:
                sink.close()
                if sink.error is not None:
                    status.set_exception(sink.error)
                    return
            try:
                self.finish(self._writer.get_indices_written(self.source))
            except Exception as e:
                status.set_exception(e)
                return
            if self.dropped:
                logger.warning(
                    "%s: %d of %d frames of %r came while the producer was busy and were "
                    "not used (its queue holds %d); see the %r stream",
                    self.name,
                    self.dropped,
                    self.dropped + self.seen,
                    self.source,
                    self.maxsize,
                    self.summary_stream,
                )
            status.set_finished()

        threading.Thread(target=finish, name=f"{self.name}-complete", daemon=True).start()
        return status

    def _stop_listening(self) -> None:
        self._taps.remove_frame_listener(self.source, self._tap)
        sink, self._sink = self._sink, None
        if sink is not None:
            sink.close()

    def stop(self, *, success: bool = True) -> None:
        self._stop_listening()

    def describe_collect(self) -> dict[str, DataKey]:
        return dict(self._data_keys)

    def get_index(self) -> int:
        """Derived frames written in the current (or, once the run ended, the last)
        acquisition."""
        try:
            return self._writer.get_indices_written(self.name)
        except WriterError:  # the pipeline cleared the writer's sources at RunStop
            return self._announced

    def collect_asset_docs(self, index: int | None = None) -> Iterator[StreamAsset]:
        written = self._writer.get_indices_written(self.name)
        yield from self._writer.collect_stream_docs(self.name, written)
        self._announced = written

    def has_new_frames(self) -> bool:
        """Whether frames were written that no StreamDatum describes yet."""
        return bool(self._data_keys) and self.get_index() > self._announced

    # ------------------------------------------------------------------ readings
    def configuration(self) -> dict[str, Any]:
        """What the derived frames are (the descriptor's configuration)."""
        config: dict[str, Any] = {
            "statistic": self.statistic,
            "source": self.source,
            "maxsize": self.maxsize,
        }
        if self._pixel_size is not None:
            size = self._pixel_size
            config["pixel_size"] = [float(size)] * 2 if np.isscalar(size) else list(size)  # type: ignore[arg-type]
            config["pixel_size_units"] = self._units
        return config

    def read_configuration(self) -> dict[str, Reading[Any]]:
        now = time.time()
        return {
            f"{self.name}-{k}": {"value": v, "timestamp": now}
            for k, v in self.configuration().items()
        }

    def describe_configuration(self) -> dict[str, DataKey]:
        return {
            f"{self.name}-{k}": _data_key(f"derived://{self.name}/{k}", v)
            for k, v in self.configuration().items()
        }

    def read(self) -> dict[str, Reading[Any]]:
        """Frames seen, dropped (queue full) and written: the summary event."""
        now = time.time()
        values = {"seen": self.seen, "dropped": self.dropped, "written": self.get_index()}
        return {f"{self.name}-{k}": {"value": v, "timestamp": now} for k, v in values.items()}

    def describe(self) -> dict[str, DataKey]:
        return {
            f"{self.name}-{k}": {
                "source": f"derived://{self.name}/{k}",
                "dtype": "integer",
                "shape": [],
            }
            for k in ("seen", "dropped", "written")
        }


def _lower_priority(nice: int) -> None:
    """Lower the CPU priority of the calling thread by ``nice`` (Linux: per thread)."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + nice)
    except OSError as e:  # not allowed here: it runs at the camera's priority
        logger.debug("cannot lower the producer's priority: %s", e)


def _data_key(source: str, value: Any) -> DataKey:
    if isinstance(value, str):
        return {"source": source, "dtype": "string", "shape": []}
    if isinstance(value, int):
        return {"source": source, "dtype": "integer", "shape": []}
    if isinstance(value, list):
        return {"source": source, "dtype": "array", "shape": [len(value)]}
    return {"source": source, "dtype": "number", "shape": []}
