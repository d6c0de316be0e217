"""OME-Zarr images whose group metadata a crash left missing (or damaged) get it back.

acquire-zarr writes an image's group ``zarr.json`` (``ome.multiscales``) only when
its stream closes: after a SIGKILL the arrays are on disk but no viewer sees an image.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import zarr
from ome_zarr.io import parse_url

from tests._ome import ome_image
from tests.writers import _killed_writer
from tests.writers._killed_writer import OME_SOURCES
from zarrscribe.writers import frames_on_disk, rebuild_image, update_store_attributes


def _closed(path: Path, frames: int = 3) -> Path:
    """A cleanly closed store with the killed child's OME sources and settings."""
    writer = _killed_writer.ome_writer(path)
    for i in range(frames):
        for name in OME_SOURCES:
            writer.write_frame(name, _killed_writer.frame(name, i))
    writer.close()
    return path


def _group(store: Path, name: str) -> Any:
    return json.loads((store / name / "zarr.json").read_text(encoding="utf-8"))


def _settings(name: str) -> dict[str, Any]:
    *_, pixel_size, units = OME_SOURCES[name]
    return {"pixel_size": pixel_size, "units": units}


def test_a_killed_store_gets_the_images_a_closed_store_has(tmp_path: Path) -> None:
    killed = tmp_path / "killed"
    killed.mkdir()
    _killed_writer.kill_mid_frames(killed)
    store = killed / "ome.zarr"
    counts = frames_on_disk(store)
    assert sorted(counts) == sorted(f"{name}/0" for name in OME_SOURCES)
    # The defect: frames on disk, but no image group and no root.
    assert not (store / "zarr.json").exists()
    update_store_attributes(store, {}, create=True)  # the root, as replay writes it
    for name in OME_SOURCES:
        assert counts[f"{name}/0"] >= 5
        assert not (store / name / "zarr.json").exists()
        assert parse_url(str(store / name)) is None  # no viewer sees the image
        with pytest.raises(KeyError):
            zarr.open_group(store, mode="r")[name]

    closed = _closed(tmp_path / "closed.zarr")
    for name in OME_SOURCES:
        assert rebuild_image(store, f"{name}/0", **_settings(name)) == "missing"
        assert _group(store, name) == _group(closed, name)  # the same JSON, key by key
        n = counts[f"{name}/0"]
        frames = np.stack([_killed_writer.frame(name, i) for i in range(n)])
        node = ome_image(store / name)
        assert node.metadata["name"] == name
        np.testing.assert_array_equal(np.asarray(node.data[0][:n]), frames)
        np.testing.assert_array_equal(zarr.open_group(store, mode="r")[name]["0"][:n], frames)
        before = (store / name / "zarr.json").read_bytes()
        assert rebuild_image(store, f"{name}/0", **_settings(name)) is None  # valid now
        assert (store / name / "zarr.json").read_bytes() == before
    assert not list(store.rglob(".zarr.json.*"))  # no temporary file left


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.unlink(),
        lambda p: p.write_text('{"attributes": {"ome": '),  # cut short
        lambda p: p.write_bytes(b""),
        lambda p: p.write_bytes(b"\xff\xfe{"),  # not even UTF-8
    ],
)
def test_missing_or_damaged_group_metadata_is_rebuilt_check_writes_nothing(
    tmp_path: Path, damage: Any
) -> None:
    closed = _closed(tmp_path / "closed.zarr")
    store = _closed(tmp_path / "s.zarr")
    node = store / "img" / "zarr.json"
    damage(node)
    after_damage = node.read_bytes() if node.exists() else None
    reason = rebuild_image(store, "img/0", **_settings("img"), check=True)
    assert reason in ("missing", "damaged")
    assert (node.read_bytes() if node.exists() else None) == after_damage  # check: no write
    assert rebuild_image(store.as_uri(), "img/0", **_settings("img")) == reason
    assert _group(store, "img") == _group(closed, "img")


def test_valid_metadata_flat_arrays_and_odd_keys_are_left_alone(tmp_path: Path) -> None:
    store = _closed(tmp_path / "s.zarr")
    node = store / "img" / "zarr.json"
    edited = _group(store, "img")
    edited["attributes"]["ome"]["multiscales"][0]["name"] = "renamed by a person"
    node.write_text(json.dumps(edited))
    before = {p: p.read_bytes() for p in store.rglob("*") if p.is_file()}
    assert rebuild_image(store, "img/0", pixel_size=9.0) is None  # valid: never rewritten
    for key in ("img", "img/1", "../s.zarr/img/0", "./img/0", "img/0/0", "", "/0", "nope/0"):
        assert rebuild_image(store, key) is None, key
    (store / "plain" / "0" / "zarr.json").unlink()  # no array metadata: nothing to describe
    (store / "plain" / "zarr.json").unlink()
    assert rebuild_image(store, "plain/0") is None
    assert not (store / "plain" / "zarr.json").exists()
    del before[store / "plain" / "0" / "zarr.json"], before[store / "plain" / "zarr.json"]
    assert {p: p.read_bytes() for p in store.rglob("*") if p.is_file()} == before


def test_a_pixel_size_the_writer_could_not_have_used_gives_scale_one(tmp_path: Path) -> None:
    store = _closed(tmp_path / "s.zarr")
    closed_plain = _group(store, "plain")
    (store / "plain" / "zarr.json").unlink()
    # a device that declares this could not have given it to register(): scale 1, no unit
    assert rebuild_image(store, "plain/0", pixel_size="0.5 um", units="um") == "missing"
    assert _group(store, "plain") == closed_plain
