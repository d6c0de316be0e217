"""Child process for the crash-recovery test: a long fly scan, killed from outside."""

from __future__ import annotations

import sys
from pathlib import Path

from bluesky import RunEngine

from zarrscribe.pipeline import Pipeline, SimCamera, fly_scan
from zarrscribe.writers import ZarrWriter

FRAME_SHAPE = (512, 512)  # 512 KiB frames: a 64-frame shard completes quickly


def cameras() -> list[SimCamera]:
    writer = ZarrWriter("default")
    return [
        SimCamera("cam1", writer, shape=FRAME_SHAPE, exposure=0.0, seed=11),
        SimCamera("cam2", writer, shape=FRAME_SHAPE, exposure=0.0, seed=12),
    ]


if __name__ == "__main__":
    base_dir = Path(sys.argv[1])
    cams = cameras()
    pipeline = Pipeline(cams, base_dir=base_dir, session="crash", catalog=None)
    RE = RunEngine({})
    pipeline.subscribe(RE)
    RE(fly_scan(cams, 100_000, collect_every=0.01))  # never finishes: killed first
