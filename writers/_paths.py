"""Where each run's stores go: `SessionPathProvider` and `PathInfo`."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ._errors import WriterError

__all__ = [
    "DATE_FORMAT",
    "PathInfo",
    "SessionPathProvider",
    "folder_writable",
    "require_writable",
    "sanitize_name",
]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATE_FORMAT = "%Y-%m-%d"
"""Name of a date folder (``date_folders=True``)."""
_STORE_SUFFIX = ".zarr"

MAX_NAME_CHARS = 200
"""Longest name component kept whole; longer ones are shortened (filesystems allow 255
bytes per component, and a run folder adds ``_NNNNN``, a store ``.zarr``)."""


def sanitize_name(name: str, *, what: str = "name") -> str:
    """Return ``name`` reduced to a single safe path component.

    Anything but letters, digits, ``.``, ``_`` and ``-`` becomes ``_``; leading
    dots and separators are dropped, so no name can climb out of its folder. A name
    longer than ``MAX_NAME_CHARS`` is cut and ends with ``-`` and 8 hex digits of a
    hash of the whole name, so two long names that share their start stay apart.
    """
    if not isinstance(name, str):
        raise WriterError(f"{what} {name!r} must be a string")
    safe = _UNSAFE.sub("_", name).strip("._-")
    if not safe:
        raise WriterError(
            f"{what} {name!r} has no letters or digits to name a folder with; "
            "use a name such as 'count' or 'default'"
        )
    if len(safe) > MAX_NAME_CHARS:
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        safe = f"{safe[: MAX_NAME_CHARS - 9].rstrip('._-')}-{digest}"
    return safe


@dataclass(frozen=True)
class PathInfo:
    """Where one group's store of one run goes."""

    store_uri: str
    """``file://`` URI of the store (a ``.zarr`` folder that does not exist yet)."""
    store_path: Path
    """The same location as a local path."""
    run_dir: Path
    """Folder of the run: every group's store and the run's document log."""
    plan_name: str
    """Sanitised plan name."""
    group: str
    """Sanitised writer group name."""
    counter: int
    """Run number of this plan within the session."""


