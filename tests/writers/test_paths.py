from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from zarrscribe.writers import SessionPathProvider, WriterError

if TYPE_CHECKING:
    from pathlib import Path


def test_counters_increment_per_plan_independently(tmp_path: Path) -> None:
    p = SessionPathProvider(base_dir=tmp_path, session="exp1")
    a0, a1 = p("count"), p("count")
    b0 = p("scan")
    assert a0.store_path == tmp_path / "exp1" / "count_00000" / "default.zarr"
    assert a1.store_path == tmp_path / "exp1" / "count_00001" / "default.zarr"
    assert b0.store_path == tmp_path / "exp1" / "scan_00000" / "default.zarr"
    assert a0.store_uri == a0.store_path.as_uri()
    assert (a0.counter, a1.counter, b0.counter) == (0, 1, 0)


def test_groups_of_one_run_share_its_folder(tmp_path: Path) -> None:
    p = SessionPathProvider(tmp_path, "s")
    main = p("count", group="default", run_key="uid-1")
    side = p("count", group="side", run_key="uid-1")
    nxt = p("count", group="default", run_key="uid-2")
    assert main.run_dir == side.run_dir != nxt.run_dir
    assert side.store_path.name == "side.zarr"


@pytest.mark.parametrize(
    "existing",
    ["count_00004", "count_00004.zarr", "count_00004-default.zarr", "count_00004-side"],
)
def test_restart_continues_counters(tmp_path: Path, existing: str) -> None:
    (tmp_path / "s" / existing).mkdir(parents=True)
    (tmp_path / "s" / "my_scan_00002").mkdir()
    p = SessionPathProvider(tmp_path, "s")
    assert p("count").counter == 5
    assert p("my_scan").counter == 3
    assert p("other").counter == 0


def test_restart_after_real_runs_never_overwrites(tmp_path: Path) -> None:
    first = SessionPathProvider(tmp_path, "s")
    used = [first("count") for _ in range(3)]
    for info in used:
        info.store_path.mkdir(parents=True)
    again = SessionPathProvider(tmp_path, "s")
    assert again("count").store_path not in {u.store_path for u in used}
    assert again("count").counter == 4


def test_never_returns_an_existing_location(tmp_path: Path) -> None:
    p = SessionPathProvider(tmp_path, "s")
    (tmp_path / "s" / "count_00000").mkdir(parents=True)  # appears after construction
    assert p("count").counter == 1


@pytest.mark.parametrize(
    ("plan", "group", "expected"),
    [
        ("../../etc", "default", "etc_00000/default.zarr"),
        ("count", "../../../x", "count_00000/x.zarr"),
        ("my plan/with:stuff", "a b", "my_plan_with_stuff_00000/a_b.zarr"),
    ],
)
def test_names_are_sanitised(tmp_path: Path, plan: str, group: str, expected: str) -> None:
    info = SessionPathProvider(tmp_path, "s")(plan, group=group)
    assert info.store_path == tmp_path / "s" / expected
    assert info.store_path.resolve().is_relative_to((tmp_path / "s").resolve())


@pytest.mark.parametrize("bad", ["", "..", "/", "...//"])
def test_names_without_content_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(WriterError, match="has no letters or digits"):
        SessionPathProvider(tmp_path, "s")(bad)
    with pytest.raises(WriterError, match="session name"):
        SessionPathProvider(tmp_path, bad)
