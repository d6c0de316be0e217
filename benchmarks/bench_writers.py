"""Writer throughput: ZarrWriter vs raw acquire-zarr (best layout) vs plain file write.

Run: ``.venv/bin/python benchmarks/bench_writers.py [--gib 0.5] [--search]``.
All numbers come from one run on this machine, so the ratios are what matter.
``--search`` also times a grid of raw acquire-zarr layouts, to find the best.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
from functools import partial
from typing import TYPE_CHECKING

import acquire_zarr as az
import numpy as np

from zarrscribe.writers import ZarrLayout, ZarrWriter, default_layout

from _common import scratch, table, timed

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

MB = 1e6


def frames_for(shape: tuple[int, int], n_distinct: int = 8) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    base = (1000 + 500 * np.sin(xx / 37.0) * np.cos(yy / 23.0)).astype(np.float32)
    return [(base + rng.poisson(100, size=shape)).astype(np.uint16) for _ in range(n_distinct)]


def stream_settings(path: Path, layout: ZarrLayout, shape: tuple[int, ...]) -> az.StreamSettings:
    """Raw acquire-zarr settings: one uint16 array ``cam`` of frames of ``shape``."""
    dims = [
        az.Dimension(
            name="t",
            kind=az.DimensionType.TIME,
            array_size_px=0,
            chunk_size_px=1,
            shard_size_chunks=layout.frames_per_shard,
        )
    ]
    for axis, size, chunk, per in zip(
        "yx", shape, layout.chunk_shape, layout.chunks_per_shard, strict=True
    ):
        dims.append(
            az.Dimension(
                name=axis,
                kind=az.DimensionType.SPACE,
                array_size_px=size,
                chunk_size_px=chunk,
                shard_size_chunks=per,
            )
        )
    return az.StreamSettings(
        store_path=str(path),
        arrays=[az.ArraySettings(output_key="cam", data_type=np.uint16, dimensions=dims)],
    )


def raw_acquire_zarr(path: Path, frames: list[np.ndarray], n: int, layout: ZarrLayout) -> float:
    settings = stream_settings(path, layout, frames[0].shape)

    def run() -> None:
        stream = az.ZarrStream(settings)
        for i in range(n):
            stream.append(frames[i % len(frames)], key="cam")
        stream.close()

    return timed(run)


def zarrscribe_writer(path: Path, frames: list[np.ndarray], n: int) -> float:
    writer = ZarrWriter("bench")
    writer.set_uri(str(path))
    writer.register("cam", np.uint16, frames[0].shape)
    writer.open("cam")

    def run() -> None:
        for i in range(n):
            writer.write_frame("cam", frames[i % len(frames)])
        writer.close()

    return timed(run)


def plain_file(path: Path, frames: list[np.ndarray], n: int) -> float:
    def run() -> None:
        with open(path, "wb") as f:
            for i in range(n):
                f.write(frames[i % len(frames)].data)
            f.flush()
            os.fsync(f.fileno())

    return timed(run)


PLAIN = "plain file write + fsync"
OURS = "zarrscribe ZarrWriter (default layout)"


def best_known_layouts(shape: tuple[int, int]) -> dict[str, ZarrLayout]:
    """The fastest raw layouts ``--search`` found (see the README's numbers)."""
    h, w = shape
    if h >= 1024:
        return {
            "raw acquire-zarr, chunk (1,512,512), shard (4,H,W)": ZarrLayout(
                (512, 512), (h // 512, w // 512), 4
            )
        }
    return {"raw acquire-zarr, chunk (1,H,W), shard t=64": ZarrLayout((h, w), (1, 1), 64)}


def candidate_layouts(shape: tuple[int, int]) -> dict[str, ZarrLayout]:
    h, w = shape
    out = {
        "seed: chunk H/4, shard 2": ZarrLayout((h // 4, w // 4), (2, 2), 2),
    }
    for t in (16, 64, 256):
        out[f"chunk (1,H,W), shard t={t}"] = ZarrLayout((h, w), (1, 1), t)
    if h >= 1024:
        out["chunk (1,512,512), shard (1,H,W)"] = ZarrLayout((512, 512), (h // 512, w // 512), 1)
        for t in (4, 16):
            out[f"chunk (1,512,512), shard ({t},H,W)"] = ZarrLayout(
                (512, 512), (h // 512, w // 512), t
            )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gib", type=float, default=0.25, help="bytes written per case")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds; best kept")
    parser.add_argument("--search", action="store_true", help="time a grid of raw layouts")
    args = parser.parse_args(argv)
    rows = [["frame", "what", "MB/s", "vs best raw", "vs plain write"]]
    rng = random.Random(0)
    for shape in ((2048, 2048), (512, 512)):
        frames = frames_for(shape)
        n = max(8, int(args.gib * 2**30 / frames[0].nbytes))
        nbytes = n * frames[0].nbytes
        layouts = candidate_layouts(shape) if args.search else {}
        layouts["raw acquire-zarr, zarrscribe's default layout"] = default_layout(
            shape, np.dtype(np.uint16)
        )
        if not args.search:  # the best layouts found with --search
            layouts.update(best_known_layouts(shape))
        cases: dict[str, Callable[[Path], float]] = {
            PLAIN: partial(plain_file, frames=frames, n=n),
            OURS: partial(zarrscribe_writer, frames=frames, n=n),
        }
        for name, layout in layouts.items():
            cases[name] = partial(raw_acquire_zarr, frames=frames, n=n, layout=layout)
        results = {name: float("inf") for name in cases}
        with scratch("zs-bench-") as d:
            for r in range(args.repeats):  # interleaved rounds: drift hits every case alike
                order = list(cases)
                rng.shuffle(order)
                for i, name in enumerate(order):
                    target = d / f"{r}-{i}.out"
                    results[name] = min(results[name], cases[name](target))
                    shutil.rmtree(target, ignore_errors=True) if target.is_dir() else (
                        target.unlink(missing_ok=True)
                    )
        best_raw = min(v for k, v in results.items() if k not in (PLAIN, OURS))
        for name, seconds in sorted(results.items(), key=lambda kv: kv[1]):
            rows.append(
                [
                    f"{shape[0]}x{shape[1]} u16",
                    name,
                    f"{nbytes / seconds / MB:,.0f}",
                    f"{best_raw / seconds:.2f}x",
                    f"{results[PLAIN] / seconds:.2f}x",
                ]
            )
        print(
            f"{shape}: {n} frames, {nbytes / 2**20:,.0f} MiB per case, best of {args.repeats}",
            file=sys.stderr,
        )
    print(table(rows))
    print("(push-back under a burst faster than the disk: benchmarks/bench_memory.py)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
