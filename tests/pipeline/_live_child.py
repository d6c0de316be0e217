"""Child process for the live-entry tests: a long step scan with a camera and a light, its
live entries written every 0.2 s, never finishing (killed from outside)."""

from __future__ import annotations

import sys
from pathlib import Path

from bluesky import RunEngine, plans as bp

from zarrscribe.pipeline import Pipeline, SimCamera, SimLight
from zarrscribe.writers import ZarrWriter

SHARD_FRAMES = 4
"""Frames per shard: a frame is readable once its shard's four frames are written."""

if __name__ == "__main__":
    base_dir = Path(sys.argv[1])
    writer = ZarrWriter("default", shard_frames=SHARD_FRAMES)
    cam = SimCamera("cam1", writer, shape=(16, 16), exposure=0.0, seed=7)
    light = SimLight("light")
    pipeline = Pipeline([cam, light], base_dir=base_dir, session="live", live_interval=0.2)
    RE = RunEngine({})
    pipeline.subscribe(RE)
    RE(bp.count([cam, light], num=100_000, delay=0.05))  # never finishes: killed first
