"""A real acquisition in a child process, killed from outside at a chosen moment.

``python -m tests.pipeline.faults._child BASE_DIR MARKERS MODE``. The parent kills
it with SIGKILL once it is where ``MODE`` says (a marker file appears, or frames
reach the disk). Where the moment cannot be seen from outside, the child stops
there and says so with a marker: these are timing doubles only; acquire-zarr, the
RunEngine, the log and the catalog are the real ones.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from bluesky import RunEngine, plans as bp

from zarrscribe.catalog import Catalog
from zarrscribe.pipeline import Pipeline, SimCamera, fly_scan
from zarrscribe.writers import ZarrWriter

BIG = (512, 512)  # 512 KiB uint16 frames: whole-frame chunks, 64 frames a shard
SMALL = (16, 16)  # 512 B frames: one shard holds thousands, none completes before close


def _hold(markers: Path, name: str) -> None:
    (markers / name).touch()
    time.sleep(600)  # killed here


class HeldWriter(ZarrWriter):
    """Closes only after the parent has killed the process (i.e. never)."""

    markers: Path

    def close(self) -> None:
        if self.is_open:
            _hold(self.markers, "closing")
        super().close()


def main(base_dir: Path, markers: Path, mode: str) -> None:
    # A kill before the writers closed: OME-Zarr images (the kill leaves them without
    # group metadata, which replay rebuilds). The other faults are about the root's
    # attributes and the catalog: the flat layout (an image's name is an atomic
    # zarr.json write too, which the attribute-write hook would catch first).
    ome = mode in ("mid-frames", "after-stop")
    writer: ZarrWriter = ZarrWriter("default", ome=ome)
    if mode == "after-stop":
        held = HeldWriter("default", ome=ome)
        held.markers = markers
        writer = held
    cam1 = SimCamera("cam1", writer, shape=BIG, exposure=0.0, seed=11)
    cam2 = SimCamera("cam2", writer, shape=SMALL, exposure=0.0, seed=12)
    catalog: str | None = None if mode in ("mid-frames", "after-stop") else "embedded"
    pipeline = Pipeline([cam1, cam2], base_dir=base_dir, session="faults", catalog=catalog)
    RE = RunEngine({})
    pipeline.subscribe(RE)
    if mode == "mid-frames":
        RE(fly_scan([cam1, cam2], 100_000, collect_every=0.01))
    elif mode == "after-stop":
        RE(bp.count([cam1], num=100))  # the stop is logged, then close() holds
    elif mode == "during-attributes":
        real_replace = os.replace

        def replace(src: Any, dst: Any) -> None:
            if str(dst).endswith("zarr.json") and Path(src).name.startswith(".zarr.json."):
                _hold(markers, "renaming")
            real_replace(src, dst)

        os.replace = replace  # type: ignore[assignment]
        RE(bp.count([cam1, cam2], num=3))
    elif mode == "during-registration":
        real_register = Catalog.register_runs

        def register(self: Catalog, *args: Any, **kwargs: Any) -> list[str]:
            (markers / "registering").touch()
            time.sleep(0.2)
            return real_register(self, *args, **kwargs)

        Catalog.register_runs = register  # type: ignore[method-assign]
        for _ in range(3):
            RE(bp.count([cam1, cam2], num=3))
        pipeline.flush(120)
        time.sleep(600)
    elif mode == "between-runs":
        RE(bp.count([cam1, cam2], num=3))
        pipeline.flush(120)
        _hold(markers, "between")
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3])
