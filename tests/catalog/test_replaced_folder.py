"""A long-lived process (a notebook, a GUI) whose data folder is deleted and made again
at the same path: a new pipeline there registers and reads its runs, not the old ones."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from bluesky import RunEngine, plans as bp

from tests.conftest import Rig
from zarrscribe.pipeline import Pipeline


def _count(base: Path) -> tuple[Pipeline, str, np.ndarray]:
    rig = Rig()
    pipeline = Pipeline(rig.devices, base_dir=base, session="s")
    RE = RunEngine({}, call_returns_result=True)
    pipeline.subscribe(RE)
    (uid,) = RE(bp.scan([rig.cam1], rig.motor, 0, 1, 3)).run_start_uids
    assert pipeline.flush(60), pipeline.registrations.failures
    return pipeline, uid, np.stack(rig.cam1.pushed)


def test_a_folder_deleted_and_made_again_in_one_process(tmp_path: Path) -> None:
    base = tmp_path / "data"
    first, old_uid, _ = _count(base)
    catalog = first.connect_catalog()
    assert catalog.read_array(old_uid, "cam1").shape == (3, 32, 40)  # Tiled has it open
    try:
        shutil.rmtree(base)  # the old pipeline is still alive, as in a notebook
        second, uid, frames = _count(base)
        try:
            catalog = second.connect_catalog()
            assert [r.uid for r in catalog.search()] == [uid]
            assert catalog.readings(uid)["primary"]["m1"] == [0.0, 0.5, 1.0]
            np.testing.assert_array_equal(catalog.read_array(uid, "cam1"), frames)
            assert old_uid not in [r.uid for r in catalog.search()]
            assert [key for key in catalog.client] == [uid]  # Tiled sees the new catalog
        finally:
            second.close()
    finally:
        first.close()
