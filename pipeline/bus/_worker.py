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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...callbacks import BusSettings
from ...writers.model import require
from ._connect import connect_bus
from ._stream import Register, RegisterMany, Stop, one_by_one, read_subjects
from ._wire import Documents, IncompleteRunError, RunAssembly, WireFormat, decode

if TYPE_CHECKING:
    from nats.js.api import ConsumerConfig

__all__ = ["Register", "RegisterMany", "Worker", "WorkerSettings"]

logger = logging.getLogger(__name__)

_MAX_TRIES = 20
"""Deliveries of a stop whose run has a gap on the bus before the worker gives up on it."""


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
    batch: int = 64
    """Most stops taken at once (our format): their runs are read from the stream
    together and registered in one call of ``register_many``."""


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
    register_many:
        Registers a batch of runs at once (our format: the runs whose stops came
        together, up to ``settings.batch``); without it, ``register`` is called for
        each. A stop is acknowledged once its run is registered; a run that failed
        is tried again after ``retry_delay``, the others of its batch acknowledged.
    """

    def __init__(
        self,
        register: Register,
        bus: BusSettings,
        settings: WorkerSettings | None = None,
        *,
        progress: Callable[[str], None] | None = None,
        register_many: RegisterMany | None = None,
    ) -> None:
        require("nats", "a catalog worker")
        self.register = register
        self.register_many = register_many
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
        """Take the stops that are there (up to ``batch``), read their runs, register
        them together; the next batch is fetched and read while one registers."""
        sub = await js.pull_subscribe(
            self.bus.stop_subjects,
            durable=self.settings.durable,
            stream=self.bus.stream,
            config=self._consumer_config(max_ack_pending=10_000),
        )
        # stops in hand (by id): JetStream is told they are being worked on
        held: dict[int, Any] = {}
        beat = asyncio.create_task(self._keep_alive(held))
        ahead: asyncio.Task[list[Stop]] | None = None
        try:
            while not self._done(max_runs):
                batch = await (ahead or self._next_stops(js, sub, held, self._room(max_runs)))
                ahead = None
                if not batch:
                    continue
                room = self._room(max_runs, len(batch))
                if room > 0 and not self._stop.is_set():
                    ahead = asyncio.create_task(self._next_stops(js, sub, held, room))
                await self._register_stops(batch, held)
        finally:
            for task in (ahead, beat):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task

    def _room(self, max_runs: int | None, in_hand: int = 0) -> int:
        """How many stops to take now."""
        if max_runs is None:
            return self.settings.batch
        return min(self.settings.batch, max_runs - len(self.registered) - in_hand)

    async def _keep_alive(self, held: dict[int, Any]) -> None:
        while True:
            await asyncio.sleep(self.settings.ack_wait / 3)
            for m in list(held.values()):
                with contextlib.suppress(Exception):  # acknowledged meanwhile
                    await m.in_progress()

    async def _next_stops(self, js: Any, sub: Any, held: dict[int, Any], n: int) -> list[Stop]:
        """Up to ``n`` stops (those there now; else the first to come within
        ``fetch_timeout``), each with its run's documents read from the stream; a run
        with a gap is left for later (or given up on) here."""
        from nats.errors import TimeoutError as NatsTimeout

        try:
            msgs = await sub.fetch(max(n, 1), timeout=self.settings.fetch_timeout)
        except (TimeoutError, NatsTimeout):
            return []
        held.update((id(m), m) for m in msgs)
        limit = asyncio.Semaphore(16)  # reads in flight on the connection

        async def read(msg: Any) -> Stop | None:
            tokens = msg.subject.split(".")
            instrument, run_uid = tokens[-3], tokens[-2]
            try:
                assembly = RunAssembly(run_uid)
                async with limit:
                    wires = await read_subjects(
                        js, self.bus.stream, self.bus.run_subjects(run_uid, instrument)
                    )
                for wire in wires:
                    assembly.add(wire)
                return Stop(msg, run_uid, assembly.documents(), assembly.log)
            except Exception as e:  # a gap in the run (or NATS did not answer in time)
                held.pop(id(msg), None)
                with contextlib.suppress(Exception):  # else it comes back after ack_wait
                    if isinstance(e, IncompleteRunError) and (
                        msg.metadata.num_delivered >= _MAX_TRIES
                    ):
                        logger.error("%s; given up after %d tries", e, _MAX_TRIES)
                        await msg.term()
                    else:
                        why = (
                            e
                            if isinstance(e, IncompleteRunError)
                            else f"reading run {run_uid!r}: {e!r}"
                        )
                        logger.warning(
                            "%s; trying again in %.0f s", why, self.settings.retry_delay
                        )
                        await msg.nak(delay=self.settings.retry_delay)
                return None

        return [stop for stop in await asyncio.gather(*map(read, msgs)) if stop is not None]

    async def _register_stops(self, batch: list[Stop], held: dict[int, Any]) -> None:
        """Register the runs of ``batch``; acknowledge the stop of each registered (after
        its registration returned), hand the others back for ``retry_delay``."""
        outcomes = await self._register_batch([(s.documents, s.log) for s in batch])
        acks = []
        for stop, failed in zip(batch, outcomes, strict=True):
            if failed is None:
                acks.append(stop.msg.ack_sync())
            else:
                logger.error(
                    "registering run %r failed (%s); it will be retried",
                    stop.run_uid,
                    failed,
                    exc_info=failed,
                )
                acks.append(stop.msg.nak(delay=self.settings.retry_delay))
        answers = await asyncio.gather(*acks, return_exceptions=True)
        for stop, failed, answer in zip(batch, outcomes, answers, strict=True):
            held.pop(id(stop.msg), None)
            if failed is None and not isinstance(answer, BaseException):
                self.registered.append(stop.run_uid)
                logger.info("registered run %s (%d documents)", stop.run_uid, len(stop.documents))
            elif isinstance(answer, BaseException):  # registered; its stop comes again
                logger.warning("acknowledging run %r failed: %s", stop.run_uid, answer)

    async def _register_batch(
        self, runs: list[tuple[Documents, str | None]]
    ) -> Sequence[Exception | None]:
        """``register_many`` (else ``register`` run by run) off the loop."""
        if self.register_many is not None:
            try:
                outcomes = await asyncio.to_thread(self.register_many, runs)
            except Exception as e:  # none of them is known to be registered
                return [e] * len(runs)
            if len(outcomes) != len(runs):
                wrong = RuntimeError(f"{len(outcomes)} outcomes for {len(runs)} runs")
                return [wrong] * len(runs)
            return outcomes

        return await asyncio.to_thread(one_by_one, self.register, runs, self._stop.is_set)

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
