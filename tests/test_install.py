"""The first ten minutes, as a stranger meets them: ``pip install`` of the built wheel
into a new venv (no extras, no make), then the command line in a fresh folder; and
``make``'s own install, which must be quiet.

One venv per test session (the pip cache is warm: about a minute).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests._servers import free_port, serving

# the first test pays for the venv (a minute or two; more on a busy machine)
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

ROOT = Path(__file__).parents[1]

_NOT_SOURCE = shutil.ignore_patterns(
    ".venv",
    ".git",
    ".typecheck",
    "build",
    "dist",
    "*.egg-info",
    "*_cache",
    "__pycache__",
    "zarrscribe-data",
)


def source_copy(dest: Path) -> Path:
    """The repository's files (no venv, caches or build output) in ``dest``."""
    shutil.copytree(ROOT, dest, ignore=_NOT_SOURCE)
    return dest


def clean_env() -> dict[str, str]:
    """This process's environment without what would point a child at our venv or data,
    or tell it that it runs under make (``make test``): a stranger's shell."""
    env = dict(os.environ)
    for name in ("PYTHONPATH", "VIRTUAL_ENV", "ZARRSCRIBE_BASE_DIR", "TILED_API_KEY"):
        env.pop(name, None)
    for name in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES"):
        env.pop(name, None)
    return env


