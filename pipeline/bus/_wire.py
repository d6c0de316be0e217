"""Reading documents off the bus: our format and bluesky-nats's, and putting runs together."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

from ...callbacks._bus import DOCUMENT_NAMES, LOG_HEADER, RUN_HEADER, SEQ_HEADER
from ...writers.model import Documents

__all__ = [
    "Documents",
    "IncompleteRunError",
    "RunAssembly",
    "WireDocument",
    "WireFormat",
    "decode",
]

logger = logging.getLogger(__name__)

WireFormat = Literal["zarrscribe", "bluesky-nats"]
"""``zarrscribe``: ``<prefix>.<instrument>.<run uid>.<name>`` with a position header;
``bluesky-nats``: ``<prefix>.<name>`` with only the ``run_id`` header."""


class IncompleteRunError(ValueError):
    """The documents of a run on the bus have a gap or no start document (yet)."""


@dataclass(frozen=True)
class WireDocument:
    """One document as it came off the stream."""

    run_uid: str
    name: str
    doc: dict[str, Any]
    seq: int | None
    """Position in its run (our format); ``None`` for bluesky-nats messages."""
    stream_seq: int
    """JetStream sequence of the message."""
    log: str | None = None
    """Path of the run's document log on the publishing host (our start documents)."""


def decode(msg: Any) -> WireDocument | None:
    """The document in a JetStream message, or ``None`` (logged) if it is not one."""
    import msgpack

    name = msg.subject.rsplit(".", 1)[-1]
    if name not in DOCUMENT_NAMES:
        logger.warning("skipping message on %r: %r is not a document name", msg.subject, name)
        return None
    try:
        doc = msgpack.unpackb(msg.data, raw=False, strict_map_key=False)
    except (ValueError, msgpack.UnpackException) as e:
        logger.warning("skipping message on %r: payload is not msgpack (%s)", msg.subject, e)
        return None
    if not isinstance(doc, dict):
        logger.warning("skipping message on %r: payload is not a document", msg.subject)
        return None
    headers = msg.headers or {}
    run_uid = headers.get(RUN_HEADER) or (doc.get("uid") if name == "start" else None)
    run_uid = run_uid or doc.get("run_start")
    if not run_uid:
        logger.warning("skipping %s message on %r: no run_id header", name, msg.subject)
        return None
    seq = headers.get(SEQ_HEADER)
    return WireDocument(
        run_uid=str(run_uid),
        name=name,
        doc=doc,
        seq=int(seq) if seq is not None else None,
        stream_seq=int(msg.metadata.sequence.stream),
        log=headers.get(LOG_HEADER) or None,
    )


@dataclass
class RunAssembly:
    """The documents of one run, gathered from the stream in any order, re-sent or not."""

    run_uid: str
    parts: dict[tuple[int, int], WireDocument] = field(default_factory=dict)

    def add(self, wire: WireDocument) -> None:
        # Our format: the run position identifies a document (a re-send has the same);
        # bluesky-nats: only the stream sequence does.
        key = (0, wire.seq) if wire.seq is not None else (1, wire.stream_seq)
        self.parts.setdefault(key, wire)

    @property
    def log(self) -> str | None:
        """Path of the run's log on the publishing host, if its start document says."""
        return next((w.log for w in self.parts.values() if w.log), None)

    @property
    def stopped(self) -> bool:
        return any(w.name == "stop" for w in self.parts.values())

    def documents(self) -> Documents:
        """The run's documents in order; raises :class:`IncompleteRunError` on a gap."""
        ours = sorted((k[1], w) for k, w in self.parts.items() if k[0] == 0)
        theirs = sorted((k[1], w) for k, w in self.parts.items() if k[0] == 1)
        for expected, (seq, _) in enumerate(ours):
            if seq != expected:
                raise IncompleteRunError(
                    f"run {self.run_uid!r}: document {expected} is missing on the bus "
                    f"(next is {seq}); the publisher has not sent it yet"
                )
        docs = [(w.name, w.doc) for _, w in ours] + [(w.name, w.doc) for _, w in theirs]
        if not docs or docs[0][0] != "start":
            raise IncompleteRunError(
                f"run {self.run_uid!r}: no start document on the bus; it was not "
                "published or the stream no longer keeps it"
            )
        return docs
