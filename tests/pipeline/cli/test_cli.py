"""The command line for people and scripts: results on stdout, one-line errors, --json."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from tests._ome import ome_image
from tests.pipeline.cli.conftest import Demo
from zarrscribe.catalog import embedded_catalog
from zarrscribe.pipeline.cli import main, show

RUN_KEYS = [
    "uid",
    "scan_id",
    "plan_name",
    "start_time",
    "started",
    "exit_status",
    "devices",
    "stores",
    "num_events",
]
ARRAY_KEYS = ["store", "path", "stream", "streams", "shape", "announced", "dtype"]
SHOW_KEYS = [
    "uid",
    "plan_name",
    "scan_id",
    "start_time",
    "started",
    "exit_status",
    "reason",
    "log",
    "start",
    "configuration",
    "arrays",
    "readings",
]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_demo_prints_the_table_on_stdout_and_progress_that_counts_right(demo: Demo) -> None:
    assert demo.code == 0, demo.err
    lines = demo.out.splitlines()
    assert lines[0].split() == [
        "uid",
        "scan",
        "plan",
        "started",
        "status",
        "events",
        "devices",
        "stores",
    ]
    assert [line.split()[2] for line in lines[2:]] == ["fly_scan", "scan", "count"]
    assert "demo/fly_scan_00000/default.zarr" in demo.out
    # --frames 2 is two frames per camera in every plan, each with its stores (the fly
    # scan's third event is the summary of its running median)
    assert [line.split()[6] for line in lines[2:]] == ["3", "2", "2"]
    assert all("default.zarr" in line for line in lines[2:])
    # progress: every document that announces an event is counted once
    assert "count (scan 1)         events 2/2" in demo.err
    assert "scan (scan 2)          events 2/2" in demo.err
    assert "fly_scan (scan 3)      events 2/2" in demo.err
    assert "Tiled version" not in demo.err + demo.out


def test_runs_table_and_json(demo: Demo, capsys: pytest.CaptureFixture[str]) -> None:
    base = str(demo.base)
    code, out, err = _run(capsys, "runs", "--base-dir", base, "--plan", "scan")
    assert code == 0, err
    assert len(out.splitlines()) == 3  # header, rule, one run
    assert "Tiled version" not in err

    code, out, _ = _run(capsys, "runs", "--base-dir", base, "--json")
    runs = json.loads(out)
    assert [r["plan_name"] for r in runs] == ["fly_scan", "scan", "count"]
    assert all(list(r) == RUN_KEYS for r in runs)
    assert runs[2]["num_events"] == {"primary": 2}
    assert runs[2]["devices"] == ["cam1", "cam2", "cam3", "laser"]

    # a start-document key that has its own option works through --key too
    code, out, _ = _run(capsys, "runs", "--base-dir", base, "--key", "plan_name=count", "--json")
    assert code == 0
    assert [r["plan_name"] for r in json.loads(out)] == ["count"]
    code, out, _ = _run(
        capsys, "runs", "--base-dir", base, "--device", "cam3", "--key", "sample=cells", "--json"
    )
    assert [r["plan_name"] for r in json.loads(out)] == ["fly_scan"]

    code, out, err = _run(capsys, "runs", "--base-dir", base, "--status", "abort")
    assert (code, out, err) == (0, "", "no runs match\n")
    code, out, _ = _run(capsys, "runs", "--base-dir", base, "--status", "abort", "--json")
    assert json.loads(out) == []


def test_show_table_readings_and_json(demo: Demo, capsys: pytest.CaptureFixture[str]) -> None:
    base = str(demo.base)
    _, out, _ = _run(capsys, "runs", "--base-dir", base, "--plan", "scan", "--json")
    uid = json.loads(out)[0]["uid"]

    code, out, err = _run(capsys, "show", uid[:8], "--base-dir", base)
    assert code == 0, err
    arrays = out[out.index("arrays\n") :].splitlines()
    assert arrays[1].split() == ["key", "shape", "dtype", "store/path"]
    assert arrays[3].split() == ["cam1", "2x512x512", "<u2", "demo/scan_00000/default.zarr/cam1/0"]
    readings = out[out.index("readings: primary") :].splitlines()
    assert readings[1].split() == ["seq_num", "laser-intensity", "stage_x"]
    assert [row.split()[2] for row in readings[3:5]] == ["0", "10"]  # the motor positions

    code, out, _ = _run(capsys, "show", uid, "--base-dir", base, "--json")
    shown = json.loads(out)
    assert list(shown) == SHOW_KEYS
    assert shown["readings"]["primary"]["stage_x"] == [0.0, 10.0]
    assert set(shown["arrays"]) == {"cam1", "cam2"}
    assert shown["arrays"]["cam1"] == {
        "store": "demo/scan_00000/default.zarr",  # relative to the base directory
        "path": "cam1/0",  # the array inside the store
        "stream": "primary",
        "streams": {"primary": [[0, 2]]},
        "shape": [2, 512, 512],
        "announced": 2,
        "dtype": "<u2",
    }
    assert shown["log"] == "demo/scan_00000/documents.jsonl"
    # devices in plan_args are their names, not "<SimCamera object at 0x...>"
    assert shown["start"]["plan_args"]["detectors"] == ["cam1", "cam2", "laser"]
    assert shown["start"]["plan_args"]["args"] == ["stage_x", 0, 10]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["runs", "--status", "bogus"],
            "argument --status: invalid choice: 'bogus' "
            "(choose from 'success', 'abort', 'fail', 'incomplete', 'running')",
        ),
        (["runs", "--status", "sucess"], "did you mean 'success'?"),
        (["runs", "--limit", "0"], "argument --limit: 0 is less than 1"),
        (["runs", "--scan-id", "x"], "argument --scan-id: invalid int value: 'x'"),
        (["serve", "--port", "99999"], "argument --port: 99999 is not a port number (1-65535)"),
        (["rns"], "invalid choice: 'rns' (choose from 'demo', 'runs', 'show', 'delete', "),
    ],
)
def test_bad_values_are_one_line_with_the_choices(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.splitlines()) == 1, captured.err
    assert message in captured.err


def test_a_mistyped_option_shows_the_verbs_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["runs", "--plna", "scan"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: zarrscribe runs ")
    assert err.splitlines()[-1] == (
        "zarrscribe runs: error: unrecognized arguments: --plna scan (did you mean --plan?)"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["runs", "--key", "oops"], "--key 'oops' must be KEY=VALUE (e.g. sample=beads)"),
        (["runs", "--key", "limit=3"], "filter 'limit' with --limit 3, not --key"),
        (["runs", "--plan", "scan", "--key", "plan_name=count"], "contradicts --plan scan"),
        (["runs", "--since", "yesterday"], "--since 'yesterday' is neither epoch seconds nor"),
        (["replay"], "say what to replay: UID, run folder, --plan/--status, or --all"),
        (["runs"], "holds no zarrscribe data"),
        (["serve"], "or pass --catalog postgresql:"),
        (["serve", "--catalog", "http://host:8000/api"], "an http:// URI is a server already"),
    ],
)
def test_bad_requests_are_one_line_errors(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, *argv, "--base-dir", str(tmp_path))
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith(f"zarrscribe {argv[0]}: error: ")
    assert message in err


def test_show_aligns_its_columns_whatever_the_sizes() -> None:
    shown = {
        "uid": "u",
        "start": {},
        "started": "2026-12-03T09:00:00",
        "exit_status": "success",
        "reason": "",
        "log": "",
        "configuration": {},
        "arrays": {
            "camera_long_name": {
                "store": "s/a.zarr",
                "path": "camera_long_name/0",
                "shape": [1000, 2048, 2048],
                "dtype": "<u2",
            },
            "c": {"store": "s/a.zarr", "path": "c/0", "shape": [2, 8, 8], "dtype": "<f8"},
        },
    }
    out = io.StringIO()
    show._text(shown, out)
    rows = out.getvalue().splitlines()[-2:]
    assert rows[0].index("<u2") == rows[1].index("<f8")
    assert rows[0].index("s/a.zarr") == rows[1].index("s/a.zarr")


def test_runs_json_and_summaries_give_stores_relative_to_the_base_dir(
    demo: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = _run(capsys, "runs", "--base-dir", str(demo.base), "--json")
    fly = json.loads(out)[0]
    expected = ["demo/fly_scan_00000/default.zarr", "demo/fly_scan_00000/side.zarr"]
    assert fly["stores"] == expected
    catalog = embedded_catalog(demo.base)
    try:
        assert list(catalog.search(plan_name="fly_scan")[0].stores) == expected
        assert all((catalog.base_dir / s / "zarr.json").is_file() for s in expected)
    finally:
        catalog.close()


def _readme_keys(marker: str) -> set[str]:
    """The quoted keys of the README's description of ``marker`` (a ``--json`` verb)."""
    text = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
    start = text.index(f"- `{marker}`:")
    end = text.find("\n- ", start + 1)
    end = text.index("\n\n", start) if end < 0 else min(end, text.index("\n\n", start))
    return set(re.findall(r'"([a-z_]+)"', text[start:end]))