@dataclass(frozen=True)
class Venv:
    """A virtual environment, and commands run with its programs in a fresh process."""

    path: Path

    def program(self, name: str) -> str:
        return str(self.path / "bin" / name)

    def run(
        self, name: str, *args: str, cwd: Path, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.program(name), *args],
            cwd=cwd,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def _check(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, f"{done.args}: {done.stderr[-3000:]}"


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the repository."""
    where = tmp_path_factory.mktemp("wheel")
    source = source_copy(where / "source")
    dist = where / "dist"
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist)]
    _check(subprocess.run([*build, str(source)], capture_output=True, text=True, timeout=600))
    (built,) = dist.glob("zarrscribe-*.whl")
    return built


def test_the_wheel_holds_every_package_and_nothing_bare(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    packed = {str(Path(n).parent) for n in names if n.endswith("/__init__.py")}
    folders = ("writers", "callbacks", "catalog", "pipeline")
    expected = {
        str(Path("zarrscribe") / init.parent.relative_to(ROOT))
        for folder in folders
        for init in (ROOT / folder).rglob("__init__.py")
    }
    assert packed == expected
    assert "zarrscribe/__main__.py" in names
    # nothing but the package and its metadata: no bare `writers`, no tests
    assert {n.split("/")[0] for n in names if not n.startswith("zarrscribe-")} == {"zarrscribe"}


@pytest.fixture(scope="session")
def plain_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A new venv holding the built wheel, installed without extras."""
    where = wheel.parents[1]
    venv = Venv(where / "venv")
    _check(subprocess.run([sys.executable, "-m", "venv", str(venv.path)], timeout=120))
    install = venv.run(  # a minute or two; much more when the machine is busy
        "python", "-m", "pip", "install", "--quiet", str(wheel), cwd=where, timeout=1500
    )
    _check(install)
    return venv


@dataclass(frozen=True)
class PlainDemo:
    venv: Venv
    cwd: Path
    demo: subprocess.CompletedProcess[str]

    @property
    def base(self) -> Path:
        return self.cwd / "zarrscribe-data"


@pytest.fixture(scope="session")
def plain_demo(plain_venv: Venv, tmp_path_factory: pytest.TempPathFactory) -> PlainDemo:
    """``zarrscribe demo`` run by the plain install in an empty folder."""
    cwd = tmp_path_factory.mktemp("fresh")
    demo = plain_venv.run("zarrscribe", "demo", "--frames", "3", cwd=cwd)
    return PlainDemo(plain_venv, cwd, demo)


def _no_noise(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert "Tiled version" not in stderr, stderr
    assert "Warning" not in stderr, stderr


def test_the_plain_install_runs_the_demo_and_queries_it(plain_demo: PlainDemo) -> None:
    venv, cwd = plain_demo.venv, plain_demo.cwd
    _check(plain_demo.demo)
    _no_noise(plain_demo.demo.stderr)
    assert [line.split()[2] for line in plain_demo.demo.stdout.splitlines()[2:]] == [
        "fly_scan",
        "scan",
        "count",
    ]

    runs = venv.run("zarrscribe", "runs", "--json", cwd=cwd)
    _check(runs)
    _no_noise(runs.stderr)
    found = json.loads(runs.stdout)
    assert [r["num_events"]["primary"] for r in found] == [3] * 3
    assert all(store.startswith("demo/") for r in found for store in r["stores"])

    shown = venv.run("zarrscribe", "show", found[0]["uid"][:8], cwd=cwd)
    _check(shown)
    assert "cam1" in shown.stdout

    replay = venv.run("zarrscribe", "replay", "--all", "--check", cwd=cwd)
    _check(replay)
    assert replay.stdout.splitlines()[-1] == "3 runs: 0 differ, 0 errors"


def test_python_m_zarrscribe_is_the_command_line(plain_demo: PlainDemo) -> None:
    done = plain_demo.venv.run("python", "-m", "zarrscribe", "--help", cwd=plain_demo.cwd)
    _check(done)
    assert done.stdout.startswith("usage: zarrscribe ")
    runs = plain_demo.venv.run("python", "-m", "zarrscribe", "runs", cwd=plain_demo.cwd)
    _check(runs)
    assert len(runs.stdout.splitlines()) == 5  # header, rule, three runs
    missing = plain_demo.venv.run(
        "python", "-m", "zarrscribe", "runs", "--base-dir", "nowhere", cwd=plain_demo.cwd
    )
    assert missing.returncode == 2
    assert missing.stderr.startswith("zarrscribe runs: error: ")
    assert "nowhere is not a folder" in missing.stderr
    assert missing.stderr.count("\n") == 1


def test_the_plain_install_serves(plain_demo: PlainDemo) -> None:
    port = free_port()
    command = [plain_demo.venv.program("zarrscribe"), "serve", "--port", str(port)]
    command += ["--base-dir", str(plain_demo.base)]
    url = f"http://127.0.0.1:{port}"
    log = plain_demo.cwd / "serve.log"
    with serving(command, f"{url}/api/v1/", log=log, timeout=120, pipe_stdout=True) as proc:
        assert proc.stdout is not None
        link = ""  # the key is in the web UI link it prints (its last line before serving)
        while not link.startswith("web UI: "):
            link = proc.stdout.readline()
            assert link, "serve printed no web UI link"
        key = link.strip().rsplit("?api_key=", 1)[1]
        answer = httpx.get(
            f"{url}/api/v1/search/", headers={"Authorization": f"Apikey {key}"}, timeout=30
        )
        assert answer.status_code == 200
        assert len(answer.json()["data"]) == 3


@pytest.mark.parametrize(
    ("argv", "extra"),
    [
        (["worker", "--nats", "nats://127.0.0.1:4222"], "nats"),
        (["worker", "--replay"], "nats"),
        (["demo", "--ophyd-async", "--frames", "1"], "ophyd-async"),
    ],
)
def test_a_missing_optional_extra_is_one_line(
    argv: list[str], extra: str, plain_venv: Venv, tmp_path: Path
) -> None:
    done = plain_venv.run("zarrscribe", *argv, cwd=tmp_path, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"zarrscribe {argv[0]}: error: ")
    assert f"pip install 'zarrscribe[{extra}]'" in done.stderr
    assert not (tmp_path / "zarrscribe-data").exists()  # refused before doing anything


@pytest.mark.parametrize(
    ("code", "extra"),
    [
        ("from zarrscribe.pipeline.detectors import SoftCamera", "ophyd-async"),
        (
            "from zarrscribe.pipeline import Pipeline\n"
            "from zarrscribe.callbacks import BusSettings\n"
            "Pipeline([], base_dir='data', bus=BusSettings(servers='nats://127.0.0.1:4222'))",
            "nats",
        ),
    ],
)
def test_a_missing_optional_extra_from_python_names_it(
    code: str, extra: str, plain_venv: Venv, tmp_path: Path
) -> None:
    done = plain_venv.run("python", "-c", code, cwd=tmp_path)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("zarrscribe.writers.model._extras.MissingDependencyError: "), last
    assert f"pip install 'zarrscribe[{extra}]'" in last


def _make(args: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", *args], cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=900
    )


def _ours(stderr: str) -> list[str]:
    """stderr without pip's notes on this machine's own index configuration."""
    return [line for line in stderr.splitlines() if "is ignored: it is neither" not in line]


def test_make_installs_quietly_and_correctly(plain_venv: Venv, tmp_path: Path) -> None:
    """``make``'s editable install prints one line of its own and no setuptools warning;
    the installed package is ``zarrscribe`` only (no bare ``writers``), also for ``-m``."""
    source = source_copy(tmp_path / "clone")
    # the plain venv's packages are what `make` installs without extras: a copy saves
    # the minute of unpacking them again
    shutil.copytree(plain_venv.path, source / "venv", symlinks=True)
    done = _make(["venv/.installed-stamp", "VENV=venv", "EXTRAS="], source)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "installing . into venv (a minute or two the first time) ...\n"
    assert _ours(done.stderr) == []

    venv = Venv(source / "venv")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = (
        "import importlib.util, zarrscribe.writers\n"
        "print(zarrscribe.writers.__file__)\n"
        "print([m for m in ('writers', 'callbacks', 'catalog', 'pipeline')"
        " if importlib.util.find_spec(m)])\n"
    )
    found = venv.run("python", "-c", probe, cwd=elsewhere)
    _check(found)
    assert found.stdout.splitlines() == [str(source / "writers" / "__init__.py"), "[]"]
    help_ = venv.run("python", "-m", "zarrscribe", "--help", cwd=elsewhere)
    _check(help_)
    assert help_.stdout.startswith("usage: zarrscribe ")

    demo = _make(["demo", "VENV=venv", "EXTRAS="], source)
    assert demo.returncode == 0, demo.stderr
    _no_noise(demo.stderr)
    assert "\nregistering runs in the catalog ...\n" in demo.stderr
