"""Fault injection: a real acquiring process SIGKILLed at each dangerous moment.

After each kill, a new pipeline and ``zarrscribe replay --all`` must restore the
rule: every frame that reached disk is readable, store attributes and the catalog
say exactly what is readable, nothing outside the base directory is touched, and
each run is in the catalog exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import zarr

from tests._ome import ome_image
from zarrscribe.callbacks import load_run, read_document_log
from zarrscribe.catalog import RunNotFoundError
from zarrscribe.pipeline import Pipeline, find_logs
from zarrscribe.pipeline.cli import main as cli
from zarrscribe.writers import frames_on_disk, read_store_attributes, store_path
from zarrscribe.writers.model import ATTRIBUTES_KEY, INCOMPLETE, ZARR_MIMETYPE

ROOT = Path(__file__).parents[3]


def _kill_when(tmp_path: Path, mode: str, ready: Callable[[Path, Path], bool]) -> Path:
    base, markers = tmp_path / "data", tmp_path / "markers"
    markers.mkdir()
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.pipeline.faults._child", str(base), str(markers), mode],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 180
    while not ready(base, markers):
        if child.poll() is not None or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    _, stderr = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, f"child ({mode}): {stderr.decode()[-3000:]}"
    assert ready(base, markers), f"child ({mode}) stalled: {stderr.decode()[-3000:]}"
    return base


def _marker(name: str) -> Callable[[Path, Path], bool]:
    return lambda base, markers: (markers / name).exists()


def _check_image(store: Path, path: str, data: np.ndarray) -> None:
    """The OME-Zarr image holding array ``path`` (``<device>/0``) opens by its device's
    name, through zarr-python's groups and ome-zarr-py's Reader, and gives ``data``."""
    device, _, level = path.rpartition("/")
    image = zarr.open_group(store, mode="r")[device]
    assert isinstance(image, zarr.Group), f"{store}/{device} is not a group"
    np.testing.assert_array_equal(image[level][: len(data)], data)
    node = ome_image(store / device)
    assert node.metadata["name"] == device
    np.testing.assert_array_equal(np.asarray(node.data[0][: len(data)]), data)


def check_the_rule(base: Path) -> dict[str, str]:
    """The promise, checked by reading every store with zarr-python (each OME-Zarr
    image by its device's name, and with ome-zarr-py) and every entry through Tiled;
    returns each run's exit status."""
    statuses: dict[str, str] = {}
    with Pipeline([], base_dir=base) as pipeline:
        assert pipeline.flush(120), pipeline.registrations.failures
        catalog = pipeline.connect_catalog()
        entries = [r.uid for r in catalog.search()]
        logs = find_logs(base)
        runs = [load_run(log, base) for log in logs]
        assert sorted(entries) == sorted(r.record.uid for r in runs)  # each exactly once
        for run in runs:
            uid = run.record.uid
            entry = catalog.run(uid).metadata[ATTRIBUTES_KEY]
            statuses[uid] = entry["exit_status"]
            for uri in run.record.store_uris(ZARR_MIMETYPE):
                store = store_path(uri)
                attrs = read_store_attributes(store)[ATTRIBUTES_KEY]
                assert attrs["run"]["exit_status"] == entry["exit_status"]
                for key, info in attrs["arrays"].items():
                    n = info["shape"][0]
                    assert entry["arrays"][key]["shape"] == info["shape"]
                    if entry["exit_status"] == "success":
                        assert n == info["announced"]
                    if n:  # (an array with nothing readable may not exist at all)
                        path = info["path"]  # <device>/0 in an OME-Zarr image, else <key>
                        data = zarr.open_group(store, mode="r")[path][:n]  # all of it reads
                        assert data.shape[0] == n
                        np.testing.assert_array_equal(catalog.read_array(uid, key), data)
                        if path != key:
                            _check_image(store, path, data)
                    else:  # the catalog never points at data it cannot read
                        with pytest.raises(RunNotFoundError):
                            catalog.read_array(uid, key)
    return statuses


def _replay_restores(tmp_path: Path, base: Path) -> dict[str, str]:
    assert cli(["replay", "--all", "--base-dir", str(base)]) == 0
    assert cli(["replay", "--all", "--check", "--base-dir", str(base)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "markers"]  # nothing else
    return check_the_rule(base)


def test_killed_mid_frames(tmp_path: Path) -> None:
    def enough(base: Path, markers: Path) -> bool:
        # 64 frames on disk, and announced by the log's StreamDatums (frames pushed after
        # the last collect are not described: a known limitation, not this test's case)
        stores = list(base.glob("faults/fly_scan_*/default.zarr"))
        if not stores or frames_on_disk(stores[0]).get("cam1/0", 0) < 64:
            return False
        docs = read_document_log(stores[0].parent / "documents.jsonl").documents
        cam1 = {d["uid"] for n, d in docs if n == "stream_resource" and d["data_key"] == "cam1"}
        datums = [d for n, d in docs if n == "stream_datum" and d["stream_resource"] in cam1]
        return max((d["indices"]["stop"] for d in datums), default=0) >= 64

    base = _kill_when(tmp_path, "mid-frames", enough)
    (store,) = base.glob("faults/fly_scan_*/default.zarr")
    assert not (store / "cam1" / "zarr.json").exists()  # frames, but no image yet
    (status,) = _replay_restores(tmp_path, base).values()
    assert status == INCOMPLETE
    arrays = read_store_attributes(store)[ATTRIBUTES_KEY]["arrays"]
    assert arrays["cam1"]["shape"][0] >= 64


def test_killed_after_the_stop_was_logged_before_the_writers_closed(tmp_path: Path) -> None:
    base = _kill_when(tmp_path, "after-stop", _marker("closing"))
    (store,) = base.glob("faults/count_*/default.zarr")
    assert not (store / "cam1" / "zarr.json").exists()  # frames, but no image yet
    (status,) = _replay_restores(tmp_path, base).values()
    assert status == INCOMPLETE  # the stop says success; the disk holds fewer frames
    attrs = read_store_attributes(store)[ATTRIBUTES_KEY]
    assert attrs["missing"] == {"cam1": {"announced": 100, "readable": 64}}
    assert "cam1 64 of 100" in attrs["run"]["reason"]


def test_killed_during_an_attribute_write(tmp_path: Path) -> None:
    base = _kill_when(tmp_path, "during-attributes", _marker("renaming"))
    assert list(base.glob("faults/count_*/*.zarr/.zarr.json.*.tmp"))  # left by the kill
    statuses = _replay_restores(tmp_path, base)
    assert list(statuses.values()) == ["success"]
    assert not list(base.glob("faults/count_*/*.zarr/.zarr.json.*.tmp"))


def test_killed_during_registration(tmp_path: Path) -> None:
    def second_registration(base: Path, markers: Path) -> bool:
        # All three runs are finished (writers closed, attributes written) and
        # registration is under way. Killed earlier, the last run is incomplete
        # (the kill after the stop, tested above), not what this test is about.
        roots = base.glob("faults/count_*/default.zarr/zarr.json")
        finished = [r for r in roots if ATTRIBUTES_KEY in r.read_text(errors="replace")]
        return (markers / "registering").exists() and len(finished) == 3

    base = _kill_when(tmp_path, "during-registration", second_registration)
    statuses = _replay_restores(tmp_path, base)
    assert sorted(statuses.values()) == ["success"] * 3


def test_killed_between_runs(tmp_path: Path) -> None:
    base = _kill_when(tmp_path, "between-runs", _marker("between"))
    assert list(_replay_restores(tmp_path, base).values()) == ["success"]
