"""`Publisher`: every document of every run to NATS JetStream, with the run's log as outbox.

The RunEngine thread only appends the document to an in-memory queue (a few
microseconds). A thread of its own runs the asyncio NATS client, publishes in
order, and after each acknowledged batch moves the run's cursor (a small JSON
file per run in ``state_dir``: the log, how many of its documents are sent).
While NATS is down (or the queue is full) documents are not held in memory: the
run's document log already has them, and they are sent from the log, in order,
when NATS is back. A cursor is removed once the run's stop is acknowledged; a
publisher that starts finds the cursors left behind and sends the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..writers.model import require
from ._bus import MSG_ID_HEADER, RUN_HEADER, SEQ_HEADER, BusSettings, encode_document, message_id
from ._errors import DocumentLogError
from ._log import iter_document_log
from ._outbox import OutboxRun, read_cursor, write_cursor

__all__ = ["Publisher"]

logger = logging.getLogger(__name__)

_BATCH = 256
_LOG_BATCH = 2048
_LINGER = 0.005


@dataclass
class _Item:
    run: OutboxRun
    seq: int
    name: str
    doc: dict[str, Any]


class Publisher:
    """Publishes every document of every run to JetStream, through one stage per run
    (:meth:`stage`, which the pipeline puts right after the run's document log).

    It never raises into the RunEngine and never waits for NATS; it reads a run's
    log when it has to catch up.

    Parameters
    ----------
    state_dir:
        Folder for the per-run cursors (e.g. ``<base_dir>/.zarrscribe/outbox``).
    settings:
        Servers, stream and subjects.
    max_queued:
        Documents held in memory while NATS is slow or down; past that they are
        read back from the logs when it returns.
    """

    def __init__(
        self,
        state_dir: str | Path,
        settings: BusSettings | None = None,
        *,
        max_queued: int = 100_000,
        ack_timeout: float = 5.0,
    ) -> None:
        require("nats", "publishing documents to NATS")
        self.settings = settings or BusSettings()
        self._state_dir = Path(state_dir)
        self._state_dir.mkdir(parents=True, exist_ok=True)
        self._max_queued = max_queued
        self._ack_timeout = ack_timeout
        self._queue: deque[_Item] = deque()
        self._runs: dict[str, OutboxRun] = {}
        self._lock = threading.Lock()  # guards _runs membership (both threads)
        self._idle = threading.Event()
        self._closing = False
        self._connected = False
        self.published = 0
        """Documents acknowledged by JetStream since this publisher started."""
        for cursor in sorted(self._state_dir.glob("*.json")):
            self._resume(cursor)
        self._loop = asyncio.new_event_loop()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None]
        self._thread = threading.Thread(target=self._thread_main, name="nats-publisher")
        self._thread.daemon = True
        self._thread.start()

    # ------------------------------------------------------------ RunEngine thread
    def stage(self, run_uid: str, log: Path) -> Callable[[str, dict[str, Any]], None]:
        """The stage that publishes the documents of run ``run_uid``, logged in ``log``
        (the pipeline routes each run's documents to its own stages)."""
        run = OutboxRun(run_uid, Path(log), self._state_dir / f"{run_uid}.json")
        self._write_cursor(run)  # before anything is sent: a crash still finds the run
        with self._lock:
            self._runs[run_uid] = run

        def publish(name: str, doc: dict[str, Any]) -> None:
            try:
                self._accept(run, name, doc)
            except Exception:  # never into the RunEngine: the log still has the document
                logger.exception("publisher could not take a %s document", name)

        return publish

    def _accept(self, run_: OutboxRun, name: str, doc: dict[str, Any]) -> None:
        seq = run_.known
        run_.known = seq + 1
        if len(self._queue) < self._max_queued:
            self._queue.append(_Item(run_, seq, name, doc))
            run_.last_queued = seq
        # else: the NATS thread finds run_.known ahead of the queue and reads the log
        if self._idle.is_set():
            self._idle.clear()
            self._loop.call_soon_threadsafe(self._wake.set)

    # ------------------------------------------------------------ public API
    @property
    def connected(self) -> bool:
        """Whether the NATS connection is up right now."""
        return self._connected

    @property
    def pending(self) -> int:
        """Documents seen but not yet acknowledged by JetStream."""
        with self._lock:
            return sum(r.known + len(r.extra) - r.sent for r in self._runs.values())

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every document seen is acknowledged; ``False`` on timeout."""
        deadline = time.monotonic() + timeout
        while self.pending:
            if time.monotonic() > deadline or not self._thread.is_alive():
                return False
            time.sleep(0.01)
        return True

    def publish_recovered(self, log: str | Path, stop: dict[str, Any]) -> None:
        """Send a run that never stopped: the rest of its log, then ``stop``.

        ``stop`` is the stop document a replay made for the run (exit status
        ``incomplete``; give it a deterministic uid so sending it twice is
        harmless). It is kept in the run's cursor until acknowledged. If the log
        already ends with a stop document, only the rest of the log is sent.
        """
        log = Path(log)
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
        cursor = self._state_dir / f"{uid}.json"
        with self._lock:
            run = self._runs.get(uid)
            if run is None:
                run = OutboxRun(uid, log, cursor)
                if cursor.exists():
                    run.sent = int(json.loads(cursor.read_text())["sent"])
                self._runs[uid] = run
            run.known = count
            if last != "stop":
                run.extra = [("stop", stop)]
        self._write_cursor(run)
        self._kick()

    def close(self, timeout: float = 10.0) -> bool:
        """Send what is pending (up to ``timeout`` s), then disconnect.

        Returns whether everything was sent; what was not stays in the logs and
        cursors and is sent by the next publisher on the same ``state_dir``.
        """
        done = self.flush(timeout)
        self._closing = True
        self._kick()
        self._thread.join(timeout=2.0)
        if self._thread.is_alive():  # NATS unreachable: stop trying
            with contextlib.suppress(RuntimeError, AttributeError):
                self._loop.call_soon_threadsafe(self._task.cancel)
            self._thread.join(timeout=5.0)
        return done

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ cursors
    def _resume(self, cursor: Path) -> None:
        run = read_cursor(cursor)
        if run is not None:
            self._runs[run.uid] = run

    def _write_cursor(self, run: OutboxRun) -> None:
        write_cursor(run)

    # ------------------------------------------------------------ NATS thread
    def _kick(self) -> None:
        self._idle.clear()
        with contextlib.suppress(RuntimeError):  # loop already closed
            self._loop.call_soon_threadsafe(self._wake.set)

    def _thread_main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._task = self._loop.create_task(self._main())
        try:
            self._loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        finally:
            self._loop.close()

    async def _main(self) -> None:
        import nats

        async def quiet(e: Exception) -> None:
            logger.debug("NATS: %s", e)

        async def up() -> None:
            self._connected = True

        async def down() -> None:
            self._connected = False

        try:
            nc = await nats.connect(
                self.settings.server_list,
                connect_timeout=2,
                reconnect_time_wait=1,
                max_reconnect_attempts=-1,  # also keeps trying the first connection
                error_cb=quiet,
                reconnected_cb=up,
                disconnected_cb=down,
                name=f"zarrscribe-publisher-{self.settings.instrument}",
            )
        except asyncio.CancelledError:
            return
        self._connected = True
        js = nc.jetstream()
        ready = failing = False
        try:
            while True:
                try:
                    if not ready:
                        await self.settings.ensure_stream(js)
                        ready = True
                    progressed = await self._send_some(nc, js)
                    failing = False
                except Exception as e:
                    if not failing:
                        logger.warning(
                            "publisher: NATS unavailable (%s); sending from the logs later", e
                        )
                    failing = True
                    await self._sleep(1.0)
                    continue
                if self._closing and not self.pending:
                    break
                if not progressed:
                    if self._closing:
                        break
                    await self._sleep(None)
        finally:
            with contextlib.suppress(Exception):
                await nc.close()

    async def _sleep(self, seconds: float | None) -> None:
        """Wait for new documents (or ``seconds``)."""
        self._idle.set()
        if seconds is None and self.pending and not self._closing:
            seconds = 0.05  # a document came in between the last look and now
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()
        self._idle.clear()
        if seconds is None and not self._closing:
            # Linger to send the documents of the next few milliseconds as one batch:
            # one wake-up per document would contend with the RunEngine for the GIL.
            await asyncio.sleep(_LINGER)

    def _next_batch(self) -> list[_Item]:
        """The next documents to send, in order: from the queue, or from a run's log."""
        with self._lock:
            runs = list(self._runs.values())
        for run in runs:  # runs with nothing queued but something unsent: the log has it
            if run.last_queued < run.sent < run.known:
                return self._from_log(run, run.known)
            if run.last_queued < run.sent == run.known and run.extra:
                name, doc = run.extra[0]
                return [_Item(run, run.known, name, doc)]
        if not self._queue:
            return []
        head = self._queue[0]
        if head.seq > head.run.sent:  # dropped from memory (queue full): from the log
            return self._from_log(head.run, head.seq)
        batch: list[_Item] = []
        expected: dict[str, int] = {}
        while self._queue and len(batch) < _BATCH:
            item = self._queue[0]
            next_seq = expected.get(item.run.uid, item.run.sent)
            if item.seq > next_seq:
                break  # a gap before it: the log's part goes first (next call)
            self._queue.popleft()
            if item.seq == next_seq:
                batch.append(item)
                expected[item.run.uid] = next_seq + 1
        return batch

    def _from_log(self, run: OutboxRun, upto: int) -> list[_Item]:
        items: list[_Item] = []
        for seq, record in enumerate(iter_document_log(run.log)):
            if seq >= run.sent:
                items.append(_Item(run, seq, record.name, record.doc))
            if seq + 1 >= upto or len(items) >= _LOG_BATCH:
                break
        if not items:
            raise OSError(f"document log {run.log} has fewer than {upto} documents")
        return items

    async def _send_some(self, nc: Any, js: Any) -> bool:
        if not nc.is_connected:
            raise ConnectionError("not connected")
        batch = self._next_batch()
        if not batch:
            return False
        futures = []
        try:
            for item in batch:
                headers = {
                    RUN_HEADER: item.run.uid,
                    SEQ_HEADER: str(item.seq),
                    MSG_ID_HEADER: message_id(item.run.uid, item.name, item.seq, item.doc),
                }
                futures.append(
                    await js.publish_async(
                        self.settings.subject(item.run.uid, item.name),
                        encode_document(item.doc),
                        headers=headers,
                    )
                )
            done = await asyncio.wait_for(
                asyncio.gather(*futures, return_exceptions=True), self._ack_timeout
            )
        except BaseException:
            for f in futures:
                f.cancel()
            self._requeue(batch)
            raise
        ok = 0
        for result in done:
            if isinstance(result, BaseException):
                break
            ok += 1
        self._acknowledged(batch[:ok])
        if ok < len(batch):
            self._requeue(batch[ok:])
            raise ConnectionError(f"{len(batch) - ok} documents not acknowledged: {done[ok]}")
        return True

    def _requeue(self, items: list[_Item]) -> None:
        """Items not acknowledged go back in front of the queue, in order (a recovered
        stop stays in its run's ``extra``; documents read from a log are read again)."""
        for item in reversed(items):
            if item.run.last_queued >= item.seq:
                self._queue.appendleft(item)

    def _acknowledged(self, items: list[_Item]) -> None:
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
            self.published += 1
        for run in touched.values():
            if run.stopped and run.sent >= run.known and not run.extra:
                run.cursor.unlink(missing_ok=True)
                with self._lock:
                    self._runs.pop(run.uid, None)
            else:
                self._write_cursor(run)
