"""The registration queue's jobs on disk: one name per run in the pending folder.

A job is another name of the run's document log: a hard link in the pending
folder, named ``<uid>@<where the log is>.job`` (the log's path relative to the
pending folder, or absolute when that is shorter, percent-encoded). Making one
is a single ``link``: no new file (making an inode is what costs on the caller's
thread), no bytes to write and none to fsync (the folder's fsync makes the name
last), and the name exists whole or not at all. Where it cannot be made (a log
on another file system, media without hard links, a name too long), and in
queues made by older versions, a job is a small JSON file ``<uid>.json``
(``{"uid": ..., "log": ...}``) renamed into place instead.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, unquote

from ._pending import Job

__all__ = ["job_files", "job_uid", "load_jobs", "read_job", "write_job"]

logger = logging.getLogger(__name__)

_LINK_SUFFIX = ".job"
"""The suffix of a job that is a link to its run's log."""

_FILE_SUFFIX = ".json"
"""The suffix of a job that is a file (no link possible, or an older version's)."""

_AT = "@"
"""Between the uid and the log's place in a link's name (both percent-encoded)."""

_NO_LINK = frozenset(
    {errno.EXDEV, errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS, errno.EMLINK, errno.ENAMETOOLONG}
)
"""What ``link`` says when this job cannot be a link (a file is made instead)."""


def job_files(pending_dir: Path) -> list[Path]:
    """Every job in ``pending_dir``, links and files (none if it does not exist)."""
    return sorted([*pending_dir.glob(f"*{_LINK_SUFFIX}"), *pending_dir.glob(f"*{_FILE_SUFFIX}")])


def job_uid(path: Path) -> str:
    """The run uid a job is named for."""
    if path.suffix == _LINK_SUFFIX:
        return unquote(path.stem.split(_AT, 1)[0])
    return path.stem


def write_job(pending_dir: Path, uid: str, log: Path) -> tuple[Path, bool]:
    """Queue run ``uid`` (its document ``log``) in ``pending_dir`` (made if missing):
    the job, and whether it is a file to fsync (a link needs only its folder's fsync;
    a log not found gets a file). Raises :class:`OSError` as the disk does, leaving no
    half-made job. The same run queued again with the same log keeps its job."""
    absolute = os.path.abspath(log)
    relative = os.path.relpath(absolute, pending_dir)
    place = relative if len(relative) < len(absolute) else absolute
    link = pending_dir / f"{quote(uid, safe='')}{_AT}{quote(place, safe='')}{_LINK_SUFFIX}"
    for attempt in (1, 2):
        try:
            os.link(absolute, link)
            return link, False
        except FileExistsError:
            return link, False
        except FileNotFoundError:
            if attempt == 2 or pending_dir.is_dir():
                break  # no log there (yet): a file says where it is
            pending_dir.mkdir(parents=True, exist_ok=True)  # the first job of this folder
        except OSError as e:
            if e.errno not in _NO_LINK:
                raise
            break
    return _write_file(pending_dir / f"{uid}{_FILE_SUFFIX}", uid, log), True


def _write_file(path: Path, uid: str, log: Path) -> Path:
    """The job as a JSON file, written, flushed and renamed into place (not fsync'd)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(json.dumps({"uid": uid, "log": str(log)}))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):  # no half-made job is left behind
            tmp.unlink()
        raise
    return path


def read_job(path: Path) -> tuple[str, Path] | str:
    """The run uid and log of the job ``path``, or what is wrong with it (a file left
    empty or cut short by a power loss before its fsync). Raises :class:`OSError` when
    a job file cannot be read at all."""
    if path.suffix == _LINK_SUFFIX:
        uid, at, place = path.stem.partition(_AT)
        if not at or not uid or not place:
            return f"not named <uid>{_AT}<log>{_LINK_SUFFIX}"
        return unquote(uid), Path(os.path.normpath(path.parent / unquote(place)))
    try:
        text = path.read_text(encoding="utf-8")
    except ValueError as e:  # not UTF-8
        return f"not UTF-8 text: {e}"
    try:
        record = json.loads(text)
    except ValueError as e:
        return "empty" if not text.strip() else f"not JSON: {e}"
    run = record.get("uid") if isinstance(record, dict) else None
    log = record.get("log") if isinstance(record, dict) else None
    if not isinstance(run, str) or not isinstance(log, str) or not run or not log:
        return f"not a job record: {text[:80]!r}"
    return run, Path(log)


def load_jobs(pending_dir: Path, find_log: Callable[[str], Path | None] | None) -> Iterator[Job]:
    """Every job in ``pending_dir`` that can be taken. One that cannot be read is
    reported and left in place; a damaged one (empty, cut short: a power loss before its
    fsync) is reported and still taken when ``find_log`` finds its run's log."""
    for path in job_files(pending_dir):
        try:
            job = read_job(path)
        except OSError as e:
            logger.error("pending registration %s is unreadable (%s); left in place", path, e)
            continue
        if not isinstance(job, str):
            yield Job(path, job[0], job[1])
            continue
        uid, what, log = path.stem, job, None
        if find_log is not None:
            try:
                log = find_log(uid)
            except Exception as e:  # a damaged job must never stop the queue
                what = f"{what}; looking for its log failed: {e}"
        if log is None:
            logger.error(
                "pending registration %s is damaged (%s) and the log of run %s is not found; "
                "left in place",
                *(path, what, uid),
            )
            continue
        logger.error(
            "pending registration %s is damaged (%s); run %s is registered from its log %s",
            *(path, what, uid, log),
        )
        yield Job(path, uid, log)
