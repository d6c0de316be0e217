"""A pipeline with date folders: runs under <base>/<YYYY-MM-DD>/<session>/, found again
by replay (which looks one level deeper too)."""

from __future__ import annotations

from pathlib import Path

from bluesky import RunEngine
from bluesky import plans as bp

from zarrscribe.pipeline import Pipeline, SimCamera
from zarrscribe.writers import ZarrWriter


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
