"""The README's Python examples run as written (in a fresh process, on a folder of ours)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parents[1] / "README.md"


def _first_python_block(after_heading: str) -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index(f"\n## {after_heading}\n") :]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, f"no Python example under '## {after_heading}'"
    return match.group(1)


CHECK = """
print(len(catalog.search()), frames.shape, sorted(catalog.readings(run.uid)["primary"]))
pipeline.close()
"""


def _run(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``code`` run in a fresh process, its data under ``tmp_path``; it must succeed."""
    code = code.replace('"/data"', repr(str(tmp_path / "data")))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_use_it_and_ophyd_async_examples_run(tmp_path: Path) -> None:
    code = (
        _first_python_block("Use it")
        + CHECK
        + _first_python_block("ophyd-async detectors in the same store")
    )
    code += "\nassert pipeline.flush(120)\npipeline.close()\n"
    done = _run(code, tmp_path)
    assert done.stdout.strip().splitlines()[-1] == "1 (10, 512, 512) ['seq_num', 'time', 'x']"


def test_derived_frames_example_runs(tmp_path: Path) -> None:
    code = _first_python_block("Use it") + _first_python_block(
        "Derived frames: a running median of a camera"
    )
    code += "\nprint(background.shape, background.dtype)\npipeline.close()\n"
    done = _run(code, tmp_path)
    assert done.stdout.strip().splitlines()[-1] == "(2, 512, 512) float32"
