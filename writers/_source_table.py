"""The sources of a shared writer: registration, the write window, dropped frames, taps.

A frame is written only inside its source's write window: from ``open`` to
``close`` of the acquisition. A frame pushed outside it (a live preview while
no run is open, a device still pushing after its run ended) is dropped and
counted, never written, never an error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ._errors import WriterError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ._documents import StreamDocuments
    from ._sources import SourceInfo

__all__ = ["FrameListener", "SourceState", "SourceTable"]

logger = logging.getLogger(__name__)

FrameListener = Callable[[str, int, "npt.NDArray[np.generic]"], object]
"""Called as ``listener(source, index, frame)`` after a frame was appended, on the
pushing thread: it must return at once (hand the frame to a bounded queue)."""


@dataclass
class SourceState:
    info: SourceInfo
    opened: bool = False
    frames_written: int = 0
    documents: StreamDocuments | None = None
    """Stream documents of the current (or last) acquisition; ``None`` before ``open``."""
    listeners: list[FrameListener] = field(default_factory=list)


class SourceTable:
    """Registered sources by name, and frames dropped outside their write window.

    Not thread-safe by itself: the writer holds its lock around every call.
    """

    def __init__(self, group: str) -> None:
        self._group = group
        self.states: dict[str, SourceState] = {}
        self.dropped: dict[str, int] = {}
        """Frames pushed outside their source's write window, per source name."""
        self._listeners: dict[str, list[FrameListener]] = {}

    def register(self, info: SourceInfo, uri: str | None, streaming: bool) -> None:
        """Register ``info``; the same registration again changes nothing (a device
        restaged inside a run continues its array), another one of an open source or
        of a running stream is refused."""
        name = info.name
        current = self.states.get(name)
        if current is not None and current.info == info and (current.opened or streaming):
            return  # the source continues: same array, same StreamResource
        if current is not None and current.opened:
            raise WriterError(
                f"cannot register {name!r} again as {_describe(info)}: it is open on {uri!r} "
                f"as {_describe(current.info)}; register it unchanged to continue its array, "
                "close() the writer first, or register the source under another name"
            )
        if streaming:
            raise WriterError(
                f"cannot register {name!r}: writer {self._group!r} already streams frames to "
                f"{uri!r}, whose arrays are fixed; register every source before the "
                "first frame (with the same dtype and shape to continue one), or close() first"
            )
        self.states[name] = SourceState(info, listeners=self._listeners.setdefault(name, []))

    def unregister(self, name: str, uri: str | None, streaming: bool) -> None:
        """Forget one source; refused while it is open or the store streams frames."""
        state = self.get(name)
        if state.opened or streaming:
            raise WriterError(
                f"cannot unregister {name!r}: writer {self._group!r} "
                f"{'streams frames to' if streaming else 'has it open on'} {uri!r}; "
                "close() the writer first"
            )
        del self.states[name]

    def get(self, name: str) -> SourceState:
        try:
            return self.states[name]
        except KeyError:
            known = ", ".join(repr(n) for n in self.states) or "none"
            raise WriterError(
                f"source {name!r} is not registered with writer {self._group!r} "
                f"(registered: {known}); call register() first"
            ) from None

    def in_window(self, name: str) -> SourceState | None:
        """The state of ``name`` if a frame of it may be written now; otherwise the frame
        is counted as dropped and ``None`` returned."""
        state = self.states.get(name)
        if state is not None and state.opened:
            return state
        count = self.dropped.get(name, 0)
        self.dropped[name] = count + 1
        if count == 0:
            logger.info(
                "writer %r: frames of %r pushed outside a write window (no acquisition "
                "open for it) are dropped and counted",
                self._group,
                name,
            )
        return None

    def add_listener(self, name: str, listener: FrameListener) -> None:
        self._listeners.setdefault(name, []).append(listener)
        state = self.states.get(name)
        if state is not None:
            state.listeners = self._listeners[name]

    def remove_listener(self, name: str, listener: FrameListener) -> None:
        listeners = self._listeners.get(name, [])
        if listener in listeners:
            listeners.remove(listener)


def _describe(info: SourceInfo) -> str:
    return f"{info.dtype} {info.shape} capacity {info.capacity}"
