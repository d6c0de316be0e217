"""A real full disk (a small tmpfs): the run fails with a clear error, what reached the
disk stays readable, and replay restores the rule once there is space again."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from bluesky import RunEngine
from bluesky import plans as bp

from tests.pipeline.faults.test_faults import check_the_rule
from zarrscribe.pipeline import Pipeline, SimCamera
from zarrscribe.pipeline.cli import main as cli
from zarrscribe.writers import ZarrWriter
from zarrscribe.writers.model import INCOMPLETE, ZarrscribeError


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_full_disk_fails_the_run_clearly_and_loses_nothing_that_reached_it(
    small_disk: Path,
) -> None:
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (40 << 20))  # 24 MiB left for 40 MiB of frames
    base = small_disk / "data"
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
