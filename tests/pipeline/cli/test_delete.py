"""``zarrscribe delete``: the catalog entry; with ``--with-data`` the run folder, nothing else."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from bluesky import RunEngine
from bluesky import plans as bp

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

    assert main(["delete", uids["scan"], "--base-dir", str(base)]) == 2
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
