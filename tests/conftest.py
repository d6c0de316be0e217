"""Shared fixtures: a simulated rig whose cameras remember every frame they pushed."""

from __future__ import annotations

import os

# Tiled's client retries a refused connection for ~30 s by default; the tests that
# take a catalog down want the failure at once (read by tiled at import).
os.environ.setdefault("TILED_RETRY_ATTEMPTS", "1")

import errno
import subprocess
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from bluesky import RunEngine

from zarrscribe.pipeline import SimCamera, SimLight, SimMotor
from zarrscribe.writers import BackgroundSyncs, ZarrWriter


class RecordingCamera(SimCamera):
    """A SimCamera that keeps a copy of every frame it pushed, per run."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pushed: list[np.ndarray] = []

    def stage(self) -> Any:
        self.pushed = []
        return super().stage()

    def make_frame(self) -> np.ndarray:
        frame = super().make_frame()
        self.pushed.append(frame.copy())
        return frame


class Rig:
    """Two cameras sharing the 'default' store, one in 'side', a motor and a light."""

    def __init__(self) -> None:
        self.default = ZarrWriter("default")
        self.side = ZarrWriter("side", ome=False)  # the flat layout of older stores
        self.cam1 = RecordingCamera("cam1", self.default, shape=(32, 40), exposure=0.0, seed=1)
        self.cam2 = RecordingCamera("cam2", self.default, shape=(24, 24), exposure=0.0, seed=2)
        self.cam3 = RecordingCamera("cam3", self.side, shape=(16, 16), exposure=0.0, seed=3)
        self.motor = SimMotor("m1", velocity=3.0)
        self.light = SimLight("light", wavelength_nm=561.0)

    @property
    def cameras(self) -> list[RecordingCamera]:
        return [self.cam1, self.cam2, self.cam3]

    @property
    def devices(self) -> list[Any]:
        return [*self.cameras, self.motor, self.light]


class DocumentCollector:
    """Every document the RunEngine emitted, by run uid."""

    def __init__(self) -> None:
        self.by_run: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
        self._current = ""

    def __call__(self, name: str, doc: dict[str, Any]) -> None:
        if name == "start":
            self._current = doc["uid"]
        self.by_run[self._current].append((name, doc))


@pytest.fixture(scope="session", autouse=True)
def _state_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The servers' API keys (kept in the user's state folder) go to a folder of this
    test session, for this process and the servers it starts."""
    before = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("state"))
    yield
    if before is None:
        del os.environ["XDG_STATE_HOME"]
    else:
        os.environ["XDG_STATE_HOME"] = before


@pytest.fixture
def rig() -> Rig:
    return Rig()


@pytest.fixture
def RE() -> Iterator[RunEngine]:
    engine = RunEngine({}, call_returns_result=True)
    yield engine
    if engine.state != "idle":
        engine.halt()


@pytest.fixture
def base_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@contextmanager
def small_disk(where: Path, mebibytes: int) -> Iterator[Path]:
    """A real, small disk: a tmpfs of ``mebibytes`` mounted at ``where`` (the tests run
    as root), unmounted afterwards."""
    where.mkdir(parents=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={mebibytes}m", "tmpfs", str(where)], check=True
    )
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def grow_disk(where: Path, mebibytes: int) -> None:
    """Give the small disk mounted at ``where`` more room, as a person freeing space would
    (its files stay as they are)."""
    subprocess.run(["mount", "-o", f"remount,size={mebibytes}m", str(where)], check=True)


def fill_disk(where: Path, name: str, *, leave: int = 0) -> Path:
    """Take every free byte of the disk holding folder ``where`` but ``leave``, with one
    file ``where / name`` (returned)."""
    filler = where / name
    with open(filler, "wb", buffering=0) as f:
        block = b"\0" * 4096
        try:
            while True:
                f.write(block)
        except OSError as e:
            if e.errno != errno.ENOSPC:
                raise
    if leave:
        os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler


@contextmanager
def read_only_mount(source: Path, where: Path) -> Iterator[Path]:
    """``source`` seen read-only at ``where``: a real bind mount (``mount --bind``, then
    ``mount -o remount,bind,ro``; the tests run as root), unmounted afterwards."""
    where.mkdir(parents=True)
    subprocess.run(["mount", "--bind", str(source), str(where)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(where)], check=True)
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


@pytest.fixture(autouse=True)
def _stock_bluesky_run_class() -> Iterator[None]:
    """Undo what ``CatalogOfBlueskyRuns.v2`` does to every default Tiled client of the
    process (bluesky-tiled-plugins 2.0.12 rebinds ``BlueskyRun`` in the structure-client
    map all default clients share), so tests of the stock clients see the stock class
    whatever ran before them."""
    from tiled.client.container import DEFAULT_STRUCTURE_CLIENT_DISPATCH, Container

    Container.discover_clients_from_entrypoints()
    dispatch = DEFAULT_STRUCTURE_CLIENT_DISPATCH["numpy"]
    original = dispatch["BlueskyRun"]
    yield
    if dispatch["BlueskyRun"] is not original:
        dispatch.set("BlueskyRun", lambda: original)


class FsyncDouble:
    """Wraps ``os.fsync``: records the path of every descriptor under ``root`` it syncs,
    and can hold them (``hold``) or fail some with EIO (``fail_when``), which cannot be
    produced for real here."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.synced: list[Path] = []
        self.hold = threading.Event()
        self.hold.set()
        self.held = threading.Event()
        self.fail_when: Callable[[Path], bool] = lambda path: False
        self._real = os.fsync

    def __call__(self, fd: int) -> None:
        path = Path(os.readlink(f"/proc/self/fd/{fd}"))
        if path.is_relative_to(self.root):
            self.held.set()
            self.hold.wait(30)
            if self.fail_when(path):
                raise OSError(errno.EIO, os.strerror(errno.EIO))
            self.synced.append(path)
        self._real(fd)


@pytest.fixture
def fsyncs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FsyncDouble]:
    """``os.fsync`` wrapped for this test (see :class:`FsyncDouble`)."""
    double = FsyncDouble(tmp_path)
    monkeypatch.setattr(os, "fsync", double)
    yield double
    double.hold.set()
    drain = BackgroundSyncs()  # done in order: when it is, so is all this test asked
    drain.fsync_folder(tmp_path)
    drain.wait(30)
