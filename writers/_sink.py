"""`FrameSink`: a bounded queue in front of a frame consumer, drained by its own thread.

A producer that must never wait (a document callback on the RunEngine's thread, a
camera's acquisition loop handing frames to a slow computation) calls
:meth:`FrameSink.put_nowait`: it returns at once, ``False`` when the queue is full,
and the frame is then counted in :attr:`FrameSink.dropped`, never lost silently.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from ._errors import WriterError

__all__ = ["FrameSink"]

logger = logging.getLogger(__name__)

_CLOSE = object()

T = TypeVar("T")


class FrameSink(Generic[T]):
    """Frames (or any items) for ``consume``, queued (at most ``maxsize``) and consumed
    on a thread.

    Parameters
    ----------
    consume:
        Takes one frame (e.g. ``partial(writer.write_frame, name)``); called on the
        sink's own thread, in order. It may block (the writer waiting for the disk)
        without stalling any producer.
    maxsize:
        Frames that may wait; a full queue refuses (``put_nowait``) or waits (``put``).
    name:
        For error messages and the thread's name.
    """

    def __init__(
        self,
        consume: Callable[[T], object],
        *,
        maxsize: int = 16,
        name: str = "frames",
    ) -> None:
        if int(maxsize) < 1:
            raise WriterError(f"sink {name!r}: maxsize {maxsize!r} must be at least 1 frame")
        self.name = name
        self._consume = consume
        self._queue: queue.Queue[object] = queue.Queue(int(maxsize))
        self._lock = threading.Lock()
        self._dropped = 0
        self._consumed = 0
        self._closed = False
        self._error: BaseException | None = None
        self._idle = threading.Condition()
        self._unfinished = 0
        self._thread = threading.Thread(target=self._drain, name=f"{name}-sink", daemon=True)
        self._thread.start()

    @property
    def dropped(self) -> int:
        """Frames refused because the queue was full (or the sink closed)."""
        with self._lock:
            return self._dropped

    @property
    def consumed(self) -> int:
        """Frames handed to ``consume`` (successfully or not)."""
        with self._lock:
            return self._consumed

    @property
    def pending(self) -> int:
        """Frames waiting in the queue."""
        return self._queue.qsize()

    @property
    def error(self) -> BaseException | None:
        """The first error ``consume`` raised; later frames are still consumed."""
        return self._error

    def put_nowait(self, frame: T) -> bool:
        """Queue ``frame`` without ever waiting: ``False`` (and counted in :attr:`dropped`)
        when the queue is full or the sink is closed."""
        with self._lock:
            if self._closed:
                self._dropped += 1
                return False
        self._pending(+1)
        try:
            self._queue.put_nowait(frame)
        except queue.Full:
            self._pending(-1)
            with self._lock:
                self._dropped += 1
            return False
        return True

    def put(self, frame: T, timeout: float | None = None) -> None:
        """Queue ``frame``, waiting up to ``timeout`` s for room; raises :class:`WriterError`
        when there is none by then, or when the sink is closed."""
        with self._lock:
            if self._closed:
                raise WriterError(f"sink {self.name!r} is closed; the frame is not queued")
        self._pending(+1)
        try:
            self._queue.put(frame, timeout=timeout)
        except queue.Full:
            self._pending(-1)
            with self._lock:
                self._dropped += 1
            raise WriterError(
                f"sink {self.name!r}: the queue of {self._queue.maxsize} frames stayed full "
                f"for {timeout} s; the frame is dropped (the consumer is too slow)"
            ) from None

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every queued frame is consumed; ``False`` if some remain after
        ``timeout`` s."""
        with self._idle:
            return self._idle.wait_for(lambda: self._unfinished == 0, timeout)

    def _pending(self, change: int) -> None:
        with self._idle:
            self._unfinished += change
            if self._unfinished == 0:
                self._idle.notify_all()

    def close(self, timeout: float | None = None) -> None:
        """Consume what is queued, then stop the thread (idempotent). Later puts are refused."""
        with self._lock:
            first, self._closed = not self._closed, True
        if first:
            self._queue.put(_CLOSE)
        self._thread.join(timeout)

    def _drain(self) -> None:
        while True:
            frame = self._queue.get()
            if frame is _CLOSE:
                return
            try:
                self._consume(frame)  # type: ignore[arg-type]
            except Exception as e:
                if self._error is None:
                    self._error = e
                    logger.error("sink %r: consuming a frame failed: %s", self.name, e)
            with self._lock:
                self._consumed += 1
            self._pending(-1)
