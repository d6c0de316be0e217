"""An ophyd-async ``DetectorDataLogic`` over a shared zarrscribe writer.

ophyd-async (0.21) assembles a ``StandardDetector`` from logics; the data logic
decides where frames go and which stream documents describe them. This one
hands every detector's frames to ONE shared writer (one store per writer
group, one array per detector), which is what ophyd-async#1242 asks for.

The writer's lifecycle belongs to the pipeline, not to the detector: the
presenter sets its URI at RunStart and the finisher closes it at RunStop
(which comes before unstage). So ``stop()`` closes nothing.

ophyd-async resets a detector with ``stage()`` (also after ``prepare``), and plans
may unstage and stage it again inside one run. The detector's array then
continues: the same registration changes nothing in the writer, ``prepare`` makes
a provider whose frame counter starts where the array is, and the next StreamDatum
continues the same StreamResource's indices. (A new array cannot be started: the
store's arrays are fixed at its first frame.)
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
    """Kept for code that catches it: zarrscribe no longer raises it. A frame pushed
    outside the detector's write window (before ``prepare``, after ``stop`` or after the
    pipeline closed the writer at RunStop) is dropped and counted
    (:attr:`ZarrDataLogic.dropped`) instead."""


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
        self._dropped = 0
        self._signal, self._set_written = soft_signal_r_and_setter(int, initial_value=0)

    def register(self, datakey_name: str) -> None:
        """Declare the array with the writer (unbounded): at stage, before any frame.
        Inside a run whose writer already has it open, this changes nothing: the array
        continues."""
        self.writer.register(datakey_name, self.dtype, self.shape, 0)
        self._name = datakey_name

    async def prepare_unbounded(self, datakey_name: str) -> ZarrDataProvider:
        """Open the array (registering it first: a plain ``StandardDetector`` does not
        call :meth:`register` at stage); its frame counter continues from the frames
        the array already holds in this run."""
        self.register(datakey_name)
        data_keys = self.writer.open(datakey_name)
        written = self.writer.get_indices_written(datakey_name)
        with self._lock:
            self._written = written
            self._loop = asyncio.get_running_loop()
        self._set_written(written)
        return ZarrDataProvider(self.writer, datakey_name, data_keys, self._signal)

    def get_hinted_fields(self, datakey_name: str) -> list[str]:
        return [datakey_name]

    async def stop(self) -> None:
        """Close the detector's write window; the pipeline's finisher closes the shared
        writer at RunStop."""
        with self._lock:
            self._loop = None

    @property
    def dropped(self) -> int:
        """Frames pushed outside the write window (not written), since this logic was made."""
        with self._lock:
            return self._dropped

    # ------------------------------------------------------------------ frames
    def write_frame(self, frame: npt.NDArray[np.generic]) -> bool:
        """Push one frame; thread-safe. ``True`` when written. Call it from a thread,
        never from the RunEngine's event loop: the writer may block while the disk
        catches up (``max_memory``).

        The write window runs from ``prepare`` to ``stop`` (stage, unstage) while the
        pipeline has the writer open for a run. A frame pushed outside it (a live view
        while no run is open, a device still pushing after its run ended) is dropped,
        counted in :attr:`dropped`, and ``False`` returned; nothing is written. A frame
        of the wrong dtype or shape inside it raises (:class:`~zarrscribe.writers.FrameError`).
        """
        with self._lock:
            name, loop = self._name, self._loop
            if loop is None:
                self._dropped += 1
                return False
        if not self.writer.write_frame(name, frame):
            with self._lock:
                self._dropped += 1
            return False
        with self._lock:
            self._written += 1
            written = self._written
        loop.call_soon_threadsafe(self._set_written, written)
        return True

    def wake(self) -> None:
        """Re-publish the counter (so a detector waiting on it looks at its state again)."""
        with self._lock:
            loop, written = self._loop, self._written
        if loop is not None:
            loop.call_soon_threadsafe(self._set_written, written)
