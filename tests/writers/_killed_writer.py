"""Child process for the frames-on-disk tests: appends frames until killed from outside.

Writes ``<dir>/w.zarr`` through ZarrWriter (raw and blosc, 3-D and 4-D frames) and
``<dir>/ngff.zarr`` straight through acquire-zarr with ``is_ngff=True`` (the array
at ``cam/0``). Frame ``i`` holds the value ``i % 200 + 1`` everywhere; one line per
frame round goes to stdout.
"""

from __future__ import annotations

import sys
from pathlib import Path

import acquire_zarr as az
import numpy as np

from zarrscribe.writers import Compression, ZarrLayout, ZarrWriter

SOURCES: dict[str, tuple[str, tuple[int, ...], ZarrLayout]] = {
    "raw": ("uint16", (64, 64), ZarrLayout((32, 32), (1, 2), 4)),  # 2 shards per frame
    "blosc": ("uint16", (64, 64), ZarrLayout((64, 64), (1, 1), 8, Compression())),
    "vol": ("uint8", (3, 32, 32), ZarrLayout((3, 16, 16), (1, 2, 2), 3)),
    "slow": ("uint8", (16, 16), ZarrLayout((16, 16), (1, 1), 1000)),  # never completes a shard
}
NGFF_FRAMES_PER_SHARD = 5


def frame(name: str, i: int) -> np.ndarray:
    dtype, shape, _ = SOURCES.get(name, ("uint16", (32, 32), None))
    return np.full(shape, i % 200 + 1, dtype=dtype)


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


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    writer = ZarrWriter("default", max_memory=None, ome=False)  # flat; ngff.zarr is OME
    writer.set_uri(str(folder / "w.zarr"))
    for name, (dtype, shape, layout) in SOURCES.items():
        writer.register(name, dtype, shape, layout=layout)
        writer.open(name)
    ngff = ngff_stream(folder / "ngff.zarr")
    i = 0
    while True:  # killed from outside
        for name in SOURCES:
            writer.write_frame(name, frame(name, i))
        ngff.append(frame("ngff", i), key="cam")
        print(i + 1, flush=True)
        i += 1
