"""Replay from the stream: register every run the stream holds (to rebuild a lost catalog)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

from ...callbacks import BusSettings
from ...writers.model import require
from ._connect import connect_bus
from ._stream import Register, RegisterMany, one_by_one, read_subjects
from ._wire import Documents, IncompleteRunError, RunAssembly

__all__ = ["StreamReplay", "replay_stream"]

logger = logging.getLogger(__name__)


@dataclass
class StreamReplay:
    """What :func:`replay_stream` did."""

    registered: list[str] = field(default_factory=list)
    """Run uids registered, in the order their stops are in the stream."""
    unfinished: list[str] = field(default_factory=list)
    """Runs with documents but no stop on the stream (still running, or their host
    crashed and was not recovered yet): not registered."""
    failed: dict[str, str] = field(default_factory=dict)
    """Run uid -> why it could not be registered."""
    messages: int = 0


def replay_stream(
    register: Register,
    bus: BusSettings,
    *,
    progress: Callable[[str], None] | None = None,
    connect_timeout: float = 30.0,
    register_many: RegisterMany | None = None,
    batch: int = 64,
) -> StreamReplay:
    """Read the whole stream from its start and ``register`` every run that stopped.

    Works for both wire formats (runs are put together by their ``run_id``
    header). Durable consumers are not touched: live workers go on as they were.
    A run that fails to register is reported in ``failed``; the others still go.
    With ``register_many``, runs go ``batch`` at a time (one catalog transaction
    each where it can) instead of one call of ``register`` each.
    ``progress`` is told each run registered (and, while NATS does not answer, that
    it waits: :class:`BusError` after ``connect_timeout`` seconds).
    """
    require("nats", "replaying a NATS stream")
    if register_many is None:
        register_many = partial(one_by_one, register)
    return asyncio.run(_replay(register_many, bus, progress, connect_timeout, max(batch, 1)))


async def _replay(
    register_many: RegisterMany,
    bus: BusSettings,
    progress: Callable[[str], None] | None,
    connect_timeout: float,
    batch: int,
) -> StreamReplay:
    report = StreamReplay()
    nc = await connect_bus(
        bus, timeout=connect_timeout, name="zarrscribe-replay", progress=progress
    )
    try:
        wires = await read_subjects(nc.jetstream(), bus.stream, bus.all_subjects)
    finally:
        await nc.close()
    report.messages = len(wires)
    runs: dict[str, RunAssembly] = {}
    done: set[str] = set()
    ready: list[tuple[str, Documents, str | None]] = []

    async def register_ready() -> None:
        try:
            outcomes: Sequence[Exception | None] = await asyncio.to_thread(
                register_many, [(docs, log) for _, docs, log in ready]
            )
        except Exception as e:
            outcomes = [e] * len(ready)
        for (uid, _, _), failed in zip(ready, outcomes, strict=True):
            if failed is not None:
                logger.error("replay of run %r from the stream failed: %s", uid, failed)
                report.failed[uid] = str(failed)
                continue
            report.registered.append(uid)
            if progress is not None:
                progress(uid)
        ready.clear()

    for wire in wires:
        if wire.run_uid in done:
            continue  # a document re-sent after its run was complete
        runs.setdefault(wire.run_uid, RunAssembly(wire.run_uid)).add(wire)
        if wire.name != "stop":
            continue
        assembly = runs.pop(wire.run_uid)
        done.add(wire.run_uid)
        try:
            documents = assembly.documents()
        except IncompleteRunError as e:
            logger.error("replay of run %r from the stream failed: %s", wire.run_uid, e)
            report.failed[wire.run_uid] = str(e)
            continue
        ready.append((wire.run_uid, documents, assembly.log))
        if len(ready) >= batch:
            await register_ready()
    if ready:
        await register_ready()
    report.unfinished = list(runs)
    return report