def test_readme_documents_every_json_key(demo: Demo, capsys: pytest.CaptureFixture[str]) -> None:
    assert _readme_keys("runs --json") == set(RUN_KEYS)
    assert _readme_keys("show --json") == set(SHOW_KEYS) | set(ARRAY_KEYS)
    _, out, _ = _run(capsys, "runs", "--base-dir", str(demo.base), "--json")
    uid = json.loads(out)[0]["uid"]
    _, out, _ = _run(capsys, "show", uid, "--base-dir", str(demo.base), "--json")
    shown = json.loads(out)
    assert all(list(array) == ARRAY_KEYS for array in shown["arrays"].values())


def test_demo_cameras_declare_their_pixel_size(demo: Demo) -> None:
    """The README's viewer section: micrometer axes and scale [1, 0.65, 0.65] for cam1."""
    image = ome_image(demo.base / "demo" / "fly_scan_00000" / "default.zarr" / "cam1")
    assert [a.get("unit") for a in image.metadata["axes"]] == [None, "micrometer", "micrometer"]
    assert image.metadata["coordinateTransformations"] == [
        [{"type": "scale", "scale": [1.0, 0.65, 0.65]}]
    ]


def _day(demo: Demo, capsys: pytest.CaptureFixture[str]) -> date:
    _, out, _ = _run(capsys, "runs", "--base-dir", str(demo.base), "--json")
    (day,) = {datetime.fromtimestamp(r["start_time"]).date() for r in json.loads(out)}
    return day


