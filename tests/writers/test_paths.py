from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from zarrscribe.writers import SessionPathProvider, WriterError, sanitize_name


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


# ---------------------------------------------------------------- concurrency

_CLAIM_RUNS = """
import sys
from zarrscribe.writers import SessionPathProvider

provider = SessionPathProvider(sys.argv[1], "shared")
for i in range({runs}):
    print(provider("count", run_key=f"{{i}}").run_dir, flush=True)
"""


def test_threads_with_their_own_providers_never_share_a_run_folder(tmp_path: Path) -> None:
    providers = [SessionPathProvider(tmp_path, "shared") for _ in range(4)]
    barrier = threading.Barrier(len(providers))
    claimed: list[list[Path]] = [[] for _ in providers]

    def claim(i: int) -> None:
        barrier.wait()
        claimed[i].extend(providers[i]("count", run_key=f"{i}-{n}").run_dir for n in range(50))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(providers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    folders = [d for per_thread in claimed for d in per_thread]
    assert len(folders) == 200
    assert len(set(folders)) == 200
    assert all(d.is_dir() for d in folders)


def test_processes_on_one_session_never_share_a_run_folder(tmp_path: Path) -> None:
    code = _CLAIM_RUNS.format(runs=50)
    children = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    folders: list[str] = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err[-2000:]
        folders.extend(out.split())
    assert len(folders) == 200
    assert len(set(folders)) == 200
    assert sorted(p.name for p in (tmp_path / "shared").iterdir()) == [
        f"count_{n:05d}" for n in range(200)
    ]


# ---------------------------------------------------------------- long names


def test_a_name_over_the_filesystem_limit_is_shortened_and_kept_apart(tmp_path: Path) -> None:
    p = SessionPathProvider(tmp_path, "s")
    long_a, long_b = "a" * 299 + "x", "a" * 299 + "y"
    info_a = p(long_a, group="g" * 300)
    info_b = p(long_b)
    assert info_a.run_dir.is_dir()
    assert len(info_a.run_dir.name) <= 255
    assert len(info_a.store_path.name) <= 255
    assert info_a.run_dir != info_b.run_dir
    assert info_a.plan_name == sanitize_name(long_a)
    assert info_a.plan_name.startswith("a" * 100)
    # a restarted session finds the shortened folders and continues their counters
    assert SessionPathProvider(tmp_path, "s").next_counter(long_a) == 1


def test_a_base_dir_over_the_path_limit_is_a_writer_error(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*(["d" * 250] * 20))  # over PATH_MAX (4096)
    with pytest.raises(WriterError, match=r"characters\) is too long for the filesystem"):
        SessionPathProvider(deep, "s")


def test_a_session_folder_removed_between_runs_is_made_again(tmp_path: Path) -> None:
    p = SessionPathProvider(tmp_path, "s")
    first = p.run_dir("count", run_key="uid-1")
    first.rmdir()
    (tmp_path / "s").rmdir()
    second = p.run_dir("count", run_key="uid-2")
    assert second == tmp_path / "s" / "count_00001"
    assert second.is_dir()


def test_date_folders_are_opt_in_and_numbers_run_on_across_days(tmp_path: Path) -> None:
    from datetime import datetime

    from zarrscribe.writers import SessionPathProvider

    today = [datetime(2026, 8, 1, 23, 59)]
    paths = SessionPathProvider(tmp_path, "exp1", date_folders=True, clock=lambda: today[0])
    first = paths("count")
    assert first.run_dir == tmp_path / "2026-08-01" / "exp1" / "count_00000"
    today[0] = datetime(2026, 8, 2, 0, 1)  # past midnight: a new day's folder
    second = paths("count")
    assert second.run_dir == tmp_path / "2026-08-02" / "exp1" / "count_00001"
    # a restarted session finds every day's runs: the numbers never repeat
    again = SessionPathProvider(tmp_path, "exp1", date_folders=True, clock=lambda: today[0])
    assert again("count").run_dir.name == "count_00002"
    # without the option, the layout is as before
    assert (
        SessionPathProvider(tmp_path, "exp1")("count").run_dir == tmp_path / "exp1" / "count_00000"
    )
