"""Replay against damaged logs, logs pointing outside the data folder, and folders
that were moved or copied: never lie, never lose, never escape."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import zarr
from bluesky import RunEngine, plans as bp

from tests.conftest import Rig
from zarrscribe.pipeline import Pipeline, fly_scan
from zarrscribe.pipeline.cli import main as cli
from zarrscribe.writers import read_store_attributes
from zarrscribe.writers.model import ATTRIBUTES_KEY, without_written_at


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with three finished, registered runs (copied by each test)."""
    base = tmp_path_factory.mktemp("damage") / "data"
    rig = Rig()
    with Pipeline(rig.devices, base_dir=base, session="s") as pipeline:
        RE = RunEngine({})
        pipeline.subscribe(RE)
        RE(bp.count([rig.cam1, rig.cam2], num=3))
        RE(bp.scan([rig.cam1], rig.motor, 0, 1, 3))
        RE(fly_scan(rig.cameras, 6, collect_every=0.01))
        assert pipeline.flush(120), pipeline.registrations.failures
    return base


@pytest.fixture
def data(original: Path, tmp_path: Path) -> Path:
    base = tmp_path / "data"
    shutil.copytree(original, base, symlinks=True)
    return base


def _log(base: Path, plan: str) -> Path:
    (log,) = base.glob(f"s/{plan}_*/documents.jsonl")
    return log


def _entry(base: Path, plan: str) -> dict[str, object]:
    with Pipeline([], base_dir=base) as pipeline:
        (run,) = pipeline.connect_catalog().search(plan_name=plan)
        md = pipeline.connect_catalog().run(run.uid).metadata
        return {"status": run.exit_status, "arrays": md[ATTRIBUTES_KEY]["arrays"]}


def _replay(base: Path, *args: str) -> int:
    return cli(["replay", *args, "--base-dir", str(base)])


