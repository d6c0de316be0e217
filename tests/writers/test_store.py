from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from typing import TYPE_CHECKING

import numpy as np
import pytest

from zarrscribe.writers import (
    DamagedMetadataError,
    WriterError,
    ZarrWriter,
    read_store_attributes,
    store_path,
    to_jsonable,
    update_store_attributes,
)

if TYPE_CHECKING:
    from pathlib import Path


def test_update_merges_top_level_keys_and_keeps_arrays(tmp_path: Path) -> None:
    w = ZarrWriter()
    w.set_uri(str(tmp_path / "s.zarr"))
    w.register("cam", np.uint8, (2, 2))
    w.open("cam")
    w.write_frame("cam", np.ones((2, 2), np.uint8))
    w.close()
    update_store_attributes(w.uri or "", {"a": 1})
    update_store_attributes(w.uri or "", {"b": {"c": np.int64(2)}})
    assert read_store_attributes(w.uri or "") == {
        "metadata": {},
        "ome": {"version": "0.5", "bioformats2raw.layout": 3},  # a collection of images
        "a": 1,
        "b": {"c": 2},
    }
    assert not list((tmp_path / "s.zarr").glob(".zarr.json.*"))  # no temp file left


def test_damaged_metadata_is_not_rewritten(tmp_path: Path) -> None:
    (tmp_path / "d.zarr").mkdir()
    (tmp_path / "d.zarr" / "zarr.json").write_text("{not json")
    with pytest.raises(WriterError, match="not valid JSON"):
        update_store_attributes(tmp_path / "d.zarr", {"a": 1})
    assert (tmp_path / "d.zarr" / "zarr.json").read_text() == "{not json"


@pytest.mark.parametrize(
    ("damage", "where"),
    [
        (b"", ":1: empty"),
        (b'{\n  "attributes": {"a": [1,\n', ":3: cut short"),
        (b'{\n"a": "\xff"}', ":2: not UTF-8 text"),
        (b"[1, 2]", ":1: a JSON list, not Zarr metadata"),
    ],
)
def test_damaged_metadata_is_named_and_rebuilt_only_when_asked(
    tmp_path: Path, damage: bytes, where: str
) -> None:
    root = tmp_path / "d.zarr"
    root.mkdir()
    node = root / "zarr.json"
    node.write_bytes(damage)
    with pytest.raises(DamagedMetadataError) as raised:
        read_store_attributes(root)
    assert str(raised.value).startswith(f"{node}{where}")
    with pytest.raises(DamagedMetadataError, match="not rewriting"):
        update_store_attributes(root, {"a": 1}, create=True)
    assert node.read_bytes() == damage
    update_store_attributes(root, {"a": 1}, rebuild_damaged=True)
    assert read_store_attributes(root) == {"a": 1}
    kept = root / "zarr.json.damaged"
    assert kept.read_bytes() == damage if damage else not kept.exists()


def test_a_root_that_is_not_a_group_is_never_rewritten(tmp_path: Path) -> None:
    root = tmp_path / "a.zarr"
    root.mkdir()
    text = '{"zarr_format": 3, "node_type": "array"}'
    (root / "zarr.json").write_text(text)
    named = rf"^{root}/zarr\.json:1: the store's root is a Zarr 'array', not a group"
    with pytest.raises(WriterError, match=named):
        read_store_attributes(root)
    with pytest.raises(WriterError, match=named):
        update_store_attributes(root, {"a": 1}, rebuild_damaged=True)
    assert (root / "zarr.json").read_text() == text


def test_missing_store(tmp_path: Path) -> None:
    with pytest.raises(WriterError, match="no Zarr v3 store"):
        update_store_attributes(tmp_path / "none.zarr", {"a": 1})
    update_store_attributes(tmp_path / "new.zarr", {"a": 1}, create=True)
    doc = json.loads((tmp_path / "new.zarr" / "zarr.json").read_text())
    assert doc["node_type"] == "group"
    assert doc["attributes"] == {"a": 1}


def test_store_path_accepts_uris_and_paths(tmp_path: Path) -> None:
    assert store_path((tmp_path / "x y.zarr").as_uri()) == tmp_path / "x y.zarr"
    assert store_path(str(tmp_path / "x.zarr")) == tmp_path / "x.zarr"
    with pytest.raises(WriterError, match="scheme 's3'"):
        store_path("s3://bucket/x.zarr")


def test_to_jsonable_converts_numpy() -> None:
    value = {"a": np.arange(3), "b": np.float64("nan"), "c": {1, 2}, 3: (np.bool_(True),)}
    assert to_jsonable(value) == {"a": [0, 1, 2], "b": None, "c": [1, 2], "3": [True]}


_KILLED_BEFORE_RENAME = """
import os, sys, time
from zarrscribe.writers import update_store_attributes

def stuck(src, dst):
    print("temp file written", flush=True)
    time.sleep(600)

os.replace = stuck
update_store_attributes(sys.argv[1], {"b": 2})
"""


def test_an_update_killed_before_its_rename_is_cleaned_by_the_next(tmp_path: Path) -> None:
    store = update_store_attributes(tmp_path / "s.zarr", {"a": 1}, create=True)
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_BEFORE_RENAME, str(store)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "temp file written\n", child.stderr
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=30)
    assert len(list(store.glob(".zarr.json.*.tmp"))) == 1  # left by the killed update
    assert read_store_attributes(store) == {"a": 1}  # the old metadata is whole
    update_store_attributes(store, {"c": 3})
    assert list(store.glob(".zarr.json.*.tmp")) == []
    assert read_store_attributes(store) == {"a": 1, "c": 3}


def test_concurrent_updates_of_one_store_lose_nothing(tmp_path: Path) -> None:
    store = update_store_attributes(tmp_path / "s.zarr", {}, create=True)
    threads = [
        threading.Thread(target=update_store_attributes, args=(store, {f"k{i}": i}))
        for i in range(16)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert read_store_attributes(store) == {f"k{i}": i for i in range(16)}
