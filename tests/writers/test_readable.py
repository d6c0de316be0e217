from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import zarr

from tests.writers import _killed_writer
from zarrscribe.writers import ZarrWriter, frames_on_disk


def _check_against_zarr_python(store: Path, key: str, frames: int) -> None:
    """Every counted frame reads back right; the next one does not read back as written."""
    try:
        array = zarr.open_array(store / key, mode="r")
    except (zarr.errors.ArrayNotFoundError, ValueError):  # no metadata, or damaged
        assert frames == 0, f"{key}: {frames} frames counted, but zarr finds no array"
        return
    name = key.split("/")[0]
    if frames:
        data = array[:frames]
        for i in range(frames):
            np.testing.assert_array_equal(data[i], _killed_writer.frame(name, i), err_msg=key)
    if frames < array.shape[0]:  # the count is of leading frames: the next one must not read
        try:
            got = array[frames]
        except Exception:  # any read error means: not readable
            return
        expected = _killed_writer.frame(name, frames)
        assert not np.array_equal(got, expected), f"{key}[{frames}] reads back but was missed"


def test_killed_mid_frames_counts_only_what_reads_back(tmp_path: Path) -> None:
    _killed_writer.kill_mid_frames(tmp_path)
    counts = frames_on_disk(tmp_path / "w.zarr")
    assert set(counts) == set(_killed_writer.SOURCES)
    assert counts["slow"] == 0  # its only shard never got an index
    assert counts["raw"] >= 8  # whole shards reached disk before the kill
    for key, n in counts.items():
        _check_against_zarr_python(tmp_path / "w.zarr", key, n)
    nested = frames_on_disk(tmp_path / "ngff.zarr")
    assert list(nested) == ["cam/0"]
    assert nested["cam/0"] % _killed_writer.NGFF_FRAMES_PER_SHARD == 0
    _check_against_zarr_python(tmp_path / "ngff.zarr", "cam/0", nested["cam/0"])


def _closed_store(path: Path, frames: int) -> Path:
    writer = ZarrWriter(max_memory=None, ome=False)  # the flat layout (OME: ngff.zarr)
    writer.set_uri(str(path))
    for name in ("raw", "blosc", "vol"):
        dtype, shape, layout = _killed_writer.SOURCES[name]
        writer.register(name, dtype, shape, layout=layout)
        writer.open(name)
    for i in range(frames):
        for name in ("raw", "blosc", "vol"):
            writer.write_frame(name, _killed_writer.frame(name, i))
    writer.close()
    return path


def test_closed_store_counts_every_frame_including_a_partial_last_shard(tmp_path: Path) -> None:
    store = _closed_store(tmp_path / "s.zarr", 10)  # shards of 4, 8 and 3 frames: all partial
    assert frames_on_disk(store) == {"blosc": 10, "raw": 10, "vol": 10}
    assert frames_on_disk(tmp_path / "missing.zarr") == {}


def _cut(path: Path, nbytes: int) -> None:
    with open(path, "r+b") as f:
        f.truncate(os.fstat(f.fileno()).st_size - nbytes)


def _flip_last_byte(path: Path) -> None:
    with open(path, "r+b") as f:
        f.seek(-1, os.SEEK_END)
        last = f.read(1)[0]
        f.seek(-1, os.SEEK_END)
        f.write(bytes([last ^ 0xFF]))


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda s: (s / "raw/c/1/1/0").unlink(), {"raw": 4}),  # one tile of frames 4-7 lost
        (lambda s: _cut(s / "raw/c/2/0/0", 3), {"raw": 8}),  # the last shard's index cut
        (lambda s: _flip_last_byte(s / "blosc/c/0/0/0"), {"blosc": 0}),  # checksum wrong
        (lambda s: _cut(s / "vol/c/1/0/0/0", 300), {"vol": 3}),  # index points past the data
        (lambda s: (s / "vol/zarr.json").write_text('{"node_type": "arr'), {"vol": 0}),
    ],
)
def test_damaged_shards_end_the_readable_frames(
    tmp_path: Path, damage: object, expected: dict[str, int]
) -> None:
    store = _closed_store(tmp_path / "s.zarr", 10)
    damage(store)  # type: ignore[operator]
    counts = frames_on_disk(store)
    assert counts == {"blosc": 10, "raw": 10, "vol": 10, **expected}
    for key, n in counts.items():
        _check_against_zarr_python(store, key, n)
