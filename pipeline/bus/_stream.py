"""Reading runs from a JetStream stream, and the registration callables of the
catalog workers (:class:`Register`, :class:`RegisterMany`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ._wire import Documents, decode

__all__ = ["Register", "RegisterMany", "Stop", "one_by_one", "read_subjects"]


class RegisterMany(Protocol):
    """Registers several runs at once (``(documents, log)`` each), in one catalog
    transaction where it can; one outcome per run, in order: ``None`` when it is in the
    catalog, else the exception that kept it out (the others are not held back by it)."""

    def __call__(
        self, runs: list[tuple[Documents, str | None]], /
    ) -> Sequence[Exception | None]: ...


class Register(Protocol):
    """Registers one run from its documents (an idempotent replace keyed by run uid);
    ``log`` is the path of the run's document log on the publishing host, when the
    publisher said (our wire format does, in the start document's headers)."""

    def __call__(self, documents: Documents, /, *, log: str | None = None) -> None: ...


def one_by_one(
    register: Register,
    runs: list[tuple[Documents, str | None]],
    stopping: Callable[[], bool] = lambda: False,
) -> list[Exception | None]:
    """``register`` each run, in order; one outcome per run (see :class:`RegisterMany`).
    Once ``stopping()`` says so, the runs not begun are left out (an error each)."""
    out: list[Exception | None] = []
    for documents, log in runs:
        if stopping():  # stopping: leave the rest to be redelivered
            out.append(RuntimeError("the worker stopped before this run"))
            continue
        try:
            register(documents, log=log)
            out.append(None)
        except Exception as e:
            out.append(e)
    return out


@dataclass(frozen=True)
class Stop:
    """A stop in hand and its run's documents read from the stream."""

    msg: Any
    run_uid: str
    documents: Documents
    log: str | None


async def read_subjects(js: Any, stream: str, subjects: str) -> list[Any]:
    """Every message of ``stream`` on ``subjects`` now, decoded, through a short-lived
    consumer (its creation says how many there are: no further question)."""
    from nats.js import api

    config = api.ConsumerConfig(
        filter_subject=subjects,
        ack_policy=api.AckPolicy.NONE,
        deliver_policy=api.DeliverPolicy.ALL,
        inactive_threshold=30.0,
        mem_storage=True,
    )
    info = await js.add_consumer(stream, config)
    name, total = info.name, int(info.num_pending)
    try:
        out: list[Any] = []
        if total:
            sub = await js.pull_subscribe_bind(consumer=name, stream=stream)
            try:
                while len(out) < total:
                    out += await sub.fetch(min(total - len(out), 1024), timeout=5.0)
            finally:
                await sub.unsubscribe()
        decoded = [decode(m) for m in out]
        return [w for w in decoded if w is not None]
    finally:
        with contextlib.suppress(Exception):
            await js.delete_consumer(stream, name)
