"""Start ``zarrscribe serve`` as a subprocess and wait until it answers."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A running ``zarrscribe serve``: its root URL, what it printed, its log."""

    url: str
    stdout: list[str]
    log: Path
    started_in: float
    """Seconds from starting the process to the first answer."""

    def key(self) -> str:
        """The API key it printed (only when it made one)."""
        (line,) = [x for x in self.stdout if x.startswith("API key (new")]
        return line.rsplit(" ", 1)[1]


@contextmanager
def zarrscribe_serve(*args: str, log: Path, timeout: float = 180) -> Iterator[Server]:
    """Run ``zarrscribe serve ARGS --port <free>``; stop it (SIGTERM) at exit."""
    port = free_port()
    command = [str(Path(sys.executable).with_name("zarrscribe")), "serve", *args]
    started = time.monotonic()
    with open(log, "wb") as err:
        proc = subprocess.Popen(
            [*command, "--port", str(port)], stdout=subprocess.PIPE, stderr=err, text=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                if httpx.get(f"{url}/api/v1/", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() - started > timeout:
                raise RuntimeError(f"zarrscribe serve did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        elapsed = time.monotonic() - started
        assert proc.stdout is not None
        lines = []  # what it printed before serving: a few lines, then only the log
        while not lines or not lines[-1].startswith("web UI"):
            lines.append(proc.stdout.readline().rstrip("\n"))
        yield Server(url, lines, log, elapsed)
    finally:
        proc.terminate()
        proc.wait(30)
        if proc.stdout is not None:
            proc.stdout.close()
