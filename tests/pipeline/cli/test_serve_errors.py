"""``zarrscribe serve`` as a stranger meets it when something is wrong, in a fresh
process: one line on stderr, before any banner, within seconds; and it stops on SIGINT
and SIGTERM within seconds. A verb given a server that is down answers in seconds too."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests._servers import PG, free_port, serving
from tests.pipeline.cli.conftest import Demo

ZARRSCRIBE = str(Path(sys.executable).with_name("zarrscribe"))
PROMPT = 20.0
"""Seconds a failing command may take here (a cold start on a busy 2-core machine; it
took 26-45 s before)."""


def _run(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TILED_RETRY")}
    started = time.monotonic()
    done = subprocess.run(
        [ZARRSCRIBE, *args], capture_output=True, text=True, timeout=120, env=env
    )
    return done, time.monotonic() - started


def _one_line_error(done: subprocess.CompletedProcess[str], verb: str = "serve") -> str:
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""  # no banner, no key printed
    (line,) = done.stderr.splitlines()
    assert line.startswith(f"zarrscribe {verb}: error: ")
    return line


def test_a_port_in_use_is_one_line_before_the_banner(demo: Demo) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done, took = _run("serve", "--base-dir", str(demo.base), "--port", str(port))
    line = _one_line_error(done)
    assert f"cannot listen on 127.0.0.1 port {port}: it is in use" in line
    assert took < PROMPT


def test_an_unknown_host_is_one_line(demo: Demo) -> None:
    done, _ = _run("serve", "--base-dir", str(demo.base), "--host", "no-such-host.invalid")
    assert "--host 'no-such-host.invalid'" in _one_line_error(done)


@pytest.mark.parametrize("kind", ["missing", "a file"])
def test_a_bad_base_dir_is_one_line(tmp_path: Path, kind: str) -> None:
    base = tmp_path / "data"
    if kind == "a file":
        base.write_text("")
    for catalog in ([], ["--catalog", f"{PG}/postgres"]):
        done, _ = _run("serve", "--base-dir", str(base), "--port", str(free_port()), *catalog)
        line = _one_line_error(done)
        assert str(base) in line
    assert base.exists() == (kind == "a file")  # nothing made where it was not


def test_a_database_that_is_down_or_missing_is_one_line_in_seconds(tmp_path: Path) -> None:
    down = f"postgresql://postgres:secret@127.0.0.1:{free_port()}/runs"
    done, took = _run("serve", "--base-dir", str(tmp_path), "--catalog", down)
    line = _one_line_error(done)
    assert "cannot reach catalog database" in line
    assert "secret" not in line  # the password is not shown
    assert took < PROMPT

    done, _ = _run("serve", "--base-dir", str(tmp_path), "--catalog", f"{PG}/zs_no_such_db")
    assert 'database "zs_no_such_db" does not exist' in _one_line_error(done)


def test_a_verb_given_a_server_that_is_down_answers_in_seconds(demo: Demo) -> None:
    uri = f"http://127.0.0.1:{free_port()}/api"
    done, took = _run("runs", "--base-dir", str(demo.base), "--catalog", uri)
    line = _one_line_error(done, "runs")
    assert "cannot be reached" in line
    assert "Retrying" not in done.stderr
    assert took < PROMPT


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_serve_stops_on_a_signal_within_seconds(
    demo: Demo, tmp_path: Path, signum: signal.Signals
) -> None:
    port = free_port()
    command = [ZARRSCRIBE, "serve", "--base-dir", str(demo.base), "--port", str(port)]
    with (
        serving(command, f"http://127.0.0.1:{port}/api/v1/", log=tmp_path / "log") as proc,
        httpx.Client() as client,  # a connection kept open does not hold it up
    ):
        assert client.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        sent = time.monotonic()
        proc.send_signal(signum)
        code = proc.wait(30)
        took = time.monotonic() - sent
    log = (tmp_path / "log").read_text()
    assert code == 128 + signum, log[-2000:]  # as every verb: 130 / 143
    assert took < 10
    assert "Traceback" not in log, log[-2000:]
    name = signal.Signals(signum).name
    assert log.rstrip().splitlines()[-1] == f"zarrscribe serve: interrupted by {name}", log[-500:]
