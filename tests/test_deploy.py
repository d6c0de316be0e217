"""The deployment of the README ("Deploying across machines"), from the files in deploy/:
every unit's command line is one the programs accept, and the whole topology (NATS
JetStream, PostgreSQL, ``zarrscribe serve``, two workers, an acquiring pipeline with the
bus) comes up on this machine from exactly those command lines, registers each run
once, and stops promptly on `systemctl stop` (SIGTERM; SIGINT for nats-server).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest
from bluesky import plans as bp

from tests._servers import PG, free_port, port_open, postgres_databases
from tests._units import (
    DEPLOY,
    ENV_FILE,
    INSTALLED_ENV_FILE,
    environment_file,
    exec_start,
    unit,
    units,
    variables,
)
from tests.bus_runs import publishing_pipeline, three_runs
from tests.conftest import Rig
from zarrscribe.callbacks import BusSettings
from zarrscribe.catalog import Catalog
from zarrscribe.pipeline.cli import _parser
from zarrscribe.writers.model import ATTRIBUTES_KEY

README = Path(__file__).parents[1] / "README.md"
ZARRSCRIBE = "/opt/zarrscribe/bin/zarrscribe"
"""The program the units run: a virtual environment at /opt/zarrscribe (README)."""
NATS_SERVER = "/usr/sbin/nats-server"
"""The distribution's nats-server."""


def program(path: str) -> str:
    """The program a unit names, as installed on this machine."""
    here = {
        ZARRSCRIBE: str(Path(sys.executable).with_name("zarrscribe")),
        NATS_SERVER: shutil.which("nats-server") or NATS_SERVER,
    }
    assert path in here, f"a unit runs {path!r}; expected one of {sorted(here)}"
    return here[path]


# ------------------------------------------------------------------ the files alone
def test_the_units_are_the_ones_the_readme_names() -> None:
    names = sorted(p.name for p in DEPLOY.iterdir())
    assert names == [
        "zarrscribe-nats.service",
        "zarrscribe-serve.service",
        "zarrscribe-worker@.service",
        "zarrscribe.env",
    ]
    text = README.read_text()
    section = text.split("## Deploying across machines", 1)[1].split("\n## ", 1)[0]
    for name in names:
        assert f"deploy/{name}" in section, f"the README's deployment does not name {name}"


def test_every_unit_reads_the_environment_file_and_every_setting_is_there() -> None:
    settings = environment_file()
    used: set[str] = set()
    for path in units():
        service = unit(path)["Service"]
        assert service["EnvironmentFile"] == [INSTALLED_ENV_FILE], path.name
        missing = variables(path) - set(settings)
        assert not missing, f"{path.name} reads {sorted(missing)}, not in {ENV_FILE.name}"
        used |= variables(path)
        assert service.get("Restart") == ["on-failure"], path.name
    read_by_zarrscribe = {"ZARRSCRIBE_BASE_DIR", "TILED_API_KEY"}  # option defaults
    assert set(settings) - used == read_by_zarrscribe


def test_every_zarrscribe_command_line_is_one_the_program_accepts() -> None:
    settings = environment_file()
    for path in units():
        argv = exec_start(path, settings, instance="1")
        if argv[0] != ZARRSCRIBE:
            continue
        try:
            args, unknown = _parser().parse_known_args(argv[1:])
        except SystemExit:
            pytest.fail(f"{path.name}: zarrscribe refuses {argv[1:]}")
        assert not unknown, f"{path.name}: unknown options {unknown}"
        assert args.command == path.name.split("-", 1)[1].split("@")[0].split(".")[0]
        # zarrscribe exits 143 on SIGTERM (130 on SIGINT): clean, for systemd too
        assert clean_exits(path) == {0, 130, 143}, path.name


