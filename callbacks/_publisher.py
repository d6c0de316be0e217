"""`Publisher`: every document of every run to NATS JetStream, with the run's log as outbox.

The RunEngine thread only appends the document to an in-memory queue (a few
microseconds; it wakes the publisher only when the publisher is parked with
nothing to do). A thread of its own runs the asyncio NATS client: it sends what
was queued at most once per linger window (50 ms), as one batch of
``publish_async`` calls with one wait for the acknowledgements, so it takes the
GIL a few times per second, not once per document. After each acknowledged batch
it moves the run's cursor (a small JSON file per run in ``state_dir``: the log,
how many of its documents are sent) at most once a second (``cursor_every``),
and at once when the run's stop is acknowledged (the cursor is removed), when
NATS fails, and at close. A cursor that lags only makes a publisher that starts
again send a few documents twice: JetStream drops them (same ``Nats-Msg-Id``
within its duplicate window) and the workers put runs together by position.
While NATS is down (or the queue is full) documents are not held in memory: the
run's document log already has them, and they are sent from the log, in order,
when NATS is back. A publisher that starts finds the cursors left behind and
sends the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..writers.model import require
from ._bus import (
    LOG_HEADER,
    MSG_ID_HEADER,
    RUN_HEADER,
    SEQ_HEADER,
    BusSettings,
    encode_document,
    message_id,
)
from ._outbox import Outbox, OutboxRun

__all__ = ["Publisher"]

logger = logging.getLogger(__name__)


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
        Servers, stream and subjects; how long documents linger, how often cursors
        are written.
    max_queued:
        Documents held in memory while NATS is slow or down; past that they are
        read back from the logs when it returns.
    ack_timeout:
        Seconds to wait for JetStream to acknowledge a batch before it counts as
        failed (and is sent again).
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
        self._outbox = Outbox(
            Path(state_dir), max_queued=max_queued, cursor_every=self.settings.cursor_every
        )
        self._ack_timeout = ack_timeout
        self._parked = False  # the NATS thread waits for a wake-up (nothing to send)
        self._hurry = 0  # flushes waiting: send without lingering
        self._closing = False
        self._connected = False
        self.published = 0
        """Documents acknowledged by JetStream since this publisher started."""
        self.batches = 0
        """Batches sent since this publisher started (each one wake-up of its thread)."""
        self.wakeups = 0
        """Times another thread woke the NATS thread (a run's first document, flushes)."""
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
        run = self._outbox.add_run(run_uid, Path(log).absolute())

        def publish(name: str, doc: dict[str, Any]) -> None:
            try:
                self._accept(run, name, doc)
            except Exception:  # never into the RunEngine: the log still has the document
                logger.exception("publisher could not take a %s document", name)

        return publish

    def _accept(self, run: OutboxRun, name: str, doc: dict[str, Any]) -> None:
        self._outbox.accept(run, name, doc)
        if self._parked:  # else the NATS thread comes by itself within the linger window
            self._kick()

    # ------------------------------------------------------------ public API
    @property
    def connected(self) -> bool:
        """Whether the NATS connection is up right now."""
        return self._connected

    @property
    def pending(self) -> int:
        """Documents seen but not yet acknowledged by JetStream."""
        return self._outbox.pending

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every document seen is acknowledged (sent without lingering
        meanwhile); ``False`` on timeout."""
        deadline = time.monotonic() + timeout
        with self._outbox.lock:
            self._hurry += 1
        try:
            self._kick()
            while self.pending:
                if time.monotonic() > deadline or not self._thread.is_alive():
                    return False
                time.sleep(0.005)
            return True
        finally:
            with self._outbox.lock:
                self._hurry -= 1

    def publish_recovered(self, log: str | Path, stop: dict[str, Any]) -> None:
        """Send a run that never stopped: the rest of its log, then ``stop``.

        ``stop`` is the stop document a replay made for the run (exit status
        ``incomplete``; give it a deterministic uid so sending it twice is
        harmless). It is kept in the run's cursor until acknowledged. If the log
        already ends with a stop document, only the rest of the log is sent.
        """
        self._outbox.recover(Path(log).absolute(), stop)
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

    # ------------------------------------------------------------ NATS thread
    def _kick(self) -> None:
        """Wake the NATS thread (from any thread)."""
        self._parked = False
        self.wakeups += 1
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
                    await self._send_some(nc, js)  # one batch per linger window
                    failing = False
                except Exception as e:
                    self._outbox.save_cursors()  # what was acknowledged, for a restart
                    if not failing:
                        logger.warning(
                            "publisher: NATS unavailable (%s); sending from the logs later", e
                        )
                    failing = True
                    if self._closing:
                        break  # the rest stays in the logs, for the next publisher
                    await self._wait(1.0)
                    continue
                if self._closing and not self.pending:
                    break
                await self._wait_for_documents()
        finally:
            with contextlib.suppress(Exception):
                self._outbox.save_cursors()
            with contextlib.suppress(Exception):
                await nc.close()

    async def _wait(self, seconds: float) -> bool:
        """Wait ``seconds`` or until woken; whether woken."""
        woken = True
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except TimeoutError:
            woken = False
        self._wake.clear()
        return woken

    async def _wait_for_documents(self) -> None:
        """Linger while documents come in, or a run goes on; park (woken by the next
        document) when no run does. Within a run the RunEngine thread never wakes this
        one: each wake-up hands it the GIL in the middle of the RunEngine's work."""
        if self._outbox.queue or self.pending:  # more came while the batch was sent
            if not self._hurry:
                await self._wait(self.settings.linger)
            return
        if self._outbox.running():  # documents are coming: look again after the linger
            if not await self._wait(self.settings.linger):
                self._outbox.save_cursors_older_than(self.settings.cursor_every)
            return
        self._parked = True  # then look again: a document queued meanwhile is seen
        if self._outbox.queue or self.pending or self._closing:
            self._parked = False
            return
        if not await self._wait(self.settings.cursor_every):
            self._parked = False
            self._outbox.save_cursors()  # quiet for a while: cursors catch up
            return
        if not self._hurry and not self._closing:
            await self._wait(self.settings.linger)  # gather what comes with the first document

    async def _send_some(self, nc: Any, js: Any) -> bool:
        if not nc.is_connected:
            raise ConnectionError("not connected")
        batch = self._outbox.next_batch()
        if not batch:
            return False
        self.batches += 1
        futures = []
        try:
            for item in batch:
                headers = {
                    RUN_HEADER: item.run.uid,
                    SEQ_HEADER: str(item.seq),
                    MSG_ID_HEADER: message_id(item.run.uid, item.name, item.seq, item.doc),
                }
                if item.seq == 0:
                    headers[LOG_HEADER] = str(item.run.log)
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
            self._outbox.requeue(batch)
            raise
        ok = 0
        for result in done:
            if isinstance(result, BaseException):
                break
            ok += 1
        self._outbox.acknowledged(batch[:ok])
        self.published += ok
        if ok < len(batch):
            self._outbox.requeue(batch[ok:])
            raise ConnectionError(f"{len(batch) - ok} documents not acknowledged: {done[ok]}")
        return True
