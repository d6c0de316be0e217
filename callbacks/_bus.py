"""Our wire format on NATS JetStream: stream settings, subjects, message ids, payloads.

One message per document, on ``<prefix>.<instrument>.<run uid>.<document name>``,
with the run uid and the document's position in its run's log in headers (the
start document also names the run's log) and a msgpack payload (the same payload
encoding as bluesky-nats, so one decoder reads both). The message id is the
document uid where it has one, else ``<run uid>/<name>/<position>``: JetStream
drops a re-sent message within its duplicate window.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ._errors import BusError

__all__ = [
    "DOCUMENT_NAMES",
    "LOG_HEADER",
    "MSG_ID_HEADER",
    "RUN_HEADER",
    "SEQ_HEADER",
    "BusSettings",
    "encode_document",
    "message_id",
]

RUN_HEADER = "run_id"
"""Header with the run's start uid (the same header bluesky-nats sets)."""
SEQ_HEADER = "Zarrscribe-Seq"
"""Header with the document's position in its run (0 is the start document)."""
LOG_HEADER = "Zarrscribe-Log"
"""Header of the start document only: the path of the run's document log on the
publishing host (the catalog entry records it, as replay from the log does)."""
MSG_ID_HEADER = "Nats-Msg-Id"
"""JetStream's de-duplication header."""

DOCUMENT_NAMES = frozenset(
    {
        "start",
        "descriptor",
        "event",
        "event_page",
        "resource",
        "datum",
        "datum_page",
        "stream_resource",
        "stream_datum",
        "stop",
    }
)

_TOKEN = re.compile(r"^[A-Za-z0-9_\-]+$")
_PREFIX = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")


@dataclass(frozen=True)
class BusSettings:
    """Where documents go on NATS; the publisher and the workers must agree on it."""

    servers: str = "nats://127.0.0.1:4222"
    """NATS server URL(s), comma-separated for a cluster."""
    stream: str = "ZARRSCRIBE"
    """JetStream stream holding the documents (created on first use if missing)."""
    prefix: str = "zarrscribe"
    """First subject token(s): documents go on ``<prefix>.<instrument>.<run uid>.<name>``."""
    instrument: str = "default"
    """One subject token naming the instrument or session that publishes."""
    duplicate_window: float = 600.0
    """Seconds JetStream remembers message ids to drop re-sent documents."""
    max_age: float = 0.0
    """Seconds documents are kept in the stream (0: forever, so the catalog can be
    rebuilt from the stream)."""
    replicas: int = 1
    """Stream replicas (a clustered NATS may take 3)."""
    linger: float = 0.05
    """Publisher: seconds documents wait to be sent together. It wakes at most once per
    window while documents come in, so the RunEngine does not feel it; 0 sends each
    document as soon as it can, at the RunEngine's expense."""
    cursor_every: float = 1.0
    """Publisher: seconds between two writes of a run's cursor while the run is sent. A
    publisher restarted after a crash sends at most this much again, and JetStream drops
    the repeats (same message id within ``duplicate_window``; after that the workers and
    replay still take each document of a run once, by its position)."""

    def __post_init__(self) -> None:
        if not _PREFIX.match(self.prefix):
            raise BusError(
                f"NATS subject prefix {self.prefix!r} must be dot-separated tokens of "
                "letters, digits, '_' or '-'"
            )
        if not _TOKEN.match(self.instrument):
            raise BusError(
                f"instrument {self.instrument!r} must be one subject token (letters, "
                "digits, '_' or '-', no dots)"
            )
        if not _TOKEN.match(self.stream):
            raise BusError(f"stream name {self.stream!r} must be letters, digits, '_' or '-'")
        for name in ("linger", "cursor_every"):
            value = getattr(self, name)
            if not 0 <= value < self.duplicate_window:
                raise BusError(
                    f"{name} {value!r} must be seconds from 0 to under the duplicate "
                    f"window ({self.duplicate_window:g} s)"
                )

    @property
    def server_list(self) -> list[str]:
        return [s.strip() for s in self.servers.split(",") if s.strip()]

    def subject(self, run_uid: str, name: str) -> str:
        """Subject of document ``name`` of run ``run_uid`` from this instrument."""
        return f"{self.prefix}.{self.instrument}.{run_uid}.{name}"

    def run_subjects(self, run_uid: str, instrument: str | None = None) -> str:
        """Subject filter for every document of one run."""
        return f"{self.prefix}.{instrument or self.instrument}.{run_uid}.>"

    @property
    def stop_subjects(self) -> str:
        """Subject filter for every stop document, from any instrument."""
        return f"{self.prefix}.*.*.stop"

    @property
    def all_subjects(self) -> str:
        return f"{self.prefix}.>"

    async def ensure_stream(self, js: Any) -> None:
        """Create the stream if it does not exist (an existing one is used as it is)."""
        from nats.js import api
        from nats.js.errors import NotFoundError

        try:
            await js.stream_info(self.stream)
            return
        except NotFoundError:
            pass
        await js.add_stream(
            api.StreamConfig(
                name=self.stream,
                subjects=[self.all_subjects],
                retention=api.RetentionPolicy.LIMITS,
                storage=api.StorageType.FILE,
                duplicate_window=self.duplicate_window,
                max_age=self.max_age or None,
                num_replicas=self.replicas,
            )
        )


def message_id(run_uid: str, name: str, seq: int, doc: dict[str, Any]) -> str:
    """JetStream message id: the document uid, else ``<run uid>/<name>/<seq>``."""
    uid = doc.get("uid")
    return str(uid) if isinstance(uid, str) and uid else f"{run_uid}/{name}/{seq}"


def _default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot be sent in a document")


def encode_document(doc: dict[str, Any]) -> bytes:
    """msgpack payload of ``doc`` (numpy arrays and scalars as lists and numbers)."""
    import msgpack

    data: bytes = msgpack.packb(doc, default=_default, use_bin_type=True)
    return data
