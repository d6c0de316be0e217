"""The publisher's outbox: per run, a small cursor file saying how much of the run's
document log JetStream has acknowledged (the log itself holds the documents), and the
documents waiting in memory to be sent, in order."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..writers.model import Documents
from ._errors import DocumentLogError
from ._log import iter_document_log

__all__ = ["Item", "Outbox", "OutboxRun", "read_cursor", "write_cursor"]

logger = logging.getLogger(__name__)

_BATCH = 1024
_LOG_BATCH = 2048


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
    saved_at: float = 0.0
    """When the cursor file was last written (``time.monotonic()``)."""


@dataclass(slots=True)
class Item:
    """One document to send: its run and its position there."""

    run: OutboxRun
    seq: int
    name: str
    doc: dict[str, Any]


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
    run.saved_at = time.monotonic()
    state = {"run": run.uid, "log": str(run.log), "sent": run.sent, "extra": run.extra}
    tmp = run.cursor.with_suffix(f".{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(state), encoding="utf-8")
    os.replace(tmp, run.cursor)


class Outbox:
    """The runs being sent, their cursors, and the documents queued in memory.

    The RunEngine thread calls :meth:`accept`; the NATS thread takes batches
    (:meth:`next_batch`) and reports them (:meth:`acknowledged`, :meth:`requeue`).
    A run's cursor is written when the run starts, at most every ``cursor_every``
    seconds while it is sent, and removed once its stop is acknowledged.
    """

    def __init__(self, state_dir: Path, *, max_queued: int, cursor_every: float) -> None:
        self.state_dir = state_dir
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.max_queued = max_queued
        """Documents held in memory; past that they are read back from the logs."""
        self.cursor_every = cursor_every
        self.queue: deque[Item] = deque()
        self.runs: dict[str, OutboxRun] = {}
        self.lock = threading.Lock()  # guards runs membership (both threads)
        self._unsaved: dict[str, OutboxRun] = {}  # runs whose cursor lags (NATS thread)
        for cursor in sorted(self.state_dir.glob("*.json")):  # left by an earlier publisher
            run = read_cursor(cursor)
            if run is not None:
                self.runs[run.uid] = run

    # ------------------------------------------------------------ RunEngine thread
    def add_run(self, run_uid: str, log: Path) -> OutboxRun:
        """A new run, its cursor written before anything is sent (a crash still finds it)."""
        run = OutboxRun(run_uid, log, self.state_dir / f"{run_uid}.json")
        write_cursor(run)
        with self.lock:
            self.runs[run_uid] = run
        return run

    def accept(self, run: OutboxRun, name: str, doc: dict[str, Any]) -> None:
        seq = run.known
        run.known = seq + 1
        if len(self.queue) < self.max_queued:
            self.queue.append(Item(run, seq, name, doc))
            run.last_queued = seq
        # else: the NATS thread finds run.known ahead of the queue and reads the log

    @property
    def pending(self) -> int:
        """Documents seen but not yet acknowledged (a run whose stop is acknowledged
        counts one until its cursor is removed)."""
        with self.lock:
            runs = self.runs.values()
            return sum(max(r.known + len(r.extra) - r.sent, r.stopped) for r in runs)

    def recover(self, log: Path, stop: dict[str, Any]) -> None:
        """Send the rest of a run that never stopped, then ``stop`` (see
        :meth:`Publisher.publish_recovered`)."""
        first: tuple[str, dict[str, Any]] | None = None
        count, last = 0, ""
        for record in iter_document_log(log):  # one line at a time: a long run is never held
            first = first or (record.name, record.doc)
            count, last = count + 1, record.name
        if first is None or first[0] != "start":
            raise DocumentLogError(
                f"document log {str(log)!r} does not begin with a start document"
            )
        uid = str(first[1]["uid"])
        cursor = self.state_dir / f"{uid}.json"
        with self.lock:
            run = self.runs.get(uid)
            if run is None:
                run = OutboxRun(uid, log, cursor)
                if cursor.exists():
                    run.sent = int(json.loads(cursor.read_text())["sent"])
                self.runs[uid] = run
            run.known = count
            if last != "stop":
                run.extra = [("stop", stop)]
        write_cursor(run)

    # ------------------------------------------------------------ NATS thread
    def next_batch(self) -> list[Item]:
        """The next documents to send, in order: those of the first run (in the order
        the runs started) with something unsent, from the queue when its next document
        is at the queue's head, else from its log. A batch holds one run's documents, so
        a later run never overtakes what an earlier one still has to send (its documents
        dropped from memory while the queue was full)."""
        while self.queue and self.queue[0].seq < self.queue[0].run.sent:
            self.queue.popleft()  # already sent from the log
        with self.lock:
            runs = list(self.runs.values())
        for run in runs:
            if run.sent < run.known:
                head = self.queue[0] if self.queue else None
                if head is not None and head.run is run and head.seq == run.sent:
                    return self._from_queue(run)
                return self._from_log(run, run.known)
            if run.extra and run.last_queued < run.sent:  # a recovered run's own stop
                name, doc = run.extra[0]
                return [Item(run, run.known, name, doc)]
        return []

    def _from_queue(self, run: OutboxRun) -> list[Item]:
        batch: list[Item] = []
        while self.queue and len(batch) < _BATCH:
            item = self.queue[0]
            if item.run is not run or item.seq != run.sent + len(batch):
                break
            batch.append(self.queue.popleft())
        return batch

    def _from_log(self, run: OutboxRun, upto: int) -> list[Item]:
        items: list[Item] = []
        for seq, record in enumerate(iter_document_log(run.log)):
            if seq >= run.sent:
                items.append(Item(run, seq, record.name, record.doc))
            if seq + 1 >= upto or len(items) >= _LOG_BATCH:
                break
        if not items:
            raise OSError(f"document log {run.log} has fewer than {upto} documents")
        return items

    def requeue(self, items: list[Item]) -> None:
        """Items not acknowledged go back in front of the queue, in order (a recovered
        stop stays in its run's ``extra``; documents read from a log are read again)."""
        for item in reversed(items):
            if item.run.last_queued >= item.seq:
                self.queue.appendleft(item)

    def acknowledged(self, items: list[Item]) -> None:
        """Move the runs of ``items`` on; a run whose stop is acknowledged is done."""
        touched: dict[str, OutboxRun] = {}
        for item in items:
            run = item.run
            if item.seq == run.sent:
                run.sent += 1
            if item.seq >= run.known and run.extra:  # a recovered stop
                run.extra.pop(0)
                run.known += 1
            if item.name == "stop":
                run.stopped = True
            touched[run.uid] = run
        now = time.monotonic()
        for run in touched.values():
            if run.stopped and run.sent >= run.known and not run.extra:
                run.cursor.unlink(missing_ok=True)
                self._unsaved.pop(run.uid, None)
                with self.lock:
                    self.runs.pop(run.uid, None)
            elif now - run.saved_at >= self.cursor_every:
                write_cursor(run)
                self._unsaved.pop(run.uid, None)
            else:
                self._unsaved[run.uid] = run

    def running(self) -> bool:
        """Whether a run started and its stop was not acknowledged yet."""
        with self.lock:
            return any(not run.stopped for run in self.runs.values())

    def save_cursors_older_than(self, seconds: float) -> None:
        """Write the lagging cursors last written more than ``seconds`` ago."""
        now = time.monotonic()
        for uid, run in list(self._unsaved.items()):
            if now - run.saved_at >= seconds:
                del self._unsaved[uid]
                write_cursor(run)

    def save_cursors(self) -> None:
        """Write the cursors that lag behind what JetStream acknowledged."""
        while self._unsaved:
            _, run = self._unsaved.popitem()
            write_cursor(run)
