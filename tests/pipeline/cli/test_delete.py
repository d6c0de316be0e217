"""``zarrscribe delete``: the catalog entry; with ``--with-data`` the run folder, nothing else."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bluesky import RunEngine, plans as bp

from tests.conftest import Rig
from zarrscribe.pipeline import Pipeline, fly_scan
from zarrscribe.pipeline.cli import main
from zarrscribe.pipeline.cli._common import UsageError
from zarrscribe.pipeline.cli.delete import run_folder


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A base directory with a count, a scan and a fly scan of its own (the demo's
    catalog is shared, and a copy of it still points at the original's tables)."""
    base = tmp_path_factory.mktemp("delete") / "data"
    rig = Rig()
    RE = RunEngine({}, call_returns_result=True)
    with Pipeline(rig.devices, base_dir=base, session="demo") as pipeline:
        pipeline.subscribe(RE)
        RE(bp.count([rig.cam1], num=1))
        RE(bp.scan([rig.cam1], rig.motor, 0, 1, 2))
        RE(fly_scan([rig.cam3], 2, collect_every=0.01))
        assert pipeline.flush(120), pipeline.registrations.failures
    return base


def _uids(base: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    assert main(["runs", "--base-dir", str(base), "--json"]) == 0
    return {r["plan_name"]: r["uid"] for r in json.loads(capsys.readouterr().out)}


def test_delete_entry_then_with_data(base: Path, capsys: pytest.CaptureFixture[str]) -> None:
    uids = _uids(base, capsys)
    folder = base / "demo" / "count_00000"
    assert main(["delete", uids["count"][:8], "--base-dir", str(base)]) == 0
    assert capsys.readouterr().out == f"deleted catalog entry {uids['count']}\n"
    assert folder.is_dir()  # only the entry is gone

    assert main(["delete", uids["scan"], "--with-data", "--yes", "--base-dir", str(base)]) == 0
    out = capsys.readouterr().out
    assert f"deleted folder {base.resolve() / 'demo' / 'scan_00000'}" in out
    assert not (base / "demo" / "scan_00000").exists()
    assert (base / "demo" / "fly_scan_00000").is_dir()
    assert list(_uids(base, capsys)) == ["fly_scan"]

    assert main(["delete", uids["scan"], "--base-dir", str(base)]) == 0  # nothing left to do
    assert f"run {uids['scan']} is already deleted " in capsys.readouterr().err
    assert main(["delete", "no-such-uid", "--base-dir", str(base)]) == 2
    assert "no run with uid" in capsys.readouterr().err


def test_with_data_asks_first(
    base: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    uid = _uids(base, capsys)["fly_scan"]
    # stdin that is not a terminal: no silent yes
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert main(["delete", uid, "--with-data", "--base-dir", str(base)]) == 2
    assert "needs a yes: pass --yes" in capsys.readouterr().err

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    assert main(["delete", uid, "--with-data", "--base-dir", str(base)]) == 1
    assert capsys.readouterr().err.endswith("[y/N] nothing deleted\n")
    assert (base / "demo" / "fly_scan_00000").is_dir()
    assert uid in _uids(base, capsys).values()


@pytest.mark.parametrize(
    "ours",
    [
        {"log": "../elsewhere/documents.jsonl", "stores": []},
        {"log": "documents.jsonl", "stores": []},
        {"log": ".zarrscribe/pending/documents.jsonl", "stores": []},
        {"log": ".zarrscribe/documents.jsonl", "stores": []},
        {"log": "/etc/documents.jsonl", "stores": []},
        {"log": "demo/a/documents.jsonl", "stores": ["demo/b/default.zarr"]},
    ],
)
def test_never_anything_outside_a_run_folder(ours: dict[str, object], tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"refusing to delete|several folders"):
        run_folder({"zarrscribe": ours}, tmp_path)
    assert run_folder({"zarrscribe": {"log": "s/r/documents.jsonl"}}, tmp_path) == (
        tmp_path.resolve() / "s" / "r"
    )


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    """The command line in a fresh process, as a user runs it."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "zarrscribe"), *argv],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_deletion_is_an_event_that_replay_honours_until_restored(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = tmp_path / "data"
    rig = Rig()
    RE = RunEngine({}, call_returns_result=True)
    with Pipeline(rig.devices, base_dir=base, session="exp") as pipeline:
        pipeline.subscribe(RE)
        (count,) = RE(bp.count([rig.cam1], num=1)).run_start_uids
        (scan,) = RE(bp.scan([rig.cam1], rig.motor, 0, 1, 2)).run_start_uids
        assert pipeline.flush(120), pipeline.registrations.failures
    where = ["--base-dir", str(base)]

    def listed(folder: Path = base) -> list[str]:
        capsys.readouterr()
        return sorted(_uids(folder, capsys))

    def replayed(*argv: str) -> str:
        """The one line ``replay`` printed about the count run (in this process)."""
        assert main(["replay", *argv, *where]) == 0
        (line,) = [line for line in capsys.readouterr().out.splitlines() if count[:8] in line]
        return line

    # In fresh processes, as the issue met it: delete, then replay everything.
    done = _cli("delete", count[:8], *where)
    assert (done.returncode, done.stdout) == (0, f"deleted catalog entry {count}\n"), done.stderr
    assert f"zarrscribe restore {count[:8]}" in done.stderr
    for argv in (["--all"], ["--all", "--check"]):
        done = _cli("replay", *argv, *where)
        assert done.returncode == 0, (argv, done.stdout, done.stderr)
        (line,) = [line for line in done.stdout.splitlines() if count[:8] in line]
        assert "deleted" in line
        assert "catalog: deleted" in line
    assert listed() == ["scan"]
    for target in (count[:8], str(base / "exp" / "count_00000")):
        assert "catalog: deleted" in replayed(target)
    assert listed() == ["scan"]

    copy = tmp_path / "copy"  # a catalog rebuilt from the logs honours it too
    shutil.copytree(base, copy, ignore=shutil.ignore_patterns("catalog"))
    assert main(["replay", "--all", "--base-dir", str(copy)]) == 0
    assert listed(copy) == ["scan"]

    done = _cli("delete", count[:8], "--with-data", "--yes", *where)  # found by its log
    assert done.returncode == 0, done.stderr
    assert f"deleted folder {base.resolve() / 'exp' / 'count_00000'}" in done.stdout
    assert not (base / "exp" / "count_00000").exists()
    done = _cli("restore", count[:8], *where)
    assert done.returncode == 2
    assert "(with its data); its folder was deleted with it: nothing to restore" in done.stderr

    assert main(["delete", scan, *where]) == 0
    assert listed() == []
    capsys.readouterr()
    assert main(["restore", scan[:8], *where]) == 0
    assert f"restored run {scan}" in capsys.readouterr().out
    assert listed() == ["scan"]
    assert main(["replay", "--all", "--check", *where]) == 0
    assert main(["restore", scan[:8], *where]) == 2  # not deleted
    assert "no deleted run with uid" in capsys.readouterr().err
