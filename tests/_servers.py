"""Servers the tests start for real: a free port, the local PostgreSQL's scratch databases,
and a server command run as a subprocess until it answers over HTTP.

Nothing here skips: a missing PostgreSQL or a server that does not come up FAILS the
test (both are on every machine of this project and on CI).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

PG = "postgresql://postgres@127.0.0.1:5432"
"""The local PostgreSQL (trust authentication, user postgres)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _psql(sql: str) -> None:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c", sql],
        check=True,
        capture_output=True,
    )


@contextmanager
def postgres_databases(prefix: str, *suffixes: str) -> Iterator[str]:
    """New databases ``<prefix>_<random>`` and that name plus each of ``suffixes`` on
    the local PostgreSQL; yields the first name, drops them all (FORCE) at exit."""
    if not port_open(5432) or shutil.which("psql") is None:
        pytest.fail("needs PostgreSQL on 127.0.0.1:5432 (trust, user postgres) and psql")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    names = [name, *(name + suffix for suffix in suffixes)]
    for each in names:
        _psql(f"CREATE DATABASE {each}")
    try:
        yield name
    finally:
        for each in names:
            _psql(f"DROP DATABASE IF EXISTS {each} WITH (FORCE)")


def _wait_until_answers(
    what: str, url: str, proc: subprocess.Popen[str], log: Path, timeout: float
) -> None:
    """Wait until ``GET url`` answers 200; RuntimeError quoting the end of ``log`` when
    ``proc`` exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{what} did not start (no answer at {url}): {tail}")
        time.sleep(0.2)


@contextmanager
def serving(
    command: Sequence[str], url: str, *, log: Path, timeout: float = 90, pipe_stdout: bool = False
) -> Iterator[subprocess.Popen[str]]:
    """Start ``command`` and wait until ``GET url`` answers 200 (RuntimeError quoting the
    end of ``log`` when it exits first or ``timeout`` seconds pass); stop it (SIGTERM) at
    exit. Its output goes into ``log``; with ``pipe_stdout`` only its stderr does, and its
    stdout is ``proc.stdout`` (text)."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            list(command),
            stdout=subprocess.PIPE if pipe_stdout else out,
            stderr=out if pipe_stdout else subprocess.STDOUT,
            text=True,
        )
    try:
        what = " ".join([Path(command[0]).name, *command[1:2]])  # "tiled serve"
        _wait_until_answers(what, url, proc, log, timeout)
        yield proc
    finally:
        proc.terminate()
        proc.wait(30)
        if proc.stdout is not None:
            proc.stdout.close()


@contextmanager
def tiled_on_postgres(name: str, base: Path, api_key: str, *, log: Path) -> Iterator[str]:
    """Stock ``tiled serve catalog`` on the PostgreSQL database ``name`` (tables in
    ``<name>_tables``, files under ``base``, which it may read), with ``api_key``; yields
    its ``http://.../api`` URI once it answers."""
    import sys

    port = free_port()
    tiled = str(Path(sys.executable).with_name("tiled"))
    command = [tiled, "serve", "catalog", f"{PG}/{name}", "--init", "-w", str(base / ".tiled")]
    command += ["-w", f"{PG}/{name}_tables", "-r", str(base), "--api-key", api_key]
    uri = f"http://127.0.0.1:{port}/api"
    with serving([*command, "--port", str(port)], f"{uri}/v1/", log=log):
        yield uri
