"""Child process for the frames-on-disk tests: appends frames until killed from outside.

Writes ``<dir>/w.zarr`` through ZarrWriter (raw and blosc, 3-D and 4-D frames),
``<dir>/ome.zarr`` through ZarrWriter as OME-Zarr images (arrays at ``<name>/0``,
with and without a pixel size) and ``<dir>/ngff.zarr`` straight through acquire-zarr
with ``is_ngff=True`` (the array at ``cam/0``). Frame ``i`` holds the value
``i % 200 + 1`` everywhere; one line per frame round goes to stdout.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import acquire_zarr as az
import numpy as np

from zarrscribe.writers import Compression, ZarrLayout, ZarrWriter, frames_on_disk

ROOT = Path(__file__).parents[2]

SOURCES: dict[str, tuple[str, tuple[int, ...], ZarrLayout]] = {
    "raw": ("uint16", (64, 64), ZarrLayout((32, 32), (1, 2), 4)),  # 2 shards per frame
    "blosc": ("uint16", (64, 64), ZarrLayout((64, 64), (1, 1), 8, Compression())),
    "vol": ("uint8", (3, 32, 32), ZarrLayout((3, 16, 16), (1, 2, 2), 3)),
    "slow": ("uint8", (16, 16), ZarrLayout((16, 16), (1, 1), 1000)),  # never completes a shard
}
NGFF_FRAMES_PER_SHARD = 5

OME_SOURCES: dict[
    str, tuple[str, tuple[int, ...], ZarrLayout, float | tuple[float, ...] | None, str | None]
] = {  # name: dtype, frame shape, layout, pixel size, units
    "img": ("uint16", (32, 40), ZarrLayout((16, 20), (2, 2), 5), (0.65, 0.5), None),
    "plain": ("uint16", (24, 24), ZarrLayout((24, 24), (1, 1), 4), None, None),
    "stack": ("uint8", (2, 3, 16, 16), ZarrLayout((1, 3, 16, 16), (2, 1, 1, 1), 3), 0.2, "nm"),
}
"""Sources of ``ome.zarr``: 2-D frames with and without a pixel size, 4-D (c, z, y, x)."""


def frame(name: str, i: int) -> np.ndarray:
    dtype, shape, *_ = SOURCES.get(name) or OME_SOURCES.get(name) or ("uint16", (32, 32))
    return np.full(shape, i % 200 + 1, dtype=dtype)


def ome_writer(path: Path) -> ZarrWriter:
    """An open OME-Zarr writer of ``OME_SOURCES`` into ``path`` (the child's, or a test's)."""
    writer = ZarrWriter("default", max_memory=None)
    writer.set_uri(str(path))
    for name, (dtype, shape, layout, pixel_size, units) in OME_SOURCES.items():
        writer.register(name, dtype, shape, layout=layout, pixel_size=pixel_size, units=units)
        writer.open(name)
    return writer


def ngff_stream(path: Path) -> az.ZarrStream:
    dims = [
        az.Dimension(
            name="t",
            kind=az.DimensionType.TIME,
            array_size_px=0,
            chunk_size_px=1,
            shard_size_chunks=NGFF_FRAMES_PER_SHARD,
        ),
        *(
            az.Dimension(
                name=a,
                kind=az.DimensionType.SPACE,
                array_size_px=32,
                chunk_size_px=16,
                shard_size_chunks=2,
            )
            for a in "yx"
        ),
    ]
    array = az.ArraySettings(output_key="cam", data_type=np.uint16, dimensions=dims, is_ngff=True)
    return az.ZarrStream(az.StreamSettings(store_path=str(path), arrays=[array]))


def kill_mid_frames(folder: Path) -> None:
    """Run this child until whole shards of every store reached disk, then SIGKILL it
    while it appends."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.writers._killed_writer", str(folder)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and child.poll() is None:
            ome = frames_on_disk(folder / "ome.zarr")
            if (
                frames_on_disk(folder / "w.zarr").get("raw", 0) >= 8
                and frames_on_disk(folder / "ngff.zarr").get("cam/0", 0) >= 5
                and min(ome.get(f"{name}/0", 0) for name in OME_SOURCES) >= 5
            ):
                break
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        _, stderr = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, stderr[-2000:]


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    writer = ZarrWriter("default", max_memory=None, ome=False)  # flat; the others are OME
    writer.set_uri(str(folder / "w.zarr"))
    for name, (dtype, shape, layout) in SOURCES.items():
        writer.register(name, dtype, shape, layout=layout)
        writer.open(name)
    ome = ome_writer(folder / "ome.zarr")
    ngff = ngff_stream(folder / "ngff.zarr")
    i = 0
    while True:  # killed from outside
        for name in SOURCES:
            writer.write_frame(name, frame(name, i))
        for name in OME_SOURCES:
            ome.write_frame(name, frame(name, i))
        ngff.append(frame("ngff", i), key="cam")
        print(i + 1, flush=True)
        i += 1
