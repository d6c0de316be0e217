"""``zarrscribe demo``: run count, scan and fly plans with simulated devices."""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import signal
import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO

from ...writers.model import require
from ._common import positive_int, runs_table
from ._signals import Interrupted, signals_to, stopped_by

HELP = "run count, scan and fly plans with simulated devices"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--session", default="demo")
    parser.add_argument(
        "--frames",
        type=positive_int,
        default=20,
        help="frames each camera takes in each plan (count: N readings, scan: N points, "
        "fly scan: N frames; default 20)",
    )
    parser.add_argument(
        "--ophyd-async",
        action="store_true",
        help="add two soft ophyd-async cameras writing into the shared store "
        "(needs the 'ophyd-async' extra)",
    )


class Progress:
    """Prints one updating line per run: events, frames, then where the data went."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._live = out.isatty()
        self._last = 0.0
        self._plan = ""
        self._total: int | None = None
        self._events: dict[str, int] = {}
        """Highest event sequence number seen, per descriptor (events and stream datums
        both announce events; counting documents would count some twice)."""
        self._frames: dict[str, int] = {}
        self._resources: dict[str, str] = {}
        self._names: dict[str, str] = {}  # descriptor uid -> stream name

    def __call__(self, name: str, doc: dict[str, Any]) -> None:
        if name == "start":
            self._plan = f"{doc.get('plan_name', 'run')} (scan {doc.get('scan_id')})"
            self._total = doc.get("num_points")
            self._events, self._frames, self._resources = {}, {}, {}
            self._names = {}
        elif name == "descriptor":
            self._names[doc["uid"]] = doc.get("name", "primary")
            return
        elif name == "event":
            self._seen(doc["descriptor"], doc["seq_num"])
        elif name == "event_page":
            self._seen(doc["descriptor"], max(doc["seq_num"]))
        elif name == "stream_resource":
            self._resources[doc["uid"]] = doc["data_key"]
        elif name == "stream_datum":
            key = self._resources.get(doc["stream_resource"], "?")
            self._frames[key] = max(self._frames.get(key, 0), doc["indices"]["stop"])
            self._seen(doc["descriptor"], doc["seq_nums"]["stop"] - 1)
        elif name == "stop":
            self._line(final=f"  {doc['exit_status']}")
            return
        else:
            return
        self._line()

    def _seen(self, descriptor: str, seq_num: int) -> None:
        self._events[descriptor] = max(self._events.get(descriptor, 0), seq_num)

    def _line(self, final: str = "") -> None:
        now = time.monotonic()
        if not final and (not self._live or now - self._last < 0.1):
            return  # redraw at most 10 times a second, and only on a terminal
        self._last = now
        total = f"/{self._total}" if self._total else ""
        frames = ", ".join(f"{k} {v}" for k, v in sorted(self._frames.items()))
        head = "\r" if self._live else ""
        # the plan's points are its primary stream's events (derived streams have others)
        primary = [n for d, n in self._events.items() if self._names.get(d) == "primary"]
        events = sum(primary) if primary else sum(self._events.values())
        text = f"{head}{self._plan:<22} events {events}{total}  frames: {frames or '-'}{final}"
        self._out.write(text + ("\n" if final else ""))
        self._out.flush()


def run(args: argparse.Namespace) -> int:
    if args.ophyd_async:
        require("ophyd_async", "--ophyd-async")  # before anything is made on disk
    from bluesky import RunEngine, plans as bp
    from bluesky.utils import RunEngineInterrupted

    from ...writers import Compression, ZarrWriter
    from .._pipeline import Pipeline
    from ..derived import RunningMedian, with_derived
    from ..sim import SimCamera, SimLight, SimMotor, fly_scan

    out, info = sys.stdout, sys.stderr  # the table is the result; the rest is progress
    shared = ZarrWriter("default")
    side = ZarrWriter("side", compression=Compression())
    # each camera declares its pixel size on the sample: the OME-Zarr scale (micrometer)
    cam1 = SimCamera("cam1", shared, shape=(512, 512), exposure=0.01, seed=1, pixel_size=0.65)
    cam2 = SimCamera("cam2", shared, shape=(256, 384), exposure=0.01, seed=2, pixel_size=0.65)
    cam3 = SimCamera("cam3", side, shape=(128, 128), exposure=0.005, seed=3, pixel_size=2.6)
    stage_x = SimMotor("stage_x", velocity=2.0, units="um")
    laser = SimLight("laser", wavelength_nm=561.0, power_mw=12.0)
    # derived frames: a background of cam1 (median of its last 8 frames, every 8 frames)
    # written beside it in the same store, announced in the fly scan's documents
    median = RunningMedian("cam1", shared, shape=(512, 512), dtype="uint16", window=8, every=8)
    info.write(
        f"zarrscribe demo: data under {args.base_dir.absolute()}, session {args.session!r}\n"
    )
    # The RunEngine's own Ctrl-C handling (pause, then wait for a resume) is for
    # interactive sessions; here a signal aborts the run in hand (its documents end
    # with a stop, its data stays readable) and the demo ends.
    RE = RunEngine({}, call_returns_result=True, context_managers=[])
    extra: list[Any] = []
    if args.ophyd_async:
        from ..detectors import demo_detectors

        extra = demo_detectors(shared)  # connected on the RunEngine's loop
    pipeline = Pipeline(
        [cam1, cam2, cam3, stage_x, laser, median, *extra],
        base_dir=args.base_dir,
        session=args.session,
        catalog=args.catalog or "embedded",
        api_key=args.api_key,
    )
    stop = _Stop(RE)
    try:
        pipeline.subscribe(RE)
        RE.subscribe(Progress(info))
        uids: list[str] = []
        plans = [
            bp.count([cam1, cam2, cam3, laser, *extra], num=args.frames, md={"sample": "beads"}),
            bp.scan([cam1, cam2, laser], stage_x, 0, 10, args.frames, md={"sample": "beads"}),
            with_derived(
                fly_scan([cam1, cam2, cam3, *extra], args.frames, md={"sample": "cells"}),
                [median],
            ),
        ]
        with signals_to(stop), stop.quiet():
            for plan in plans:
                try:
                    result = RE(plan)
                except RunEngineInterrupted:
                    stop.raise_if_stopped()
                    raise
                uids.extend(result.run_start_uids if hasattr(result, "run_start_uids") else result)
                stop.raise_if_stopped()
            info.write("registering runs in the catalog ...\n")
            start = time.monotonic()
            done = pipeline.flush(timeout=120)
        info.write(
            f"  {'done' if done else 'some still pending'} in {time.monotonic() - start:.1f} s\n"
        )
        catalog = pipeline.connect_catalog()
        runs = [r for r in catalog.search() if r.uid in uids]
        runs_table(runs, out)
        info.write(
            f"\nquery them:  zarrscribe runs --base-dir {args.base_dir}   "
            f"zarrscribe show {runs[0].uid[:8] if runs else 'UID'} --base-dir {args.base_dir}\n"
        )
    except KeyboardInterrupt as e:  # SIGINT or SIGTERM: stop in a few seconds
        pipeline.close(_GRACE)
        left = len(pipeline.registrations.pending())
        if left:
            what = e.detail if isinstance(e, Interrupted) else ""
            raise Interrupted(
                stopped_by(e),
                f"{what + '; ' if what else ''}{left} run(s) not registered yet, kept "
                "pending: 'zarrscribe replay --all' (or the next pipeline there) registers them",
            ) from None
        raise
    pipeline.close()
    return 0 if done else 1


_GRACE = 3.0
"""Seconds an interrupted demo gives the registrations still queued."""


class _Stop:
    """SIGINT/SIGTERM during the demo: the run in hand is aborted (bluesky's ``abort``:
    its stop document says so, its stores are closed and described); between runs the
    demo stops at once. Either way it ends with :class:`Interrupted`."""

    def __init__(self, RE: Any) -> None:
        self.RE = RE
        self.signum: int | None = None

    def __call__(self, signum: int) -> None:
        if self.signum is None and self.RE.state == "running":
            self.signum = signum
            with contextlib.redirect_stdout(io.StringIO()):  # bluesky prints "Aborting..."
                self.RE.abort(reason=f"interrupted by {signal.Signals(signum).name}")
            return
        raise Interrupted(signum, "the run in hand, if any, was aborted and its data kept")

    def raise_if_stopped(self) -> None:
        if self.signum is not None:
            raise Interrupted(self.signum, "the run in hand was aborted, its data kept")

    @contextlib.contextmanager
    def quiet(self) -> Iterator[None]:
        """Leave out what bluesky logs about a run we aborted ("Run aborted" and its
        traceback): the interruption is told in one line."""

        def keep(record: logging.LogRecord) -> bool:
            return self.signum is None

        logger = logging.getLogger("bluesky")
        logger.addFilter(keep)
        try:
            yield
        finally:
            logger.removeFilter(keep)
