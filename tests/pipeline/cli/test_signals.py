"""Every long-running verb stops on SIGINT and SIGTERM within seconds, at any point: one
line, exit code 130 or 143, no traceback, nothing half-written. Real processes."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from benchmarks._runs import small_run, write_log, write_store
from tests._servers import free_port
from tests.nats_server import NatsServer

ZARRSCRIBE = str(Path(sys.executable).with_name("zarrscribe"))
SIGNALS = [signal.SIGINT, signal.SIGTERM]
PROMPT = 10.0
"""Seconds a verb may take to stop after the signal (a loaded 2-core machine; ~1-3 s idle)."""


class Verb:
    """A ``zarrscribe`` verb running in its own process; its output collected as it comes."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [ZARRSCRIBE, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(stream, lines), daemon=True)
            for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: object, lines: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.out + self.err):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} in: {self.out + self.err}")
            time.sleep(0.05)

    def interrupt(self, signum: int) -> float:
        """Send ``signum``; the seconds until the process ended."""
        start = time.monotonic()
        self.proc.send_signal(signum)
        try:
            self.proc.wait(60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        for reader in self._readers:
            reader.join(10)
        return time.monotonic() - start

    def assert_stopped_cleanly(self, signum: int, verb: str, seconds: float) -> None:
        name = signal.Signals(signum).name
        assert self.proc.returncode == 128 + signum, (self.proc.returncode, self.err)
        assert seconds < PROMPT, f"{verb} took {seconds:.1f} s to stop"
        text = "\n".join(self.err)
        assert "Traceback" not in text, text
        assert "Exception ignored" not in text, text
        assert self.err[-1].startswith(f"zarrscribe {verb}: interrupted by {name}"), self.err
        assert sum("interrupted" in line for line in self.err) == 1, self.err


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ZARRSCRIBE, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


@contextmanager
def running(*args: str) -> Iterator[Verb]:
    verb = Verb(*args)
    try:
        yield verb
    finally:
        if verb.proc.poll() is None:
            verb.proc.kill()
            verb.proc.wait(30)
        for reader in verb._readers:
            reader.join(10)
        for stream in (verb.proc.stdout, verb.proc.stderr):
            if stream is not None:
                stream.close()


# ------------------------------------------------------------------ worker


@pytest.mark.parametrize("signum", SIGNALS)
def test_worker_waiting_for_a_dead_nats_stops_on_a_signal(tmp_path: Path, signum: int) -> None:
    dead = f"nats://127.0.0.1:{free_port()}"  # nothing listens there
    with running("worker", "--nats", dead, "--base-dir", str(tmp_path / "data")) as worker:
        worker.wait_for("worker: nats://")
        time.sleep(1.0)  # inside the connect attempts
        seconds = worker.interrupt(signum)
    worker.assert_stopped_cleanly(signum, "worker", seconds)
    assert worker.err[-1].endswith("0 runs registered")


def test_worker_gives_up_on_a_dead_nats_after_its_timeout(tmp_path: Path) -> None:
    dead, base = f"nats://127.0.0.1:{free_port()}", str(tmp_path / "data")
    start = time.monotonic()
    done = _cli("worker", "--nats", dead, "--connect-timeout", "7", "--base-dir", base)
    took = time.monotonic() - start
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert any(f"waiting for NATS at {dead} (5 s of 7 s)" in line for line in lines), lines
    (error,) = [line for line in lines if "error" in line]
    assert error.startswith(f"zarrscribe worker: error: NATS at {dead} did not answer within 7 s")
    assert "--connect-timeout" in error
    assert "Traceback" not in done.stderr
    assert took < 60


@pytest.mark.parametrize("signum", SIGNALS)
def test_worker_consuming_stops_on_a_signal(tmp_path: Path, signum: int) -> None:
    server = NatsServer(tmp_path / "nats")
    server.start()
    try:
        stream = f"SIG{signum}{int(time.time() * 1000) % 100000}"
        args = ["worker", "--nats", server.url, "--stream", stream, "--prefix", stream.lower()]
        with running(*args, "--base-dir", str(tmp_path / "data")) as worker:
            worker.wait_for("worker: nats://")
            time.sleep(3.0)  # connected, waiting for stops
            seconds = worker.interrupt(signum)
        worker.assert_stopped_cleanly(signum, "worker", seconds)
    finally:
        server.stop()


# serve: tests/pipeline/cli/test_serve_errors.py (with a client's connection held open)


# ------------------------------------------------------------------ replay


@pytest.fixture(scope="module")
def many_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder of 400 logged runs with real stores, never replayed (no catalog)."""
    base = tmp_path_factory.mktemp("many") / "data"
    one = base / "store.zarr"
    write_store(one)
    for i in range(400):
        run_dir = base / "s" / f"count_{i:05d}"
        run_dir.mkdir(parents=True)
        shutil.copytree(one, run_dir / "default.zarr")
        write_log(run_dir / "documents.jsonl", small_run(i, (run_dir / "default.zarr").as_uri()))
    shutil.rmtree(one)
    return base


def _nothing_half_written(base: Path) -> None:
    assert not [p for p in base.rglob("*.tmp")]
    for attrs in base.glob("s/*/default.zarr/zarr.json"):
        json.loads(attrs.read_text())
    database = base / ".zarrscribe" / "catalog" / "catalog.db"
    if database.exists():
        with sqlite3.connect(database) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.mark.parametrize("signum", SIGNALS)
def test_replay_of_many_runs_stops_on_a_signal(
    many_runs: Path, tmp_path: Path, signum: int
) -> None:
    base = tmp_path / "data"
    shutil.copytree(many_runs, base)
    with running("replay", "--all", "--base-dir", str(base)) as replay:
        replay.wait_for("[1/400]")
        seconds = replay.interrupt(signum)
    replay.assert_stopped_cleanly(signum, "replay", seconds)
    assert not any(line.startswith("400 runs") for line in replay.out)  # stopped mid-way
    _nothing_half_written(base)
    again = _cli("replay", "--all", "--base-dir", str(base), timeout=600)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert "400 runs:" in again.stdout


# ------------------------------------------------------------------ demo


@pytest.mark.parametrize("signum", SIGNALS)
def test_demo_stops_on_a_signal_and_keeps_the_run_it_aborted(tmp_path: Path, signum: int) -> None:
    base = tmp_path / "data"
    with running("demo", "--frames", "200", "--base-dir", str(base)) as demo:
        demo.wait_for("count (scan 1)")  # the first run ended; the scan (>= 2 s) is running
        time.sleep(0.3)
        seconds = demo.interrupt(signum)
    demo.assert_stopped_cleanly(signum, "demo", seconds)
    assert "the run in hand was aborted, its data kept" in demo.err[-1]
    _nothing_half_written(base)
    replay = _cli("replay", "--all", "--base-dir", str(base))  # what the demo left pending
    assert replay.returncode == 0, replay.stdout[-2000:] + replay.stderr[-2000:]
    runs = _cli("runs", "--json", "--base-dir", str(base))
    assert runs.returncode == 0, runs.stderr
    statuses = {r["plan_name"]: r["exit_status"] for r in json.loads(runs.stdout)}
    assert statuses == {"count": "success", "scan": "abort"}
    check = _cli("replay", "--all", "--check", "--base-dir", str(base))
    assert check.returncode == 0, check.stdout[-2000:] + check.stderr[-2000:]
