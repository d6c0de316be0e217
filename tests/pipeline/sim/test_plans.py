"""The demo's plans refuse what they cannot honour when they are made, in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from zarrscribe.pipeline import fly_scan


class Untouchable:
    """A detector that fails the test if the plan touches more than its name."""

    name = "cam1"

    def __getattr__(self, attribute: str) -> Any:
        raise AssertionError(f"the plan touched {attribute!r} of a detector it refuses")


@pytest.mark.parametrize(
    ("detectors", "frames", "message"),
    [
        ([Untouchable()], 0, "fly_scan: num_frames 0 is less than 1; give 1 or more"),
        ([Untouchable()], -3, "fly_scan: num_frames -3 is less than 1"),
        ([Untouchable()], 2.5, "fly_scan: num_frames 2.5 is not a whole number of frames"),
        ([Untouchable()], True, "fly_scan: num_frames True is not a whole number"),
        ([], 5, "fly_scan: no detectors; give at least one"),
    ],
)
def test_fly_scan_refuses_what_it_cannot_honour_when_made(
    detectors: list[Any], frames: Any, message: str
) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")):
        fly_scan(detectors, frames)


def test_fly_scan_of_zero_frames_fails_at_once_in_a_fresh_process(tmp_path: Path) -> None:
    """It used to push frames forever: the RunEngine never returned."""
    code = """
from bluesky import RunEngine
from zarrscribe.pipeline import Pipeline, SimCamera, fly_scan
from zarrscribe.writers import ZarrWriter

cam = SimCamera("cam1", ZarrWriter("default"), shape=(16, 16), exposure=0.0)
RE = RunEngine({})
Pipeline([cam], base_dir="data").subscribe(RE)
RE(fly_scan([cam], 0))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last == "ValueError: fly_scan: num_frames 0 is less than 1; give 1 or more"
    assert not (tmp_path / "data" / "default").exists()  # no run was started