def test_the_server_refuses_to_start_with_the_file_as_shipped(tmp_path: Path) -> None:
    settings = environment_file()
    assert settings["TILED_API_KEY"] == ""  # the user must set one: no shared default
    argv = exec_start(DEPLOY / "zarrscribe-serve.service", settings)
    env = {**os.environ, **settings, "ZARRSCRIBE_BASE_DIR": str(tmp_path)}
    done = subprocess.run(
        [program(argv[0]), *argv[1:]], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "zarrscribe serve: error: --api-key (or $TILED_API_KEY) must be letters and digits "
        "only, and not empty (e.g. openssl rand -hex 32)\n"
    )
    assert done.stdout == ""


def test_the_nats_command_line_uses_options_nats_server_has() -> None:
    argv = exec_start(DEPLOY / "zarrscribe-nats.service", environment_file())
    assert argv[0] == NATS_SERVER
    shown = subprocess.run([program(argv[0]), "--help"], capture_output=True, text=True)
    known = {
        word.rstrip(",")
        for line in (shown.stdout + shown.stderr).splitlines()
        for word in line.split()
        if word.startswith("-")
    }
    assert "-js" in argv, "JetStream must be on"
    assert {word for word in argv[1:] if word.startswith("-")} <= known


def clean_exits(path: Path) -> set[int]:
    """The exit codes systemd takes for a clean stop: 0 and SuccessExitStatus."""
    listed = " ".join(unit(path)["Service"].get("SuccessExitStatus", []))
    return {0, *(int(code) for code in listed.split())}


def kill_signal(path: Path) -> signal.Signals:
    """What ``systemctl stop`` sends: KillSignal, by default SIGTERM."""
    (name,) = unit(path)["Service"].get("KillSignal", ["SIGTERM"])
    return signal.Signals[name]


# ------------------------------------------------------------------ the topology
class Service:
    """One unit's ExecStart, running: its process and its output."""

    def __init__(
        self, name: str, path: Path, argv: list[str], env: dict[str, str], logs: Path
    ) -> None:
        self.name = name
        self.path = path
        self.log = logs / f"{name}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                [program(argv[0]), *argv[1:]], env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, what: str, ready: Callable[[], bool], timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{self.name}: no {what}; it said: {self.output()[-2000:]}")
            time.sleep(0.1)

    def stop(self) -> float:
        """``systemctl stop``: the unit's KillSignal; the seconds until it exited."""
        started = time.monotonic()
        self.proc.send_signal(kill_signal(self.path))
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"{self.name} did not stop within 20 s: {self.output()[-2000:]}")
        return time.monotonic() - started


@contextmanager
def started(services: list[Service]) -> Iterator[list[Service]]:
    """Kill whatever is still running at the end (a failed test)."""
    try:
        yield services
    finally:
        for service in services:
            if service.proc.poll() is None:
                service.proc.kill()
                service.proc.wait()


def loopback_settings(tmp_path: Path, database: str) -> dict[str, str]:
    """Every setting of the EnvironmentFile, given a value on this machine."""
    nats_port, tiled_port = free_port(), free_port()
    mine = {
        "ZARRSCRIBE_BASE_DIR": str(tmp_path / "data"),
        "TILED_API_KEY": secrets.token_hex(16),
        "NATS_HOST": "127.0.0.1",
        "NATS_PORT": str(nats_port),
        "NATS_STORE_DIR": str(tmp_path / "nats"),
        "ZARRSCRIBE_NATS": f"nats://127.0.0.1:{nats_port}",
        "ZARRSCRIBE_DATABASE": f"{PG}/{database}",
        "ZARRSCRIBE_HOST": "127.0.0.1",
        "ZARRSCRIBE_PORT": str(tiled_port),
    }
    assert set(mine) == set(environment_file()), "a setting of zarrscribe.env is not set here"
    return mine


def entries(catalog: Catalog, uids: list[str]) -> Counter[str]:
    """How many catalog entries each run has (searching by start.uid, not by key)."""
    from tiled.queries import Eq

    return Counter({uid: len(catalog.client.search(Eq("start.uid", uid))) for uid in uids})


