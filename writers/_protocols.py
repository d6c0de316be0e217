"""Protocols for the pluggable seams between devices, writers and callbacks.

Callbacks and presenters only ever talk to writers through these protocols, so
any backend that satisfies them structurally plugs in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

    import numpy as np
    import numpy.typing as npt
    from bluesky.protocols import StreamAsset
    from event_model.documents import DataKey

__all__ = [
    "ControllableDataWriter",
    "DataWriter",
    "HasFrameListeners",
    "HasMetadata",
    "HasWriterLogic",
    "PrepareInfo",
]


@dataclass(frozen=True)
class PrepareInfo:
    """What a plan tells a device in ``prepare`` about the coming acquisition."""

    capacity: int = 0
    """Number of frames the device will push; ``0`` means not known in advance."""

    write_forever: bool = False
    """Push frames until stopped; the store grows without a fixed size."""

    def __post_init__(self) -> None:
        if self.capacity < 0:
            raise ValueError(
                f"PrepareInfo capacity {self.capacity!r} is negative; "
                "give the number of frames, or 0 if unknown"
            )


@runtime_checkable
class DataWriter(Protocol):
    """Single-device persistence: open, write, collect documents, close."""

    @property
    def mimetype(self) -> str:
        """Mimetype of the stores this writer produces (for StreamResource documents)."""
        ...

    @property
    def uri(self) -> str | None:
        """URI of the store of the current (or last) acquisition; ``None`` before ``set_uri``."""
        ...

    @property
    def is_open(self) -> bool:
        """Whether an acquisition is in progress."""
        ...

    def open(self, name: str) -> dict[str, DataKey]:
        """Start writing for source ``name``; return its bluesky data keys."""
        ...

    def get_indices_written(self, name: str | None = None) -> int:
        """Frames written for ``name``, or the least over all open sources."""
        ...

    def collect_stream_docs(self, name: str, indices_written: int) -> Iterator[StreamAsset]:
        """Yield StreamResource / StreamDatum documents up to ``indices_written``."""
        ...

    def close(self) -> None:
        """Finish the acquisition: flush, close the store, leave it readable."""
        ...


@runtime_checkable
class ControllableDataWriter(DataWriter, Protocol):
    """A writer shared by several devices: sources, frame pushing, URI control."""

    @property
    def group(self) -> str:
        """Name of the writer group; one store per group per run."""
        ...

    def set_uri(self, uri: str) -> None:
        """Point the next acquisition at ``uri`` (a store that must not exist yet)."""
        ...

    def register(
        self,
        name: str,
        dtype: npt.DTypeLike,
        shape: tuple[int, ...],
        capacity: int = 0,
        *,
        pixel_size: float | Sequence[float] | None = None,
        units: str | None = None,
    ) -> None:
        """Register source ``name`` with its frame dtype and shape.

        ``pixel_size`` (one number, or one per space axis) and its ``units``
        (default micrometer) describe the image; devices take them from their
        configuration keys ``pixel_size`` and ``pixel_size_units``.
        """
        ...

    def write_frame(self, name: str, frame: npt.NDArray[np.generic]) -> bool:
        """Push one frame of source ``name``; thread-safe. ``False`` when it was dropped
        (counted): pushed outside the source's write window, e.g. while no run is open."""
        ...

    def clear_sources(self) -> None:
        """Forget every registered source."""
        ...


@runtime_checkable
class HasFrameListeners(Protocol):
    """A writer that tells listeners about each frame it wrote (a tap for derived data)."""

    def add_frame_listener(
        self, name: str, listener: Callable[[str, int, npt.NDArray[np.generic]], object]
    ) -> None:
        """Call ``listener(name, index, frame)`` after each frame of source ``name`` is
        written, on the pushing thread (it must return at once)."""
        ...

    def remove_frame_listener(
        self, name: str, listener: Callable[[str, int, npt.NDArray[np.generic]], object]
    ) -> None:
        """Stop calling ``listener``."""
        ...

    def unregister(self, name: str) -> None:
        """Forget one source (not while it is open)."""
        ...


@runtime_checkable
class HasMetadata(Protocol):
    """A writer that accepts metadata to store beside the data."""

    def update_metadata(self, metadata: Mapping[str, Any]) -> None:
        """Merge ``metadata`` into what is written when the store closes."""
        ...

    def clear_metadata(self) -> None:
        """Drop the accumulated metadata."""
        ...


@runtime_checkable
class HasWriterLogic(Protocol):
    """A device that exposes the writer it pushes frames into."""

    @property
    def writer_logic(self) -> DataWriter:
        """The device's writer."""
        ...
