"""Opening a data folder a pipeline wrote, as a new user does, each in a fresh process:
one call finds its catalog; a folder without one says how to build it; nothing ever
makes an empty catalog beside real data."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from bluesky import RunEngine, plans as bp

from tests.conftest import Rig
from zarrscribe.catalog import Catalog, CatalogError
from zarrscribe.pipeline import Pipeline


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with two runs and its catalog, as a pipeline leaves it."""
    base = tmp_path_factory.mktemp("folder") / "data"
    rig = Rig()
    RE = RunEngine({}, call_returns_result=True)
    with Pipeline(rig.devices, base_dir=base, session="exp1") as pipeline:
        pipeline.subscribe(RE)
        RE(bp.count([rig.cam1], num=2))
        RE(bp.scan([rig.cam1], rig.motor, 0, 1, 2))
        assert pipeline.flush(120), pipeline.registrations.failures
    return base


def _python(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter, as a user's script."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _files(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*")}


def _without_catalog(base: Path, where: Path) -> Path:
    """A copy of the runs of ``base`` (logs and stores), without its catalog."""
    copy = where / "copied"
    shutil.copytree(base, copy, ignore=shutil.ignore_patterns(".zarrscribe"))
    return copy


def test_one_call_opens_the_catalog_of_a_folder(base: Path) -> None:
    done = _python(
        f"""
        from zarrscribe.catalog import Catalog
        catalog = Catalog.from_folder({str(base)!r})
        print(sorted(r.plan_name for r in catalog.search()))
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "['count', 'scan']"


def test_the_natural_guess_refuses_to_make_an_empty_catalog_beside_real_data(
    base: Path,
) -> None:
    before = _files(base)
    done = _python(
        f"""
        from zarrscribe.catalog import Catalog, CatalogError
        try:
            Catalog.embedded({str(base)!r}, readable=[{str(base)!r}])
        except CatalogError as e:
            print(e)
        """
    )
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    assert "is a zarrscribe data folder, not a catalog directory" in line
    assert f"Catalog.from_folder({str(base)!r})" in line
    assert _files(base) == before  # no catalog.db, no data/ beside the runs


@pytest.mark.parametrize("inside", ["exp1", "exp1/count_00000"])
def test_session_and_run_folders_are_not_catalog_directories(base: Path, inside: str) -> None:
    with pytest.raises(CatalogError, match="is a zarrscribe data folder"):
        Catalog.embedded(base / inside, readable=[base])
    assert not (base / inside / "catalog.db").exists()


def test_a_folder_with_runs_but_no_catalog_says_how_to_build_it(
    base: Path, tmp_path: Path
) -> None:
    copy = _without_catalog(base, tmp_path)
    before = _files(copy)
    done = _python(
        f"""
        from zarrscribe.catalog import Catalog, CatalogError
        try:
            Catalog.from_folder({str(copy)!r})
        except CatalogError as e:
            print(e)
        """
    )
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    assert f"'zarrscribe replay --all --base-dir {copy}'" in line
    assert "has 2 run logs but no catalog" in line
    assert _files(copy) == before  # nothing created

    cli = Path(sys.executable).parent / "zarrscribe"
    runs = subprocess.run(
        [str(cli), "runs", "--base-dir", str(copy)], capture_output=True, text=True, timeout=120
    )
    assert runs.returncode == 2
    (error,) = runs.stderr.splitlines()
    assert f"zarrscribe replay --all --base-dir {copy}" in error
    assert "zarrscribe demo" not in error
    served = subprocess.run(
        [str(cli), "serve", "--base-dir", str(copy)], capture_output=True, text=True, timeout=120
    )
    assert served.returncode == 2
    assert f"zarrscribe replay --all --base-dir {copy}" in served.stderr
    assert _files(copy) == before

    replay = subprocess.run(
        [str(cli), "replay", "--all", "--base-dir", str(copy)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert replay.returncode == 0, replay.stderr
    done = _python(
        f"""
        from zarrscribe.catalog import Catalog
        print(len(Catalog.from_folder({str(copy)!r}).search()))
        """
    )
    assert done.stdout.splitlines()[-1] == "2", done.stderr


def test_folders_without_runs_say_what_is_wrong(base: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CatalogError, match=r"holds no zarrscribe data .*zarrscribe demo"):
        Catalog.from_folder(empty)
    assert _files(empty) == set()
    with pytest.raises(CatalogError, match="is not a folder"):
        Catalog.from_folder(tmp_path / "missing")
    assert not (tmp_path / "missing").exists()
    run = base / "exp1" / "count_00000"
    with pytest.raises(CatalogError, match=rf"inside the data folder {base}; open that"):
        Catalog.from_folder(run)
