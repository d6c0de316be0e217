"""Start ``zarrscribe serve`` as a subprocess and wait until it answers."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests._servers import free_port, serving


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
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    with serving(
        [*command, "--port", str(port)],
        f"{url}/api/v1/",
        log=log,
        timeout=timeout,
        pipe_stdout=True,
    ) as proc:
        elapsed = time.monotonic() - started
        assert proc.stdout is not None
        lines = []  # what it printed before serving: a few lines, then only the log
        while not lines or not lines[-1].startswith("web UI"):
            lines.append(proc.stdout.readline().rstrip("\n"))
        yield Server(url, lines, log, elapsed)
