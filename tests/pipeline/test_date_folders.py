"""A pipeline with date folders: runs under <base>/<YYYY-MM-DD>/<session>/, found again
by replay (which looks one level deeper too)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from bluesky import RunEngine, plans as bp

from zarrscribe.pipeline import Pipeline, SimCamera, SimLight
from zarrscribe.writers import BackgroundSyncs, ZarrWriter


def test_runs_go_into_the_day_they_started_and_replay_finds_them(tmp_path: Path) -> None:
    RE = RunEngine({})
    cam = SimCamera("cam", ZarrWriter("default"), shape=(8, 8), exposure=0.0)
    with Pipeline([cam], base_dir=tmp_path, session="exp1", catalog=None, date_folders=True) as p:
        p.subscribe(RE)
        RE(bp.count([cam], num=2))
        (store,) = tmp_path.glob("*/exp1/count_00000/default.zarr")
        assert len(store.parts[-4]) == 10  # YYYY-MM-DD
        (report,) = p.replay(check=True)
        assert report.ok, report.error
        assert not report.changed, report.differences


def test_every_new_folder_name_of_a_run_is_made_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The log fsyncs its run folder; the run folder's own name (in its session folder),
    the session's (in the date folder) and the date folder's (in base_dir) are fsync'd
    too, so a power loss cannot take a run whose log was synced. Nothing above base_dir."""
    asked: list[Path] = []
    real = BackgroundSyncs.fsync_folder

    def fsync_folder(self: BackgroundSyncs, folder: Path, **kwargs: Any) -> None:
        asked.append(folder)
        real(self, folder, **kwargs)

    monkeypatch.setattr(BackgroundSyncs, "fsync_folder", fsync_folder)
    light = SimLight("light")
    with Pipeline(
        [light], base_dir=tmp_path, session="exp1", catalog=None, date_folders=True
    ) as p:
        p.subscribe(RE := RunEngine({}))
        RE(bp.count([light], num=1))
    (run_dir,) = tmp_path.glob("*/exp1/count_00000")
    for folder in (run_dir, run_dir.parent, run_dir.parent.parent, tmp_path):
        assert folder in asked, (folder, asked)
    assert all(folder.is_relative_to(tmp_path) for folder in asked), asked
