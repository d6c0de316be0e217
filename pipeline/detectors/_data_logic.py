"""An ophyd-async ``DetectorDataLogic`` over a shared zarrscribe writer.

ophyd-async (0.21) assembles a ``StandardDetector`` from logics; the data logic
decides where frames go and which stream documents describe them. This one
hands every detector's frames to ONE shared writer (one store per writer
group, one array per detector), which is what ophyd-async#1242 asks for.

The writer's lifecycle belongs to the pipeline, not to the detector: the
presenter sets its URI at RunStart and the finisher closes it at RunStop
(which comes before unstage). So ``stop()`` closes nothing.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import numpy as np
from ophyd_async.core import (
    DetectorDataLogic,
    SignalR,
    StreamableDataProvider,
    soft_signal_r_and_setter,
)

if TYPE_CHECKING:
    import numpy.typing as npt
    from bluesky.protocols import StreamAsset
    from event_model import DataKey

    from ...writers import ControllableDataWriter

__all__ = [
    "AcquisitionClosedError",
    "ZarrDataLogic",
    "ZarrDataProvider",
    "check_collections_per_event",
]


class AcquisitionClosedError(RuntimeError):
    """A frame came after the pipeline closed the writer at RunStop (the run is over)."""


def check_collections_per_event(name: str, collections_per_event: int) -> None:
    """Refuse more than one collection per event (one frame per event in the array)."""
    if collections_per_event != 1:
        raise ValueError(
            f"{name}: collections_per_event={collections_per_event} is not supported by "
            "zarrscribe's shared Zarr writer (one frame per event); use "
            "collections_per_event=1 and number_of_events="
            f"<events x {collections_per_event}> instead"
        )


class ZarrDataProvider(StreamableDataProvider):
    """What one detector wrote into the shared writer during one acquisition.

    ``collections_written_signal`` counts the frames the writer accepted for
    this detector (bumped on the RunEngine's event loop after each frame);
    stream documents come straight from the writer.
    """

    def __init__(
        self,
        writer: ControllableDataWriter,
        name: str,
        data_keys: dict[str, DataKey],
        collections_written_signal: SignalR[int],
    ) -> None:
        self._writer = writer
        self._name = name
        self._data_keys = data_keys
        self.collections_written_signal = collections_written_signal

    async def make_datakeys(self, collections_per_event: int) -> dict[str, DataKey]:
        """The writer's data keys: one frame per event, shaped as the frames are stored.

        ophyd-async's own writers put a leading ``collections_per_event`` axis in
        the shape (``[1, H, W]``); the Zarr array here holds ``(frames, H, W)``,
        so the data key says ``[H, W]``, as for every other device in the store,
        and the catalog and store attributes describe the array as it is.
        """
        check_collections_per_event(self._name, collections_per_event)
        return {k: v.copy() for k, v in self._data_keys.items()}

    async def make_stream_docs(
        self, collections_written: int, collections_per_event: int
    ) -> AsyncIterator[StreamAsset]:
        check_collections_per_event(self._name, collections_per_event)
        for doc in self._writer.collect_stream_docs(self._name, collections_written):
            yield doc


class ZarrDataLogic(DetectorDataLogic):
    """Frames of one detector into an array of a shared writer.

    ``register`` (at stage, from :class:`ZarrDetector`) declares the array
    before any device of the store pushes a frame; ``prepare_unbounded`` opens
    it; :meth:`write_frame` pushes a frame from any thread and bumps the
    provider's counter on the event loop that prepared it.

    Parameters
    ----------
    writer:
        The shared writer (e.g. :class:`zarrscribe.writers.ZarrWriter`).
    dtype, shape:
        Dtype and shape of every frame.
    datakey_suffix:
        Appended to the detector name for the data key and array key.
    """

    def __init__(
        self,
        writer: ControllableDataWriter,
        dtype: npt.DTypeLike,
        shape: tuple[int, ...],
        *,
        datakey_suffix: str = "",
    ) -> None:
        self.writer = writer
        self.dtype = np.dtype(dtype)
        self.shape = tuple(int(s) for s in shape)
        self.datakey_suffix = datakey_suffix
        self._lock = threading.Lock()
        self._name = ""
        self._written = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped = False
        self._signal, self._set_written = soft_signal_r_and_setter(int, initial_value=0)

    def register(self, datakey_name: str) -> None:
        """Declare the array with the writer (unbounded): at stage, before any frame."""
        self.writer.register(datakey_name, self.dtype, self.shape, 0)
        self._name = datakey_name

    async def prepare_unbounded(self, datakey_name: str) -> ZarrDataProvider:
        """Open the array (registering it first if the detector was not staged)."""
        if self._name != datakey_name:
            self.register(datakey_name)
        data_keys = self.writer.open(datakey_name)
        with self._lock:
            self._written = 0
            self._loop = asyncio.get_running_loop()
            self._stopped = False
        self._set_written(0)
        return ZarrDataProvider(self.writer, datakey_name, data_keys, self._signal)

    def get_hinted_fields(self, datakey_name: str) -> list[str]:
        return [datakey_name]

    async def stop(self) -> None:
        """Nothing to close: the pipeline's finisher closes the shared writer at RunStop."""
        with self._lock:
            self._stopped = self._loop is not None
            self._loop = None

    # ------------------------------------------------------------------ frames
    def write_frame(self, frame: npt.NDArray[np.generic]) -> None:
        """Push one frame; thread-safe. Call it from a thread, never from the RunEngine's
        event loop: the writer may block while the disk catches up (``max_memory``).

        Raises :class:`AcquisitionClosedError` once the pipeline closed the writer
        (a run that failed or was aborted ends while detectors still push): the
        frame source should then stop quietly.
        """
        with self._lock:
            name, loop, stopped = self._name, self._loop, self._stopped
        if loop is None and stopped:
            raise AcquisitionClosedError(
                f"{name}: the detector was stopped (unstaged); the frame is dropped"
            )
        if loop is None:
            raise RuntimeError(
                f"{name or 'detector'}: frame pushed before prepare; "
                "push frames only between kickoff/trigger and complete"
            )
        if not self.writer.is_open:
            raise AcquisitionClosedError(
                f"{name}: the writer {self.writer.uri!r} was closed at the end of the run; "
                "the frame is dropped"
            )
        try:
            self.writer.write_frame(name, frame)
        except Exception as e:
            if not self.writer.is_open:  # closed by the finisher while we were writing
                raise AcquisitionClosedError(
                    f"{name}: the writer {self.writer.uri!r} was closed at the end of the "
                    "run; the frame is dropped"
                ) from e
            raise
        with self._lock:
            self._written += 1
            written = self._written
        loop.call_soon_threadsafe(self._set_written, written)

    def wake(self) -> None:
        """Re-publish the counter (so a detector waiting on it looks at its state again)."""
        with self._lock:
            loop, written = self._loop, self._written
        if loop is not None:
            loop.call_soon_threadsafe(self._set_written, written)