def test_a_cut_last_line_never_downgrades_a_registered_run(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _log(data, "count")
    before = _entry(data, "count")
    text = log.read_text()
    log.write_text(text[: len(text) - 25])  # the stop line cut mid-record
    assert _replay(data, "--all", "--check") == 2
    assert _replay(data, "--all") == 2
    out = capsys.readouterr().out
    assert f"{log}:" in out  # reported with file:line
    assert "--force" in out
    assert _entry(data, "count") == before  # still success, same frames
    attrs = read_store_attributes(log.parent / "default.zarr")[ATTRIBUTES_KEY]
    assert attrs["run"]["exit_status"] == "success"
    assert _replay(data, str(log), "--force") == 0  # told to: the loss is accepted
    assert _entry(data, "count")["status"] == "incomplete"


def test_a_log_cut_in_half_at_a_line_end_never_replaces_the_entry(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _log(data, "fly_scan")
    before = _entry(data, "fly_scan")
    lines = log.read_text().splitlines(keepends=True)
    log.write_text("".join(lines[: len(lines) // 2]))  # no damaged line: no stop either
    assert _replay(data, "--all") == 2
    assert "has no stop document but the entry has" in capsys.readouterr().out
    assert _entry(data, "fly_scan") == before


def test_invalid_utf8_is_reported_and_fails_the_run(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _log(data, "scan")
    lines = log.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2][:10] + b"\xff\xfe" + lines[2][12:]
    log.write_bytes(b"".join(lines))
    before = _entry(data, "scan")
    assert _replay(data, "--all", "--check") == 2
    assert f"{log}:3: not UTF-8 text" in capsys.readouterr().out
    assert _replay(data, "--all") == 2
    assert f"{log}:3: not UTF-8 text" in capsys.readouterr().out
    assert _entry(data, "scan") == before


@pytest.mark.parametrize("where", ["outside", "dotdot"])
def test_a_log_pointing_outside_the_base_dir_is_refused(
    data: Path, tmp_path: Path, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _log(data, "count")
    target = tmp_path / "elsewhere" / "evil.zarr"
    uri = (
        target.as_uri()
        if where == "outside"
        else f"{log.parent.as_uri()}/../../../elsewhere/evil.zarr"
    )
    records = [json.loads(line) for line in log.read_text().splitlines()]
    for record in records:
        if record["name"] == "stream_resource":
            record["doc"]["uri"] = uri
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    line = 1 + next(i for i, r in enumerate(records) if r["name"] == "stream_resource")
    for check in (["--check"], []):
        assert _replay(data, str(log), *check) == 2
        out = capsys.readouterr().out
        assert "outside the base directory" in out
        assert f"{log}:{line}:" in out  # the log line that points there
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize(
    ("damage", "line"),
    [
        (b"", 1),  # left empty by a full disk
        (b'{\n  "zarr_format": 3,\n  "node_type": "gro', 3),  # cut short
        (b'{"zarr_format": 3, "node_type": "group", "attributes": {"a": "\xff"}}', 1),
        (b"[1, 2]\n", 1),  # JSON, but not Zarr metadata
    ],
)
def test_a_damaged_store_root_is_named_and_rebuilt_alike_by_check_and_replay(
    data: Path, capsys: pytest.CaptureFixture[str], damage: bytes, line: int
) -> None:
    log = _log(data, "count")
    store = log.parent / "default.zarr"
    node = store / "zarr.json"
    attributes = without_written_at(read_store_attributes(store))
    frames = zarr.open_group(store, mode="r")["cam1/0"][:]
    capsys.readouterr()
    node.write_bytes(damage)
    assert _replay(data, "--all", "--check") == 1  # it differs: replay would rebuild it
    checked = capsys.readouterr().out
    assert f"{node}:{line}: " in checked
    assert node.read_bytes() == damage  # a check writes nothing
    assert _replay(data, "--all") == 0
    replayed = capsys.readouterr().out
    assert f"{node}:{line}: " in replayed  # named alike
    assert without_written_at(read_store_attributes(store)) == attributes
    np.testing.assert_array_equal(zarr.open_group(store, mode="r")["cam1/0"][:], frames)
    kept = store / "zarr.json.damaged"
    assert kept.read_bytes() == damage if damage else not kept.exists()  # nothing lost
    assert _replay(data, "--all", "--check") == 0


def test_a_store_root_that_is_not_a_group_is_refused_alike_by_check_and_replay(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = _log(data, "count").parent / "default.zarr"
    node = store / "zarr.json"
    node.write_text('{"zarr_format": 3, "node_type": "array"}')
    for check in (["--check"], []):
        assert _replay(data, "--all", *check) == 2
        assert f"{node}:1: " in capsys.readouterr().out
    assert node.read_text() == '{"zarr_format": 3, "node_type": "array"}'


def test_an_empty_log_is_no_run_and_is_removed(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A log appears with its start line or not at all; one left empty (by an older
    version on a full disk, or a power loss) is reported and removed, not an error."""
    folder = data / "s" / "count_00099"
    folder.mkdir()
    empty = folder / "documents.jsonl"
    empty.write_bytes(b"")
    assert _replay(data, "--all", "--check") == 1
    assert f"{empty}:1: empty" in capsys.readouterr().out
    assert empty.exists()  # a check writes nothing
    assert _replay(data, "--all") == 0
    assert f"{empty}:1: empty" in capsys.readouterr().out
    assert not folder.exists()
    assert _replay(data, "--all", "--check") == 0


def test_a_document_of_another_run_is_named_with_its_line(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _log(data, "scan")
    records = [json.loads(line) for line in log.read_text().splitlines()]
    records[1]["doc"]["run_start"] = "another-run"
    log.write_text("".join(json.dumps(r) + "\n" for r in records))
    before = _entry(data, "scan")
    for check in (["--check"], []):
        assert _replay(data, str(log), *check) == 2
        assert f"{log}:2: " in capsys.readouterr().out
    assert _entry(data, "scan") == before


def _read_every_array(base: Path) -> dict[str, np.ndarray]:
    out = {}
    with Pipeline([], base_dir=base) as pipeline:
        catalog = pipeline.connect_catalog()
        for run in catalog.search():
            for store in run.stores:
                assert (base / store / "zarr.json").is_file()
            for key in ("cam1",):
                out[f"{run.plan_name}/{key}"] = catalog.read_array(run.uid, key)
    return out


def test_a_moved_folder_works_at_its_new_place(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = {
        f"{p}/cam1": zarr.open_group(next(data.glob(f"s/{p}_*/default.zarr")), mode="r")["cam1/0"][
            :
        ]
        for p in ("count", "scan", "fly_scan")
    }
    moved = tmp_path / "archive" / "data"
    moved.parent.mkdir()
    data.rename(moved)
    assert cli(["runs", "--base-dir", str(moved)]) == 0
    assert "s/count_00000/default.zarr" in capsys.readouterr().out
    read = _read_every_array(moved)
    for key, frames in expected.items():
        np.testing.assert_array_equal(read[key], frames)
    assert _replay(moved, "--all", "--check") == 0  # nothing differs at the new place
    assert not data.exists()


def test_a_copied_folder_is_replayed_and_read_at_the_copy(data: Path, tmp_path: Path) -> None:
    copy = tmp_path / "data2"
    shutil.copytree(data, copy, symlinks=True)
    mtimes = {p: p.stat().st_mtime_ns for p in data.rglob("*") if p.is_file()}
    assert _replay(copy, "--all") == 0
    with Pipeline([], base_dir=copy) as pipeline:
        assert len(pipeline.connect_catalog().search()) == 3
    shutil.rmtree(data / "s")  # the old data is gone: the copy's catalog must not need it
    assert set(_read_every_array(copy)) == {"count/cam1", "scan/cam1", "fly_scan/cam1"}
    assert all(p.stat().st_mtime_ns == t for p, t in mtimes.items() if p.exists())
