"""Child process: a long fly scan with the publisher subscribed, killed from outside
(argv: base dir, NATS servers, stream, prefix[, seconds between cursor writes])."""

from __future__ import annotations

import sys
from pathlib import Path

from bluesky import RunEngine

from tests.conftest import Rig
from zarrscribe.callbacks import BusSettings
from zarrscribe.pipeline import Pipeline, fly_scan

if __name__ == "__main__":
    base_dir, servers, stream, prefix = Path(sys.argv[1]), *sys.argv[2:5]
    cursor_every = float(sys.argv[5]) if len(sys.argv) > 5 else 1.0
    bus = BusSettings(
        servers=servers, stream=stream, prefix=prefix, instrument="rig1", cursor_every=cursor_every
    )
    rig = Rig()
    pipeline = Pipeline(rig.devices, base_dir=base_dir, catalog=None, bus=bus)
    RE = RunEngine({})
    RE.subscribe(pipeline)
    RE(fly_scan([rig.cam1], 100_000, collect_every=0.01))  # never finishes: killed first
