"""The command line for people and scripts: results on stdout, one-line errors, --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.pipeline.cli.conftest import Demo
from zarrscribe.pipeline.cli import main

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
    # progress: every document that announces an event is counted once
    assert "count (scan 1)         events 2/2" in demo.err
    assert "scan (scan 2)          events 2/2" in demo.err
    assert "fly_scan (scan 3)      events 8/8" in demo.err
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
    assert "cam1         2x512x512 <u2" in out
    readings = out[out.index("readings: primary") :].splitlines()
    assert readings[1].split() == ["seq_num", "laser-intensity", "stage_x"]
    assert [row.split()[2] for row in readings[3:5]] == ["0", "10"]  # the motor positions

    code, out, _ = _run(capsys, "show", uid, "--base-dir", base, "--json")
    shown = json.loads(out)
    assert list(shown) == SHOW_KEYS
    assert shown["readings"]["primary"]["stage_x"] == [0.0, 10.0]
    assert set(shown["arrays"]) == {"cam1", "cam2"}
    # devices in plan_args are their names, not "<SimCamera object at 0x...>"
    assert shown["start"]["plan_args"]["detectors"] == ["cam1", "cam2", "laser"]
    assert shown["start"]["plan_args"]["args"] == ["stage_x", 0, 10]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["runs", "--status", "bogus"],
            "argument --status: invalid choice: 'bogus' "
            "(choose from 'success', 'abort', 'fail', 'incomplete')",
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
