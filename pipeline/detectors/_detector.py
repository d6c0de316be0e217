"""`ZarrDetector`: an ophyd-async ``StandardDetector`` whose frames go to a shared writer."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from ophyd_async.core import (
    AsyncStatus,
    DetectorAcquireLogic,
    DetectorTriggerLogic,
    SignalR,
    StandardDetector,
    TriggerInfo,
)

from ._data_logic import ZarrDataLogic, check_collections_per_event

if TYPE_CHECKING:
    from ...writers import ControllableDataWriter

__all__ = ["ZarrDetector"]


class ZarrDetector(StandardDetector):
    """A ``StandardDetector`` whose :class:`ZarrDataLogic` writes into a shared writer.

    It exposes that writer as ``writer_logic``, so the pipeline's presenter
    finds it (:class:`zarrscribe.writers.HasWriterLogic`) and gives it its store
    at RunStart. ``stage`` registers the detector's array with the writer
    (every detector of a store must be registered before the first frame of
    any of them); ``prepare`` refuses ``collections_per_event`` other than 1.

    A frame source that fails (``fail``, from any thread) fails the running
    ``trigger``/``complete`` at once with that error, instead of when the
    exposure times out.

    Parameters
    ----------
    data_logic:
        Where the frames go.
    trigger_logic, acquire_logic:
        The rest of the detector (see ophyd-async's ``add_detector_logics``).
    config_signals:
        Signals read into the descriptor's configuration (and, through the
        pipeline, into the store's attributes).
    name:
        Device name; also the data key and the array key.
    """

    def __init__(
        self,
        data_logic: ZarrDataLogic,
        *,
        trigger_logic: DetectorTriggerLogic | None = None,
        acquire_logic: DetectorAcquireLogic | None = None,
        config_signals: Sequence[SignalR[Any]] = (),
        name: str = "",
    ) -> None:
        self.data_logic = data_logic
        self._failure: BaseException | None = None
        self._failure_lock = threading.Lock()
        logics = [x for x in (trigger_logic, acquire_logic) if x is not None]
        self.add_detector_logics(*logics, data_logic)
        self.add_config_signals(*config_signals)
        super().__init__(name=name)

    @property
    def writer_logic(self) -> ControllableDataWriter:
        """The shared writer this detector's frames go into."""
        return self.data_logic.writer

    # ------------------------------------------------------------------ failures
    def fail(self, error: BaseException) -> None:
        """Record that the frame source failed (thread-safe); the waiting status raises it."""
        with self._failure_lock:
            if self._failure is None:
                self._failure = error
        self.data_logic.wake()

    def _raise_if_failed(self) -> None:
        with self._failure_lock:
            error = self._failure
        if error is not None:
            raise error

    # ------------------------------------------------------------------ lifecycle
    @AsyncStatus.wrap
    async def stage(self) -> None:
        """Make the detector idle, forget an earlier failure, register its array."""
        await super().stage()
        with self._failure_lock:
            self._failure = None
        self.data_logic.register(self.name + self.data_logic.datakey_suffix)

    @AsyncStatus.wrap
    async def prepare(self, value: TriggerInfo) -> None:
        """Prepare for ``value`` (one collection per event only)."""
        check_collections_per_event(self.name, value.collections_per_event)
        self._raise_if_failed()
        await super().prepare(value)

    async def _wait_for_index(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        # Pinned to ophyd-async 0.21: trigger() and complete() wait here for the
        # frame counter; look at the frame source's state on every update.
        self._raise_if_failed()
        async for update in super()._wait_for_index(*args, **kwargs):
            self._raise_if_failed()
            yield update
        self._raise_if_failed()
