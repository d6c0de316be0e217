"""Deleted runs: an append-only log of deletions (and restores) in the data folder.

The documents are the truth, so a run whose catalog entry is simply removed comes
back at the next replay of its log. A deletion is therefore an event of its own,
kept in ``<base_dir>/.zarrscribe/deletions.jsonl``, one JSON line per event:
``{"event": "deleted" | "restored", "uid", "time", "with_data", "reason"}``. Replay,
``--check``, a catalog rebuilt from the logs and the registration of pending runs
all skip a run whose last event is a deletion; a restore (``zarrscribe restore``)
ends it.

Each event is written, flushed and fsync'd (with its folder when the file is new)
before the deletion it records is carried out, under an exclusive lock, so two
processes never interleave lines. A last line cut short (a process killed while
writing it, or a power loss before its fsync: its deletion was never carried out)
is left out, and cut off before the next event is written. Any other line that is
not an event is reported as ``file:line``.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Literal

from ..writers.model import STATE_DIR
from ._errors import CatalogError, RunNotFoundError

try:
    import fcntl
except ImportError:  # not POSIX: appends are not serialised between processes
    fcntl = None  # type: ignore[assignment]

__all__ = ["DELETIONS_NAME", "Deletion", "DeletionLog", "Deletions"]

DELETIONS_NAME = "deletions.jsonl"
"""File name of the deletion log, in the data folder's state folder."""

Event = Literal["deleted", "restored"]


@dataclass(frozen=True)
class Deletion:
    """One run's deletion, as recorded."""

    uid: str
    time: float
    """When it was deleted (epoch seconds)."""
    with_data: bool
    """Whether its folder (stores and log) was deleted too."""
    reason: str = ""
    where: str = ""
    """``file:line`` of the event."""

    def describe(self) -> str:
        """``deleted 2026-12-01 10:00:00 (catalog entry only)``, for a person."""
        when = datetime.fromtimestamp(self.time).strftime("%Y-%m-%d %H:%M:%S")
        what = "with its data" if self.with_data else "catalog entry only"
        reason = f": {self.reason}" if self.reason else ""
        return f"deleted {when} ({what}{reason})"


@dataclass
class Deletions:
    """The runs deleted now (their last event is a deletion), and the damaged lines."""

    runs: dict[str, Deletion] = field(default_factory=dict)
    damage: list[str] = field(default_factory=list)
    """``file:line: what`` of every line that is not an event (left out)."""

    def __contains__(self, uid: object) -> bool:
        return uid in self.runs

    def get(self, uid: str) -> Deletion | None:
        return self.runs.get(uid)

    def find(self, uid: str) -> Deletion | None:
        """The deletion of the run whose uid is, or starts with, ``uid``."""
        if uid in self.runs:
            return self.runs[uid]
        matches = [d for u, d in self.runs.items() if u.startswith(uid)]
        if len(matches) > 1:
            raise RunNotFoundError(
                f"uid prefix {uid!r} matches {len(matches)} deleted runs; give more characters"
            )
        return matches[0] if matches else None


class DeletionLog:
    """The deletion log of the data folder ``base_dir`` (see the module's text)."""

    def __init__(self, base_dir: str | Path) -> None:
        self.base_dir = Path(base_dir).absolute()
        self.path = self.base_dir / STATE_DIR / DELETIONS_NAME

    def read(self) -> Deletions:
        """The runs deleted now; damaged lines are reported, never fatal."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return Deletions()
        except OSError as e:
            raise CatalogError(
                f"the deletion log {self.path} cannot be read ({e.strerror or e}); "
                "fix its permissions: deleted runs cannot be told apart until then"
            ) from e
        deletions = Deletions()
        lines = data.split(b"\n")
        for number, raw in enumerate(lines, start=1):
            if not raw.strip() or number == len(lines):  # a last line cut short: not done
                continue
            where = f"{self.path}:{number}"
            try:
                event, uid, deletion = _parse(raw, where)
            except (UnicodeDecodeError, ValueError, KeyError, TypeError) as e:
                deletions.damage.append(f"{where}: not a deletion event ({e})")
                continue
            if event == "deleted":
                deletions.runs[uid] = deletion
            else:
                deletions.runs.pop(uid, None)
        return deletions

    def record_deletion(self, uid: str, *, with_data: bool, reason: str = "") -> Deletion:
        """Record that run ``uid`` is deleted (durably: fsync'd before this returns)."""
        now = time.time()
        self._append(
            {"event": "deleted", "uid": uid, "time": now, "with_data": with_data, "reason": reason}
        )
        return Deletion(uid, now, with_data, reason, str(self.path))

    def record_restore(self, uid: str) -> None:
        """Record that run ``uid`` is no longer deleted (durably)."""
        self._append({"event": "restored", "uid": uid, "time": time.time()})

    def _append(self, event: dict[str, Any]) -> None:
        # imported here: the writers' store module pulls in numpy, which reading the
        # deletions (every `zarrscribe runs`) does not need
        from ..writers import fsync_folder

        line = (json.dumps(event) + "\n").encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            new = not self.path.exists()
            with open(self.path, "a+b") as f, _locked(f):
                _cut_unfinished_tail(f)
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
            if new:
                fsync_folder(self.path.parent)
        except OSError as e:
            raise CatalogError(
                f"cannot record that run {event['uid']} is {event['event']} in {self.path}: "
                f"{e.strerror or e}; nothing was done: free space (or fix permissions) there "
                "and try again"
            ) from e


def _parse(raw: bytes, where: str) -> tuple[Event, str, Deletion]:
    record = json.loads(raw.decode("utf-8"))
    event, uid = record["event"], record["uid"]
    if event not in ("deleted", "restored") or not isinstance(uid, str) or not uid:
        raise ValueError(f"event {event!r} of uid {uid!r}")
    deletion = Deletion(
        uid,
        float(record["time"]),
        bool(record.get("with_data", False)),
        str(record.get("reason") or ""),
        where,
    )
    return event, uid, deletion


@contextlib.contextmanager
def _locked(f: IO[bytes]) -> Iterator[None]:
    if fcntl is not None:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
    yield  # closing the file releases the lock


def _cut_unfinished_tail(f: IO[bytes]) -> None:
    """Cut a last line without its newline (an event whose writer died before it was
    done; its deletion was never carried out), so the next event starts a line."""
    size = os.fstat(f.fileno()).st_size
    start = max(0, size - 65536)
    tail = os.pread(f.fileno(), size - start, start)
    if not tail or tail.endswith(b"\n"):
        return
    end = tail.rfind(b"\n")
    if end < 0 and start > 0:  # one line longer than 64 KiB: not ours; end it instead
        f.write(b"\n")
        return
    os.ftruncate(f.fileno(), start + end + 1)
