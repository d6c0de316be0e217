"""`Worker`: registers the runs published on a JetStream stream, each exactly once.

Our format: a durable work-queue consumer on the stop subjects
(``<prefix>.*.*.stop``) shared by every worker. The worker that gets a stop
reads that run's documents with a short-lived consumer filtered on the run's
subjects, calls ``register(documents, log=...)``, and acknowledges the stop only after
it returned; while it registers it tells JetStream it is still working, so the
stop is not handed to another worker. A worker killed before the
acknowledgement leaves the stop to be redelivered (after ``ack_wait``) to the
next worker, which registers the run again — an idempotent replace keyed by run
uid, so the catalog holds it once.

bluesky-nats format: one durable consumer over ``<prefix>.>``; runs are put
together by their ``run_id`` header, and every message of a run is
acknowledged after the run is registered. Run one worker per such stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ...callbacks import BusSettings
from ...writers.model import require
from ._connect import connect_bus
from ._wire import Documents, IncompleteRunError, RunAssembly, WireFormat, decode

if TYPE_CHECKING:
    from nats.js.api import ConsumerConfig

__all__ = ["Register", "Worker", "WorkerSettings"]

logger = logging.getLogger(__name__)

_MAX_TRIES = 20
"""Deliveries of a stop whose run has a gap on the bus before the worker gives up on it."""


class Register(Protocol):
    """Registers one run from its documents (an idempotent replace keyed by run uid);
    ``log`` is the path of the run's document log on the publishing host, when the
    publisher said (our wire format does, in the start document's headers)."""

    def __call__(self, documents: Documents, /, *, log: str | None = None) -> None: ...


@dataclass(frozen=True)
class WorkerSettings:
    """How a worker consumes the stream."""

    durable: str = "zarrscribe-catalog"
    """Durable consumer name; workers with the same name share the load."""
    wire: WireFormat = "zarrscribe"
    """``zarrscribe`` (our publisher) or ``bluesky-nats`` (``<prefix>.<name>`` subjects)."""
    ack_wait: float = 30.0
    """Seconds without word from a worker before its run goes to another worker."""
    retry_delay: float = 5.0
    """Seconds before a run whose registration failed is tried again."""
    fetch_timeout: float = 1.0
    """Seconds one wait for new messages lasts."""
    connect_timeout: float = 30.0
    """Seconds to wait for NATS at start before giving up (:class:`BusError`); once
    connected, a lost connection is retried without limit."""


class Worker:
    """A catalog worker: ``run()`` blocks, registering every run as it stops.

    Parameters
    ----------
    register:
        Called with each run's documents, in order, and its log's path (``log=``)
        off the event loop; an
        exception leaves the run to be retried after ``retry_delay``.
    bus:
        The stream and subjects the publisher uses (only ``servers``, ``stream``
        and ``prefix`` matter here).
    settings:
        Consumer settings.
    progress:
        Told a line now and then while the worker waits for NATS at start.
    """

    def __init__(
        self,
        register: Register,
        bus: BusSettings,
        settings: WorkerSettings | None = None,
        *,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        require("nats", "a catalog worker")
        self.register = register
        self.bus = bus
        self.settings = settings or WorkerSettings()
        self.progress = progress
        self.registered: list[str] = []
        """Run uids this worker registered, in order."""
        self._stop = threading.Event()
        self._running: tuple[asyncio.AbstractEventLoop, asyncio.Task[None]] | None = None

    def stop(self) -> None:
        """Make :meth:`run` return soon, whatever it waits for (NATS at start, new
        messages, a registration); thread- and signal-safe.

        A registration in hand is not acknowledged: its thread finishes writing (the
        catalog holds the run whole or not at all) and JetStream hands the run to a
        worker again after ``ack_wait``, which replaces the entry (once in the catalog).
        """
        self._stop.set()
        running = self._running
        if running is not None:
            loop, task = running
            with contextlib.suppress(RuntimeError):  # the loop has just closed
                loop.call_soon_threadsafe(task.cancel)

    def run(self, max_runs: int | None = None) -> int:
        """Consume until :meth:`stop` (or ``max_runs`` registered); returns runs registered.
        Raises :class:`BusError` when NATS does not answer within ``connect_timeout``."""
        asyncio.run(self._main(max_runs))
        return len(self.registered)

    async def _main(self, max_runs: int | None) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._running = (asyncio.get_running_loop(), task)
        try:
            if not self._stop.is_set():
                await self._connected(max_runs)
        except asyncio.CancelledError:
            if not self._stop.is_set():
                raise
        finally:
            self._running = None

    async def _connected(self, max_runs: int | None) -> None:
        nc = await connect_bus(
            self.bus,
            timeout=self.settings.connect_timeout,
            name=f"zarrscribe-worker-{self.settings.durable}",
            progress=self.progress,
        )
        try:
            js = nc.jetstream()
            await self.bus.ensure_stream(js)
            if self.settings.wire == "zarrscribe":
                await self._consume_stops(js, max_runs)
            else:
                await self._consume_all(js, max_runs)
        finally:
            await nc.close()

    def _done(self, max_runs: int | None) -> bool:
        return self._stop.is_set() or (max_runs is not None and len(self.registered) >= max_runs)

    def _consumer_config(self, **extra: Any) -> ConsumerConfig:
        """The durable consumer workers share: explicit acks, from the stream's start,
        redelivered without limit after ``ack_wait``; ``extra`` adds further settings."""
        from nats.js import api

        return api.ConsumerConfig(
            durable_name=self.settings.durable,
            ack_policy=api.AckPolicy.EXPLICIT,
            deliver_policy=api.DeliverPolicy.ALL,
            ack_wait=self.settings.ack_wait,
            max_deliver=-1,
            **extra,
        )

    # ------------------------------------------------------------ our format
    async def _consume_stops(self, js: Any, max_runs: int | None) -> None:
        from nats.errors import TimeoutError as NatsTimeout

        sub = await js.pull_subscribe(
            self.bus.stop_subjects,
            durable=self.settings.durable,
            stream=self.bus.stream,
            config=self._consumer_config(max_ack_pending=10_000),
        )
        while not self._done(max_runs):
            try:
                msgs = await sub.fetch(1, timeout=self.settings.fetch_timeout)
            except (TimeoutError, NatsTimeout):
                continue
            for msg in msgs:
                await self._handle_stop(js, msg)

    async def _handle_stop(self, js: Any, msg: Any) -> None:
        tokens = msg.subject.split(".")
        instrument, run_uid = tokens[-3], tokens[-2]
        try:
            assembly = RunAssembly(run_uid)
            for wire in await read_subjects(
                js, self.bus.stream, self.bus.run_subjects(run_uid, instrument)
            ):
                assembly.add(wire)
            documents = assembly.documents()
        except IncompleteRunError as e:
            if msg.metadata.num_delivered >= _MAX_TRIES:
                logger.error("%s; given up after %d tries", e, _MAX_TRIES)
                await msg.term()
            else:
                logger.warning("%s; trying again in %.0f s", e, self.settings.retry_delay)
                await msg.nak(delay=self.settings.retry_delay)
            return
        if await self._register(run_uid, documents, [msg], assembly.log):
            await msg.ack_sync()
            self.registered.append(run_uid)
        else:
            await msg.nak(delay=self.settings.retry_delay)

    async def _register(
        self, run_uid: str, documents: Documents, held: list[Any], log: str | None
    ) -> bool:
        """Call ``register`` off the loop while telling JetStream the messages are in hand."""

        async def keep_alive() -> None:
            while True:
                await asyncio.sleep(self.settings.ack_wait / 3)
                for m in held:
                    await m.in_progress()

        beat = asyncio.create_task(keep_alive())
        try:
            await asyncio.to_thread(self.register, documents, log=log)
        except Exception:
            logger.exception("registering run %r failed; it will be retried", run_uid)
            return False
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat
        logger.info("registered run %s (%d documents)", run_uid, len(documents))
        return True

    # ------------------------------------------------------------ bluesky-nats format
    async def _consume_all(self, js: Any, max_runs: int | None) -> None:
        from nats.errors import TimeoutError as NatsTimeout

        sub = await js.pull_subscribe(
            self.bus.all_subjects,
            durable=self.settings.durable,
            stream=self.bus.stream,
            # a run's messages stay unacknowledged until it is registered
            config=self._consumer_config(max_ack_pending=-1),
        )
        runs: dict[str, tuple[RunAssembly, list[Any]]] = {}
        loop = asyncio.get_running_loop()
        last_beat = loop.time()
        while not self._done(max_runs):
            if loop.time() - last_beat > self.settings.ack_wait / 3:  # held messages stay ours
                for _, held in runs.values():
                    for m in held:
                        await m.in_progress()
                last_beat = loop.time()
            try:
                msgs = await sub.fetch(256, timeout=self.settings.fetch_timeout)
            except (TimeoutError, NatsTimeout):
                continue
            for msg in msgs:
                wire = decode(msg)
                if wire is None:
                    await msg.term()  # never a document: do not hand it out again
                    continue
                assembly, held = runs.setdefault(wire.run_uid, (RunAssembly(wire.run_uid), []))
                assembly.add(wire)
                held.append(msg)
                if wire.name != "stop":
                    continue
                try:
                    documents = assembly.documents()
                except IncompleteRunError as e:
                    logger.error("%s; acknowledging its messages without registering", e)
                    documents = None
                if documents is None or await self._register(
                    wire.run_uid, documents, held, assembly.log
                ):
                    for m in held:
                        await m.ack()
                    del runs[wire.run_uid]
                    if documents is not None:
                        self.registered.append(wire.run_uid)
                else:
                    for m in held:
                        await m.nak(delay=self.settings.retry_delay)
                    del runs[wire.run_uid]


async def read_subjects(js: Any, stream: str, subjects: str) -> list[Any]:
    """Every message of ``stream`` on ``subjects`` now, decoded, through a short-lived consumer."""
    from nats.js import api

    config = api.ConsumerConfig(
        ack_policy=api.AckPolicy.NONE,
        deliver_policy=api.DeliverPolicy.ALL,
        inactive_threshold=30.0,
        mem_storage=True,
    )
    sub = await js.pull_subscribe(subjects, stream=stream, config=config)
    name: str | None = None
    try:
        info = await sub.consumer_info()
        name, total = info.name, int(info.num_pending)
        out: list[Any] = []
        while len(out) < total:
            for msg in await sub.fetch(min(total - len(out), 1024), timeout=5.0):
                out.append(msg)
        decoded = [decode(m) for m in out]
        return [w for w in decoded if w is not None]
    finally:
        await sub.unsubscribe()
        if name is not None:
            with contextlib.suppress(Exception):
                await js.delete_consumer(stream, name)