class SessionPathProvider:
    """Auto-incrementing store locations for one session.

    Layout: ``base_dir / session / <plan>_<NNNNN> / <group>.zarr``. The counter
    is per plan name and only grows. On construction the session folder is
    scanned and every name of the form ``<plan>_<NNNNN>`` (a run folder, or a
    store ``<plan>_<NNNNN>[-anything].zarr``) bumps that plan's counter past it,
    so a restarted session never reuses a number. A location that exists is
    never returned: each run folder is claimed by creating it exclusively, so
    providers in other threads or processes on the same session never get the
    same one.

    Calls that pass the same ``run_key`` (the presenter passes the RunStart uid)
    share one run folder, one store per group; each call without one gets a new
    run folder.

    With ``date_folders`` the session lies in a folder of the day each run starts:
    ``base_dir / <YYYY-MM-DD> / session / <plan>_<NNNNN>``; the date is taken from
    ``clock`` at each new run (inject one in tests), and the counter still runs on
    across days (every date folder's session is scanned), so numbers never repeat.
    """

    def __init__(
        self,
        base_dir: str | Path,
        session: str = "default",
        *,
        digits: int = 5,
        date_folders: bool = False,
        clock: Callable[[], datetime] = datetime.now,
    ) -> None:
        self._base_dir = Path(base_dir).expanduser().absolute()
        self._session = sanitize_name(session, what="session name")
        self._digits = digits
        self._date_folders = bool(date_folders)
        self._clock = clock
        self._pattern = re.compile(rf"^(?P<plan>.+)_(?P<count>\d{{{digits},}})(?:-.*)?$")
        self._counters: dict[str, int] = {}
        self._runs: dict[str, Path] = {}
        self._lock = threading.Lock()
        self._session_made: Path | None = None
        self._scan_existing()

    @property
    def session_dir(self) -> Path:
        """Folder holding the session's new runs (with date folders: today's)."""
        if self._date_folders:
            return self._base_dir / self._clock().strftime(DATE_FORMAT) / self._session
        return self._base_dir / self._session

    def _session_dirs(self) -> list[Path]:
        """Every folder holding runs of the session (one per day with date folders)."""
        if not self._date_folders:
            return [self.session_dir]
        try:
            days = [d for d in self._base_dir.iterdir() if _DATE.match(d.name) and d.is_dir()]
        except FileNotFoundError:
            return []
        except OSError as e:
            raise _path_error(self._base_dir, e) from e
        return [d / self._session for d in sorted(days)]

    @property
    def base_dir(self) -> Path:
        """Base folder of every session."""
        return self._base_dir

    def next_counter(self, plan_name: str) -> int:
        """The number the next new run of ``plan_name`` gets."""
        return self._counters.get(sanitize_name(plan_name, what="plan name"), 0)

    def _scan_existing(self) -> None:
        for folder in self._session_dirs():
            self._scan(folder)

    def _scan(self, folder: Path) -> None:
        try:
            entries = list(folder.iterdir())
        except FileNotFoundError:
            return
        except OSError as e:
            raise _path_error(folder, e) from e
        for entry in entries:
            name = entry.name
            if name.endswith(_STORE_SUFFIX):
                name = name[: -len(_STORE_SUFFIX)]
            match = self._pattern.match(name)
            if match is not None:
                self._bump(match["plan"], int(match["count"]) + 1)

    def _bump(self, plan: str, next_count: int) -> None:
        if next_count > self._counters.get(plan, 0):
            self._counters[plan] = next_count

    def _make_session_dir(self, session_dir: Path) -> None:
        try:
            session_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise _path_error(session_dir, e) from e

    def _new_run_dir(self, plan: str) -> tuple[Path, int]:
        """Claim the next free run folder of ``plan`` by creating it (never check-then-create)."""
        session_dir = self.session_dir
        if self._session_made != session_dir:  # once a day: made again below if removed
            self._make_session_dir(session_dir)
            self._session_made = session_dir
        while True:
            count = self._counters.get(plan, 0)
            self._counters[plan] = count + 1
            run_dir = session_dir / f"{plan}_{count:0{self._digits}d}"
            if run_dir.with_name(run_dir.name + _STORE_SUFFIX).exists():
                continue  # a store of the older <plan>_<NNNNN>.zarr layout holds this number
            try:
                try:
                    run_dir.mkdir()
                except FileNotFoundError:  # the session folder was removed since
                    self._make_session_dir(session_dir)
                    run_dir.mkdir()
            except FileExistsError:
                continue  # another provider (thread or process) claimed it first
            except OSError as e:
                raise _path_error(run_dir, e) from e
            return run_dir, count

    def run_dir(self, plan_name: str, *, run_key: str) -> Path:
        """The folder of run ``run_key`` (a new one at the first call for that key)."""
        plan = sanitize_name(plan_name, what="plan name")
        with self._lock:
            return self._run_dir(plan, run_key)

    def _run_dir(self, plan: str, run_key: str | None) -> Path:
        run_dir = self._runs.get(run_key) if run_key is not None else None
        if run_dir is None:
            run_dir, _ = self._new_run_dir(plan)
            if run_key is not None:
                self._runs[run_key] = run_dir
        return run_dir

    def forget_run(self, run_key: str) -> None:
        """Drop the memory of run ``run_key`` (its folder is kept on disk)."""
        with self._lock:
            self._runs.pop(run_key, None)

    def __call__(
        self, plan_name: str, group: str = "default", *, run_key: str | None = None
    ) -> PathInfo:
        """Return the location of ``group``'s store for a run of ``plan_name``."""
        plan = sanitize_name(plan_name, what="plan name")
        safe_group = sanitize_name(group, what="group name")
        with self._lock:
            run_dir = self._run_dir(plan, run_key)
            store = run_dir / f"{safe_group}{_STORE_SUFFIX}"
            if store.exists():
                raise WriterError(
                    f"store {str(store)!r} already exists; group {group!r} was already "
                    f"given a store for run {run_key!r}"
                )
            count = int(run_dir.name.rsplit("_", 1)[1])
        return PathInfo(
            store_uri=store.as_uri(),
            store_path=store,
            run_dir=run_dir,
            plan_name=plan,
            group=safe_group,
            counter=count,
        )


def folder_writable(path: Path) -> bool:
    """Whether files can be made in folder ``path`` (false on read-only media, also for
    root)."""
    return os.access(path, os.W_OK | os.X_OK)


def require_writable(base_dir: Path, doing: str) -> None:
    """Raise :class:`WriterError` naming ``base_dir`` when it exists but cannot be
    written (read-only media, another user's folder)."""
    if base_dir.exists() and not folder_writable(base_dir):
        raise WriterError(
            f"the data folder {str(base_dir)!r} is read-only here (read-only media or "
            f"permissions): cannot {doing}; reading works where it is, copy it somewhere "
            "writable to change it"
        )


def _path_error(path: Path, error: OSError) -> WriterError:
    if error.errno == errno.EROFS:
        return WriterError(
            f"cannot create folder {str(path)!r}: the data folder is on read-only media; "
            "choose a writable base_dir"
        )
    if error.errno == errno.ENAMETOOLONG:
        return WriterError(
            f"folder {str(path)!r} ({len(str(path))} characters) is too long for the "
            "filesystem; choose a shorter base_dir or session name"
        )
    return WriterError(
        f"cannot create folder {str(path)!r}: {error.strerror}; choose a writable base_dir"
    )
