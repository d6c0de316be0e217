"""A real full disk (a small tmpfs): the run fails with a clear error, what reached the
disk stays readable, and everything comes back once there is space again (the disk is
grown, as a person freeing space would), with no hand repair."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bluesky import RunEngine, plans as bp

from tests.conftest import fill_disk, grow_disk, small_disk
from tests.pipeline.faults.test_faults import check_the_rule
from zarrscribe.pipeline import Pipeline, SimCamera, fly_scan
from zarrscribe.pipeline.cli import main as cli
from zarrscribe.writers import ZarrWriter
from zarrscribe.writers.model import INCOMPLETE, LOG_NAME, STATE_DIR, ZarrscribeError


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with small_disk(tmp_path / "disk", 64) as mount:
        yield mount


def test_a_full_disk_fails_the_run_clearly_and_loses_nothing_that_reached_it(
    disk: Path,
) -> None:
    filler = disk / "filler"
    filler.write_bytes(b"\0" * (40 << 20))  # 24 MiB left for 40 MiB of frames
    base = disk / "data"
    writer = ZarrWriter("default")
    cam = SimCamera("cam1", writer, shape=(512, 512), exposure=0.0, seed=5)
    RE = RunEngine({})
    pipeline = Pipeline([cam], base_dir=base, catalog=None)
    pipeline.subscribe(RE)
    with pytest.raises(Exception, match="space") as raised:
        RE(bp.count([cam], num=80))
    chain, error = [], raised.value
    while error is not None:
        chain.append(error)
        error = error.__cause__ or error.__context__  # type: ignore[assignment]
    ours = [e for e in chain if isinstance(e, ZarrscribeError)]
    assert ours, f"no zarrscribe error in {chain!r}"
    with contextlib.suppress(ZarrscribeError):  # a clear error, never a raw OSError
        pipeline.close(1.0)
    filler.unlink()  # space again
    assert cli(["replay", "--all", "--base-dir", str(base)]) in (0, 1)
    statuses = check_the_rule(base)
    assert list(statuses.values()) in (["fail"], [INCOMPLETE])


def _files(base: Path) -> list[str]:
    return sorted(str(p.relative_to(base)) for p in base.rglob("*") if p.is_file())


def test_a_full_disk_that_grows_again_comes_back_with_no_hand_repair(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with small_disk(tmp_path / "disk", 16) as disk:
        base = disk / "data"
        # Room for a small run, none for a catalog (its database needs ~300 KiB).
        fill_disk(disk, "filler", leave=64 << 10)
        writer = ZarrWriter("default")
        cam = SimCamera("cam1", writer, shape=(16, 16), exposure=0.0, seed=5)
        RE = RunEngine({}, call_returns_result=True)
        pipeline = Pipeline([cam], base_dir=base)
        pipeline.subscribe(RE)
        (uid,) = RE(bp.count([cam], num=3)).run_start_uids  # the run itself fits
        deadline = time.monotonic() + 120  # the catalog cannot be made: the registration waits
        while uid not in pipeline.registrations.failures and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "disk is full" in pipeline.registrations.failures[uid]
        assert pipeline.registrations.pending() == [uid]
        assert (base / STATE_DIR / "catalog" / "catalog.db").exists()  # made, without tables

        # Now not a byte is left: the next run cannot start, and leaves nothing.
        fill_disk(disk, "filler2")
        before = _files(base)
        with pytest.raises(ZarrscribeError) as raised:
            RE(bp.count([cam], num=3))
        assert "No space left on device" in str(raised.value)  # the disk error itself
        assert "\n" not in str(raised.value)
        assert _files(base) == before  # no log, no store, no job
        assert len(list(base.glob(f"*/*/{LOG_NAME}"))) == 1
        assert pipeline.registrations.pending() == [uid]
        capsys.readouterr()
        # The catalog cannot be made: the run is queued, or (when not even its job file
        # fits) the error says why, in the disk's words.
        code = cli(["replay", "--all", "--base-dir", str(base)])
        out, err = capsys.readouterr()
        if code == 0:
            assert "catalog: queued" in out, out
        else:
            assert code == 2, out
            assert "No space left on device" in out, out
        said = out + err + caplog.text  # (a warning: on stderr, outside pytest)
        assert "disk is full" in said  # why the catalog is not there
        assert "Traceback" not in out + err

        # Space again: the same pipeline's queue lands the registration by itself
        # (the empty catalog database is initialised), and replay finds nothing to do.
        grow_disk(disk, 64)
        assert pipeline.flush(120), pipeline.registrations.failures
        assert pipeline.registrations.pending() == []
        RE(bp.count([cam], num=2))  # and runs go on as usual
        pipeline.close(30)
        assert cli(["replay", "--all", "--base-dir", str(base)]) == 0
        assert cli(["replay", "--all", "--check", "--base-dir", str(base)]) == 0
        logs = list(base.glob(f"*/*/{LOG_NAME}"))
        assert len(logs) == 2
        assert all(log.stat().st_size for log in logs)  # no empty logs
        assert not list((base / STATE_DIR / "pending").iterdir())  # no job left, none half-made
        statuses = check_the_rule(base)
        assert statuses[uid] == "success"
        assert sorted(statuses.values()) == ["success", "success"]


def test_a_disk_filling_mid_fly_scan_fails_it_with_the_disk_error(tmp_path: Path) -> None:
    """The cameras are still pushing when the log finds the disk full: the user sees
    the disk error, not what the run's end did to the cameras ("source is not open"),
    and not the consequences at the stop document."""
    with small_disk(tmp_path / "disk", 16) as disk:
        base = disk / "data"
        writer = ZarrWriter("default")
        cams = [
            SimCamera(f"cam{i}", writer, shape=(256, 256), exposure=0.002, seed=i) for i in (1, 2)
        ]
        RE = RunEngine({})
        pipeline = Pipeline(cams, base_dir=base, catalog=None)
        pipeline.subscribe(RE)
        # the log's error, or a camera's status: the disk's words either way
        with pytest.raises(Exception, match="No space left on device") as raised:
            RE(fly_scan(cams, 400, collect_every=0.01))
        message = str(raised.value)
        assert "is not open" not in message
        assert "stop document" not in message
        with contextlib.suppress(ZarrscribeError):
            pipeline.close(1.0)
        grow_disk(disk, 256)
        assert cli(["replay", "--all", "--base-dir", str(base)]) == 0
        assert list(check_the_rule(base).values()) in (["fail"], [INCOMPLETE])
