"""A data folder on read-only media at another path (an archive mount, a DVD, a
colleague's share): every read works where it is mounted and nothing is written;
writing verbs say in one line that the folder is read-only."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from bluesky import RunEngine, plans as bp

from tests._servers import free_port
from tests.conftest import Rig, read_only_mount
from zarrscribe.catalog import CatalogError, embedded_catalog
from zarrscribe.pipeline import Pipeline, fly_scan

ZARRSCRIBE = str(Path(sys.executable).with_name("zarrscribe"))


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """A data folder with a scan (readings) and a fly scan, registered: (base, facts)."""
    base = tmp_path_factory.mktemp("ro") / "data"
    rig = Rig()
    with Pipeline(rig.devices, base_dir=base, session="s") as pipeline:
        RE = RunEngine({}, call_returns_result=True)
        pipeline.subscribe(RE)
        (scan,) = RE(bp.scan([rig.cam1], rig.motor, 0, 1, 3)).run_start_uids
        scan_frames = np.stack(rig.cam1.pushed)
        (fly,) = RE(fly_scan(rig.cameras, 4, collect_every=0.01)).run_start_uids
        assert pipeline.flush(120), pipeline.registrations.failures
    cam3 = np.stack(rig.cam3.pushed)
    return base, {"scan": scan, "fly": fly, "scan_frames": scan_frames, "cam3": cam3}


def _files(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file()
    }


@pytest.fixture
def mounted(original: tuple[Path, dict[str, object]], tmp_path: Path) -> Iterator[Path]:
    """A copy of the data folder (the original path is gone), seen read-only elsewhere."""
    copy = tmp_path / "disk" / "data"
    shutil.copytree(original[0], copy, symlinks=True)
    with read_only_mount(copy, tmp_path / "media" / "archive 2024") as where:
        yield where


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ZARRSCRIBE, *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_read_verbs_work_and_write_nothing(
    original: tuple[Path, dict[str, object]], mounted: Path
) -> None:
    _, facts = original
    before = _files(mounted)
    runs = _cli("runs", "--json", "--base-dir", str(mounted))
    assert runs.returncode == 0, runs.stderr
    assert {r["uid"] for r in json.loads(runs.stdout)} == {facts["scan"], facts["fly"]}
    show = _cli("show", str(facts["scan"])[:8], "--json", "--base-dir", str(mounted))
    assert show.returncode == 0, show.stderr
    shown = json.loads(show.stdout)
    assert shown["readings"]["primary"]["m1"] == [0.0, 0.5, 1.0]
    check = _cli("replay", "--all", "--check", "--base-dir", str(mounted))
    assert check.returncode == 0, check.stdout + check.stderr
    assert "2 runs: 0 differ, 0 errors" in check.stdout
    for result in (runs, show, check):
        assert "Traceback" not in result.stderr
    assert _files(mounted) == before


def test_catalog_reads_through_tiled_on_a_read_only_moved_folder(
    original: tuple[Path, dict[str, object]], mounted: Path
) -> None:
    _, facts = original
    before = _files(mounted)
    copies = set(Path(tempfile.gettempdir()).glob("zarrscribe-catalog-*"))
    catalog = embedded_catalog(mounted)
    try:
        assert [r.uid for r in catalog.search(plan_name="scan")] == [facts["scan"]]
        assert catalog.readings(str(facts["scan"]))["primary"]["m1"] == [0.0, 0.5, 1.0]
        np.testing.assert_array_equal(
            catalog.read_array(str(facts["scan"]), "cam1"), facts["scan_frames"]
        )
        np.testing.assert_array_equal(catalog.read_array(str(facts["fly"]), "cam3"), facts["cam3"])
        run = catalog.client[str(facts["scan"])]  # the stock client
        assert list(run["primary"].base["internal"].read()["m1"]) == [0.0, 0.5, 1.0]
        names = [name for name, _ in catalog.documents(str(facts["fly"]))]
        assert (names[0], names[-1]) == ("start", "stop")
        with pytest.raises(CatalogError, match="read-only") as e:
            catalog.delete_run(str(facts["scan"]))
        assert str(mounted) in str(e.value)
        assert "\n" not in str(e.value)
    finally:
        catalog.close()
    assert _files(mounted) == before
    assert set(Path(tempfile.gettempdir()).glob("zarrscribe-catalog-*")) <= copies  # removed


def test_writing_verbs_say_the_folder_is_read_only(
    original: tuple[Path, dict[str, object]], mounted: Path
) -> None:
    _, facts = original
    for args in (
        ["replay", "--all"],
        ["delete", str(facts["scan"])],
        ["demo", "--frames", "4"],
        ["serve", "--port", str(free_port())],
    ):
        result = _cli(*args, "--base-dir", str(mounted))
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        (line,) = [x for x in result.stderr.splitlines() if "error" in x]
        assert "read-only" in line, line
        assert str(mounted) in line, line
        assert "Traceback" not in result.stderr


def test_reading_a_moved_writable_folder_writes_nothing_either(
    original: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    """Read-only verbs never write the data folder, read-only media or not (a share
    mounted elsewhere may be written by its owner at its own path)."""
    _, facts = original
    moved = tmp_path / "elsewhere" / "data"
    shutil.copytree(original[0], moved, symlinks=True)
    before = _files(moved)
    catalog = embedded_catalog(moved)
    try:
        assert len(catalog.search()) == 2
        np.testing.assert_array_equal(
            catalog.read_array(str(facts["scan"]), "cam1"), facts["scan_frames"]
        )
    finally:
        catalog.close()
    show = _cli("show", str(facts["fly"]), "--json", "--base-dir", str(moved))
    assert show.returncode == 0, show.stderr
    assert _files(moved) == before