# A socket of an HTTP client of this process is sometimes collected (and warned
# about) while this test runs; it is not this test's (as in test_serve_postgres).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_the_units_bring_up_nats_postgres_serve_and_two_workers(tmp_path: Path, rig: Rig) -> None:
    (tmp_path / "data").mkdir()
    logs = tmp_path / "logs"
    logs.mkdir()
    with ExitStack() as stack:
        database = stack.enter_context(postgres_databases("zsdeploy"))
        settings = loopback_settings(tmp_path, database)
        env = {**os.environ, **settings}  # systemd gives the process the file's settings

        def start(name: str, instance: str = "") -> Service:
            """``systemctl start <name><instance>`` (``zarrscribe-worker@`` ``1``)."""
            path = DEPLOY / f"{name}.service"
            return Service(name + instance, path, exec_start(path, settings, instance), env, logs)

        services: list[Service] = stack.enter_context(started([]))
        nats = start("zarrscribe-nats")
        services.append(nats)
        nats.wait_for("NATS port", lambda: port_open(int(settings["NATS_PORT"])), 15)
        serve = start("zarrscribe-serve")
        services.append(serve)
        api = f"http://127.0.0.1:{settings['ZARRSCRIBE_PORT']}/api"

        def answers() -> bool:
            try:
                return httpx.get(f"{api}/v1/", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        serve.wait_for("answer over HTTP", answers)
        workers = [start("zarrscribe-worker@", str(n)) for n in (1, 2)]
        services += workers

        # the acquiring side, while the workers start: a Pipeline with bus= (no catalog:
        # the workers register; the stream keeps what comes before they listen)
        bus = BusSettings(servers=settings["ZARRSCRIBE_NATS"], instrument="rig1")
        with publishing_pipeline(rig, Path(settings["ZARRSCRIBE_BASE_DIR"]), bus) as (
            RE,
            _,
            publisher,
        ):
            uids = three_runs(RE, rig)
            uids += RE(bp.count([rig.light], num=2)).run_start_uids  # a run without stores
            assert publisher.flush(30)
        # the workers write the served database by SQL (no HTTP, no API key)
        listening = f"-> Catalog(PostgreSQL catalog {settings['ZARRSCRIBE_DATABASE']})"
        for worker in workers:
            worker.wait_for("line saying it listens", lambda w=worker: listening in w.output(), 60)

        catalog = Catalog.from_uri(api, api_key=settings["TILED_API_KEY"])
        stack.callback(catalog.close)
        deadline = time.monotonic() + 60

        def complete() -> set[str]:
            """The runs whose entry is whole (a worker writes each in one transaction;
            zarrscribe's own metadata is in it)."""
            return {uid for uid, md in catalog.entries().items() if ATTRIBUTES_KEY in md}

        while not complete() >= set(uids):
            for service in services:
                assert service.proc.poll() is None, f"{service.name}: {service.output()[-2000:]}"
            assert time.monotonic() < deadline, f"registered: {entries(catalog, uids)}"
            time.sleep(0.2)
        assert entries(catalog, uids) == Counter(dict.fromkeys(uids, 1))
        assert len(catalog.search()) == len(uids)
        for worker in workers:  # nothing failed and was retried
            assert "Traceback" not in worker.output(), worker.output()[-2000:]
        frames = catalog.read_array(uids[0], "cam1")
        assert frames.shape[0] == 2, frames.shape

        # systemctl stop: the workers, then the server, then NATS (the reverse of After=);
        # SIGTERM for zarrscribe, SIGINT for nats-server (its KillSignal)
        for service in reversed(services):
            seconds = service.stop()
            assert seconds < 10, f"{service.name} took {seconds:.1f} s to stop"
            assert service.proc.returncode in clean_exits(service.path), (
                f"{service.name} exited {service.proc.returncode}: {service.output()[-2000:]}"
            )
