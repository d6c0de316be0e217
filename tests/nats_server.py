"""A private nats-server (the real binary, JetStream on) for tests that stop and restart it.

Each test that needs NATS gets its own server on a free port with its storage in
tmp_path, so a test can take it down for real without disturbing anyone else.
A missing binary or a server that does not come up FAILS the test (never skips):
nats-server is installed on every machine of this project and on CI.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._servers import free_port, port_open
from zarrscribe.callbacks import BusSettings


class NatsServer:
    """``nats-server -js`` on 127.0.0.1:<port>, storage in ``directory``."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
        if not Path(binary).exists():
            pytest.fail("nats-server is not installed (apt-get install nats-server)")
        self.binary = binary
        self.directory = directory
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        log = self.directory / "nats-server.log"
        self.proc = subprocess.Popen(
            [
                self.binary,
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-js",
                "-sd",
                str(self.directory / "js"),
                "-l",
                str(log),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while not port_open(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                pytest.fail(f"nats-server did not start on port {self.port}: {tail}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server process (SIGTERM, as an operator would)."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(15)
            self.proc = None


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A private JetStream server for this test."""
    server = NatsServer(tmp_path / "nats")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def bus(nats_server: NatsServer) -> BusSettings:
    """Bus settings with a stream and subject prefix of this test's own."""
    tag = uuid.uuid4().hex[:8]
    return BusSettings(
        servers=nats_server.url, stream=f"T{tag}", prefix=f"t{tag}.docs", instrument="rig1"
    )
