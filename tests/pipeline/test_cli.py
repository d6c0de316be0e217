from __future__ import annotations

from pathlib import Path

import pytest

from zarrscribe.pipeline.cli import main


def test_demo_then_query_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = str(tmp_path / "data")
    assert main(["demo", "--base-dir", base, "--frames", "4"]) == 0
    out = capsys.readouterr().out
    assert "fly_scan" in out
    assert "demo/fly_scan_00000/default.zarr" in out
    assert out.count("success") >= 3

    assert main(["runs", "--base-dir", base, "--plan", "scan"]) == 0
    runs = capsys.readouterr().out.splitlines()
    assert len(runs) == 3  # header, rule, one run
    uid = runs[2].split()[0]

    assert main(["runs", "--base-dir", base, "--device", "cam3", "--key", "sample=cells"]) == 0
    assert "fly_scan" in capsys.readouterr().out

    assert main(["show", uid, "--base-dir", base]) == 0
    shown = capsys.readouterr().out
    assert "stage_x" in shown
    assert "cam1         1x512x512 <u2" in shown


def test_errors_are_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--base-dir", str(tmp_path)]) == 2
    assert "no catalog under" in capsys.readouterr().err
    with pytest.raises(SystemExit, match="must be KEY=VALUE"):
        main(["runs", "--base-dir", str(tmp_path), "--key", "oops"])
    with pytest.raises(SystemExit, match="neither epoch seconds nor ISO 8601"):
        main(["runs", "--base-dir", str(tmp_path), "--since", "yesterday"])
