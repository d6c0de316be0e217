"""Replay from the stream: register every run the stream holds (to rebuild a lost catalog)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from ...callbacks import BusSettings
from ...writers.model import require
from ._connect import connect_bus
from ._wire import RunAssembly
from ._worker import Register, read_subjects

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
) -> StreamReplay:
    """Read the whole stream from its start and ``register`` every run that stopped.

    Works for both wire formats (runs are put together by their ``run_id``
    header). Durable consumers are not touched: live workers go on as they were.
    A run that fails to register is reported in ``failed``; the others still go.
    ``progress`` is told each run registered (and, while NATS does not answer, that
    it waits: :class:`BusError` after ``connect_timeout`` seconds).
    """
    require("nats", "replaying a NATS stream")
    return asyncio.run(_replay(register, bus, progress, connect_timeout))


async def _replay(
    register: Register,
    bus: BusSettings,
    progress: Callable[[str], None] | None,
    connect_timeout: float,
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
            await asyncio.to_thread(register, documents, log=assembly.log)
        except Exception as e:  # IncompleteRunError or whatever register raised
            logger.error("replay of run %r from the stream failed: %s", wire.run_uid, e)
            report.failed[wire.run_uid] = str(e)
            continue
        report.registered.append(wire.run_uid)
        if progress is not None:
            progress(wire.run_uid)
    report.unfinished = list(runs)
    return report