@pytest.mark.parametrize(
    ("option", "shift", "found"),
    [
        ("--until", 0, 3),  # a date alone is that whole day
        ("--since", 0, 3),  # from its first second
        ("--until", -1, 0),
        ("--since", 1, 0),
    ],
)
def test_a_date_alone_means_the_whole_day(
    option: str, shift: int, found: int, demo: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    day = _day(demo, capsys) + timedelta(days=shift)
    code, out, err = _run(
        capsys, "runs", "--base-dir", str(demo.base), option, day.isoformat(), "--json"
    )
    assert code == 0, err
    assert len(json.loads(out)) == found
    catalog = embedded_catalog(demo.base)
    try:
        assert len(catalog.search(**{option.removeprefix("--"): day})) == found
    finally:
        catalog.close()


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["--plan", "scn"], "no runs match plan 'scn'; did you mean 'scan'?"),
        (["--device", "cam"], "no runs match device 'cam'; did you mean 'cam1' or 'cam2' or"),
        (
            ["--plan", "xyz"],
            "no runs match plan 'xyz'; plans in the catalog: count, fly_scan, scan",
        ),
        (["--plan", "scan", "--status", "abort"], "no runs match"),
    ],
)
def test_a_query_that_finds_nothing_suggests_the_names_that_exist(
    argv: list[str], line: str, demo: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, "runs", "--base-dir", str(demo.base), *argv)
    assert (code, out) == (0, "")
    assert err.count("\n") == 1
    assert err.startswith(line)


def test_replay_counts_in_english(demo: Demo, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = _run(capsys, "runs", "--base-dir", str(demo.base), "--plan", "count", "--json")
    uid = json.loads(out)[0]["uid"]
    code, out, err = _run(capsys, "replay", uid, "--check", "--base-dir", str(demo.base))
    assert code == 0, err
    assert out.splitlines()[-1] == "1 run: 0 differ, 0 errors"


def _fresh(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m zarrscribe ARGV`` in a fresh process (bounded: a hang fails)."""
    return subprocess.run(
        [sys.executable, "-m", "zarrscribe", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_python_m_zarrscribe_is_the_command_line(tmp_path: Path) -> None:
    done = _fresh("--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: zarrscribe ")
    done = _fresh("runs", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("zarrscribe runs: error: "), done.stderr
    assert "zarrscribe-data is not a folder" in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        ("0", "argument --frames: 0 is less than 1"),
        ("-1", "argument --frames: -1 is less than 1"),
        ("2.5", "argument --frames: '2.5' is not a whole number"),
    ],
)
def test_demo_refuses_frames_it_cannot_take_up_front(
    frames: str, message: str, tmp_path: Path
) -> None:
    done = _fresh("demo", "--frames", frames, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1, done.stderr
    assert message in done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing made


def test_a_package_missing_from_the_install_is_one_line(tmp_path: Path) -> None:
    database = tmp_path / ".zarrscribe" / "catalog" / "catalog.db"  # opened through Tiled
    database.parent.mkdir(parents=True)
    database.touch()
    code = (
        "import sys\n"
        "sys.modules['tiled'] = None  # as if the install lost it\n"
        "from zarrscribe.pipeline.cli import main\n"
        f"sys.exit(main(['show', 'abc', '--base-dir', {str(tmp_path)!r}]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "zarrscribe show: error: zarrscribe needs 'tiled', which is not installed although "
        "zarrscribe depends on it; reinstall with: pip install --force-reinstall zarrscribe\n"
    )
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == [
        Path(".zarrscribe"),
        Path(".zarrscribe/catalog"),
        Path(".zarrscribe/catalog/catalog.db"),
    ]
    assert database.stat().st_size == 0
