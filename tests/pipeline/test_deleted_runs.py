"""Deleted runs stay deleted: replay, pending registrations and a damaged deletion log."""

from __future__ import annotations

from pathlib import Path

from bluesky import RunEngine, plans as bp

from tests.conftest import Rig
from zarrscribe.catalog import Catalog, DeletionLog
from zarrscribe.pipeline import Pipeline
from zarrscribe.writers.model import Documents


def _two_runs(base: Path, *, catalog: str | None = "embedded") -> list[str]:
    rig = Rig()
    RE = RunEngine({}, call_returns_result=True)
    with Pipeline(rig.devices, base_dir=base, catalog=catalog) as pipeline:
        pipeline.subscribe(RE)
        uids = [
            *RE(bp.count([rig.cam1], num=1)).run_start_uids,
            *RE(bp.count([rig.light], num=1)).run_start_uids,
        ]
        if catalog is not None:
            assert pipeline.flush(120), pipeline.registrations.failures
    return list(uids)


def test_a_deleted_run_that_kept_its_entry_loses_it_at_replay(tmp_path: Path) -> None:
    """A process that died between recording the deletion and removing the entry."""
    base = tmp_path / "data"
    gone, kept = _two_runs(base)
    DeletionLog(base).record_deletion(gone, with_data=False)
    with Pipeline([], base_dir=base) as pipeline:
        checked = {r.uid: r for r in pipeline.replay(check=True)}
        assert checked[gone].catalog == "differs"
        assert checked[gone].changed  # --check exits 1
        assert "is deleted" in checked[gone].differences[0]
        assert gone in pipeline.connect_catalog()
        replayed = {r.uid: r for r in pipeline.replay()}
        assert replayed[gone].catalog == "removed"
        assert gone not in pipeline.connect_catalog()
        assert kept in pipeline.connect_catalog()
        again = {r.uid: r for r in pipeline.replay(check=True)}
        assert again[gone].catalog == "deleted"
        assert not any(r.changed for r in again.values())


def test_a_pending_registration_of_a_deleted_run_is_dropped(tmp_path: Path) -> None:
    base = tmp_path / "data"
    gone, kept = _two_runs(base, catalog=None)  # both wait in the pending folder
    assert len(list((base / ".zarrscribe" / "pending").glob("*.job"))) == 2
    DeletionLog(base).record_deletion(gone, with_data=False)
    with Pipeline([], base_dir=base) as pipeline:
        assert pipeline.flush(120), pipeline.registrations.failures
    catalog = Catalog.from_folder(base)
    assert [r.uid for r in catalog.search()] == [kept]
    assert list((base / ".zarrscribe" / "pending").iterdir()) == []
    catalog.close()


def test_a_damaged_deletion_log_is_named_and_replay_errs(tmp_path: Path) -> None:
    base = tmp_path / "data"
    gone, kept = _two_runs(base)
    log = DeletionLog(base)
    log.record_deletion(gone, with_data=False)
    with open(log.path, "ab") as f:
        f.write(b"not an event\n")
    with Pipeline([], base_dir=base) as pipeline:
        reports = pipeline.replay(check=True)
    errors = [r for r in reports if not r.ok]
    assert len(errors) == 1
    assert f"damaged deletion log: {log.path}:2: not a deletion event" in str(errors[0].error)
    assert {r.uid: r.catalog for r in reports if r.ok} == {gone: "differs", kept: "unchanged"}


def test_a_worker_with_shared_storage_does_not_register_a_deleted_run(tmp_path: Path) -> None:
    from zarrscribe.pipeline.cli.worker import _unless_deleted

    registered: list[str] = []

    def record(documents: Documents, /, *, log: str | None = None) -> None:
        registered.append(documents[0][1]["uid"])

    register = _unless_deleted(record, tmp_path)
    DeletionLog(tmp_path).record_deletion("gone", with_data=True)
    register([("start", {"uid": "gone"})])
    register([("start", {"uid": "kept"})])
    assert registered == ["kept"]


def test_a_worker_with_shared_storage_leaves_deleted_runs_out_of_its_batches(
    tmp_path: Path,
) -> None:
    from zarrscribe.pipeline.cli.worker import _unless_deleted_many

    given: list[list[str]] = []
    failed = ValueError("refused")

    def record(runs: list[tuple[Documents, str | None]], /) -> list[Exception | None]:
        given.append([docs[0][1]["uid"] for docs, _ in runs])
        return [failed if docs[0][1]["uid"] == "bad" else None for docs, _ in runs]

    register_many = _unless_deleted_many(record, tmp_path)
    DeletionLog(tmp_path).record_deletion("gone", with_data=True)
    runs = [([("start", {"uid": uid})], None) for uid in ("kept", "gone", "bad")]
    assert register_many(runs) == [None, None, failed]  # a deleted run is done with
    assert given == [["kept", "bad"]]
