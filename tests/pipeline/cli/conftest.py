"""One demo base directory for every CLI test (the demo is the slow part), and the
servers of its runs the web tests share."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests._servers import PG, postgres_databases
from tests.pipeline.cli._server import Served, run_uids, zarrscribe_serve
from zarrscribe.catalog import new_api_key
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


@pytest.fixture(scope="package", params=["embedded", "postgresql"])
def web_servers(
    request: pytest.FixtureRequest, demo: Demo, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Served]]:
    """The demo's runs served by ``zarrscribe serve`` from its embedded catalog, or from
    PostgreSQL (the runs replayed into it): ``"key required"`` (the key it made) and
    ``"--public"``."""
    assert demo.code == 0, demo.err
    logs = tmp_path_factory.mktemp(f"web-{request.param}")
    public_key = new_api_key()
    with ExitStack() as stack:
        catalog: list[str] = []
        if request.param == "postgresql":
            name = stack.enter_context(postgres_databases("zs_web"))
            catalog = ["--catalog", f"{PG}/{name}"]
        common = ["--base-dir", str(demo.base), *catalog]
        default = stack.enter_context(zarrscribe_serve(*common, log=logs / "default.log"))
        if catalog:  # the demo's runs into the PostgreSQL catalog
            replay = ["replay", "--all", "--base-dir", str(demo.base)]
            replay += ["--catalog", f"{default.url}/api", "--api-key", default.key()]
            done = subprocess.run(
                [str(Path(sys.executable).with_name("zarrscribe")), *replay],
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert done.returncode == 0, done.stderr
        public = stack.enter_context(
            zarrscribe_serve(*common, "--public", "--api-key", public_key, log=logs / "public.log")
        )
        uids = run_uids(default, default.key())
        assert sorted(uids) == ["count", "fly_scan", "scan"]
        yield {
            "key required": Served(default, False, default.key(), uids),
            "--public": Served(public, True, public_key, uids),
        }
