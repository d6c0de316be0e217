"""Plans the demo uses beside bluesky's own ``count`` and ``scan``."""

from __future__ import annotations

import sys
from collections.abc import Generator, Sequence
from numbers import Integral
from typing import Any

import bluesky.plan_stubs as bps
import bluesky.preprocessors as bpp
from bluesky.utils import Msg

from ...writers import PrepareInfo

__all__ = ["fly_scan", "prepare_info_for"]


def prepare_info_for(detector: Any, num_frames: int) -> Any:
    """What ``prepare`` takes for ``num_frames`` frames: ophyd-async detectors
    (``StandardDetector``) a ``TriggerInfo`` (one frame per event), our devices
    a :class:`PrepareInfo`."""
    # ophyd-async is optional: if it was never imported, no device can be one of its.
    core = sys.modules.get("ophyd_async.core")
    if core is not None and isinstance(detector, core.StandardDetector):
        return core.TriggerInfo(number_of_events=num_frames)
    return PrepareInfo(capacity=num_frames)


def fly_scan(
    detectors: Sequence[Any],
    num_frames: int,
    *,
    collect_every: float = 0.05,
    md: dict[str, Any] | None = None,
) -> Generator[Msg, Any, None]:
    """Prepare, kick off and collect ``detectors`` for ``num_frames`` frames each.

    Stream documents are collected while the detectors run, so a run that is
    stopped mid-way has documents for every frame that reached the store.
    ``num_frames`` is at least 1 and ``detectors`` not empty: anything else raises
    ``ValueError`` here, when the plan is made, before any device is touched.
    """
    if isinstance(num_frames, bool) or not isinstance(num_frames, Integral):
        raise ValueError(f"fly_scan: num_frames {num_frames!r} is not a whole number of frames")
    if num_frames < 1:
        raise ValueError(f"fly_scan: num_frames {num_frames} is less than 1; give 1 or more")
    if not detectors:
        raise ValueError("fly_scan: no detectors; give at least one")
    if collect_every <= 0:
        raise ValueError(f"fly_scan: collect_every {collect_every!r} must be positive seconds")
    num_frames = int(num_frames)
    _md = {
        "plan_name": "fly_scan",
        "detectors": [d.name for d in detectors],
        "num_points": num_frames,
        "plan_args": {"detectors": [repr(d) for d in detectors], "num_frames": num_frames},
        **(md or {}),
    }

    def inner() -> Generator[Msg, Any, None]:
        for det in detectors:
            yield from bps.prepare(det, prepare_info_for(det, num_frames), wait=True)
        yield from bps.declare_stream(*detectors, name="primary", collect=True)
        for det in detectors:
            yield from bps.kickoff(det, wait=True)
        statuses = []
        for det in detectors:
            statuses.append((yield from bps.complete(det, wait=False)))
        while not all(s.done for s in statuses):
            yield from bps.collect(*detectors)
            yield from bps.sleep(collect_every)
        for status in statuses:
            if not status.success:
                raise RuntimeError(f"a detector failed during the fly scan: {status.exception()}")
        yield from bps.collect(*detectors)

    return bpp.stage_wrapper(bpp.run_wrapper(inner(), md=_md), detectors)
