"""`with_derived`: a plan with derived sources, whose documents the RunEngine emits."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any

import bluesky.plan_stubs as bps
import bluesky.preprocessors as bpp
from bluesky.utils import Msg

from ._producer import DerivedSource

__all__ = ["with_derived"]

Plan = Generator[Msg, Any, Any]


def with_derived(plan: Plan, producers: Sequence[DerivedSource]) -> Plan:
    """Run ``plan`` with ``producers`` computing derived frames beside its devices.

    Each producer is staged before the plan's devices (its array is registered before
    any frame of the store), kicked off right after ``open_run`` (then its stream, named
    after it, is declared), collected after each event and each collect of the plan (so
    a run stopped mid-way describes the derived frames written so far), and completed
    and collected before ``close_run``; then one event in ``<name>_summary`` reports the
    source frames it saw, dropped (its queue was full) and the frames it wrote.
    """
    mine = {id(p) for p in producers}

    def after_open() -> Plan:
        for p in producers:
            yield from bps.kickoff(p, wait=True)  # opens its array: describe_collect knows it
            yield from bps.declare_stream(p, name=p.name, collect=True)

    def collect_new() -> Plan:
        for p in producers:
            if p.has_new_frames():
                yield from bps.collect(p, name=p.name)

    def before_close(msg: Msg) -> Plan:
        for p in producers:
            yield from bps.complete(p, wait=True)
            yield from bps.collect(p, name=p.name)
            yield from bps.create(name=p.summary_stream)
            yield from bps.read(p)
            yield from bps.save()
        return (yield msg)

    def mutate(msg: Msg) -> tuple[Plan | None, Plan | None]:
        if msg.command == "open_run":
            return None, after_open()
        if msg.command == "close_run":
            return before_close(msg), None
        if msg.command in ("save", "collect") and id(msg.obj) not in mine:
            return None, collect_new()
        return None, None

    return (yield from bpp.stage_wrapper(bpp.plan_mutator(plan, mutate), producers))
