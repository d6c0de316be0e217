"""One demo base directory for every CLI test (the demo is the slow part)."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import pytest

from zarrscribe.pipeline.cli import main


@dataclass(frozen=True)
class Demo:
    """A base directory filled by ``zarrscribe demo`` and what the demo printed."""

    base: Path
    out: str
    err: str
    code: int


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    base = tmp_path_factory.mktemp("cli") / "data"
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["demo", "--base-dir", str(base), "--frames", "2"])
    return Demo(base, out.getvalue(), err.getvalue(), code)
