"""Start ``zarrscribe serve`` as a subprocess and wait until it answers; raw requests."""

from __future__ import annotations

import json
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import h11

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
        """The API key in the web UI link it printed (not under ``--public``)."""
        (line,) = [x for x in self.stdout if x.startswith("web UI: ")]
        assert "?api_key=" in line, line
        return line.rsplit("?api_key=", 1)[1]

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


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


@dataclass
class Served:
    """A running server of the demo's runs and what a request may carry to it."""

    server: Server
    public: bool
    key: str
    """The server's API key (under ``--public`` too)."""
    uids: dict[str, str]
    """Plan name -> uid of the demo's runs."""


def fetch(port: int, target: str, headers: list[tuple[str, str]]) -> tuple[int, bytes, bytes]:
    """``GET target`` on 127.0.0.1:``port``, sent as it is (no client normalises it):
    the status, the response headers and the body."""
    conn = h11.Connection(h11.CLIENT)
    request = h11.Request(
        method="GET",
        target=target.encode(),
        headers=[("Host", "127.0.0.1"), ("Connection", "close"), *headers],
    )
    status, head, body = 0, b"", b""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(conn.send(request) + conn.send(h11.EndOfMessage()))
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(sock.recv(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
                head = b"\n".join(k + b": " + v for k, v in event.headers)
            elif isinstance(event, h11.Data):
                body += bytes(event.data)
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                return status, head, body


def run_uids(server: Server, key: str) -> dict[str, str]:
    """Plan name -> uid of the runs ``server`` serves."""
    status, _, body = fetch(server.port, "/api/v1/search/", [("Authorization", f"Apikey {key}")])
    assert status == 200, body
    runs = json.loads(body)["data"]
    return {r["attributes"]["metadata"]["start"]["plan_name"]: r["id"] for r in runs}
