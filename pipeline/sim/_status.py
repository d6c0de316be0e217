"""A minimal thread-safe implementation of :class:`bluesky.protocols.Status`."""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["DeviceStatus"]


class DeviceStatus:
    """Completion of an action a device runs, possibly on another thread."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._exception: BaseException | None = None
        self._callbacks: list[Callable[[DeviceStatus], None]] = []

    @classmethod
    def finished(cls) -> DeviceStatus:
        """A status that is already done and successful."""
        status = cls()
        status.set_finished()
        return status

    @classmethod
    def failed(cls, exception: BaseException) -> DeviceStatus:
        """A status that is already done and failed with ``exception``."""
        status = cls()
        status.set_exception(exception)
        return status

    def _finish(self, exception: BaseException | None) -> None:
        with self._lock:
            if self._event.is_set():
                return
            self._exception = exception
            self._event.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(self)

    def set_finished(self) -> None:
        self._finish(None)

    def set_exception(self, exception: BaseException) -> None:
        self._finish(exception)

    def add_callback(self, callback: Callable[[DeviceStatus], None]) -> None:
        with self._lock:
            if not self._event.is_set():
                self._callbacks.append(callback)
                return
        callback(self)

    def exception(self, timeout: float | None = 0.0) -> BaseException | None:
        if not self._event.wait(timeout):
            raise TimeoutError(f"status not done after {timeout} s")
        return self._exception

    def wait(self, timeout: float | None = None) -> None:
        """Block until done; raise the failure, if any."""
        exc = self.exception(timeout)
        if exc is not None:
            raise exc

    def __repr__(self) -> str:
        # bluesky puts repr(FailedStatus(status)) in the stop document's reason:
        # make it say what went wrong.
        if not self._event.is_set():
            return "DeviceStatus(running)"
        if self._exception is None:
            return "DeviceStatus(done)"
        return f"DeviceStatus(failed: {self._exception})"

    @property
    def done(self) -> bool:
        return self._event.is_set()

    @property
    def success(self) -> bool:
        return self._event.is_set() and self._exception is None
