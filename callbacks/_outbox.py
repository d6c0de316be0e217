"""The publisher's outbox: per run, a small cursor file saying how much of the run's
document log JetStream has acknowledged (the log itself holds the documents)."""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..writers.model import Documents
from ._log import iter_document_log

__all__ = ["OutboxRun", "read_cursor", "write_cursor"]

logger = logging.getLogger(__name__)


@dataclass
class OutboxRun:
    """What the publisher knows of one run (owned by the NATS thread, except ``known``)."""

    uid: str
    log: Path
    cursor: Path
    sent: int = 0
    known: int = 0
    """Documents of the run seen so far (the RunEngine thread writes it)."""
    last_queued: int = -1
    """Position of the run's last document put in the memory queue."""
    stopped: bool = False
    extra: Documents = field(default_factory=list)
    """Documents after the log's end (a recovered stop), kept in the cursor file."""


def read_cursor(cursor: Path) -> OutboxRun | None:
    """The run a cursor file left by an earlier publisher describes (``None`` if unreadable)."""
    try:
        state = json.loads(cursor.read_text(encoding="utf-8"))
        run = OutboxRun(str(state["run"]), Path(state["log"]), cursor, sent=int(state["sent"]))
        run.extra = [(str(n), dict(d)) for n, d in state.get("extra", [])]
        run.known = sum(1 for _ in iter_document_log(run.log))
    except (OSError, ValueError, KeyError, TypeError) as e:
        logger.error("publisher: cannot resume from %s (%s); remove it if stale", cursor, e)
        return None
    return run


def write_cursor(run: OutboxRun) -> None:
    """Save how far ``run`` is sent (atomically: temp file, then rename)."""
    state = {"run": run.uid, "log": str(run.log), "sent": run.sent, "extra": run.extra}
    tmp = run.cursor.with_suffix(f".{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(state), encoding="utf-8")
    os.replace(tmp, run.cursor)
