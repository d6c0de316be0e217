"""The document log: an append-only JSON-lines file per run, the source of truth."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NamedTuple

from event_model import DocumentRouter

from ..writers import BackgroundSyncs
from ..writers.model import LOG_NAME, Documents, damage_at
from ._errors import CallbackError, DocumentLogError, RunRefusedError

__all__ = [
    "LOG_NAME",
    "DocumentLog",
    "LogRecord",
    "LoggedRun",
    "encode_record",
    "iter_document_log",
    "read_document_log",
]

_orjson: Any
try:  # Tiled's own dependency; the log is read with ``json`` alone without it
    _orjson = importlib.import_module("orjson")
except ImportError:  # pragma: no cover
    _orjson = None

_SYNC_ON = frozenset({"start", "descriptor", "stream_resource", "stop"})


def _default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _dumps(value: Any) -> str:
    """The log's JSON encoder (NumPy arrays and scalars become lists and numbers)."""
    return json.dumps(value, default=_default)


def _unencodable(value: Any, path: str, open_: frozenset[int]) -> tuple[str, str] | None:
    """The first value under ``value`` the log's encoder refuses: its key path
    (``sample.raw``, ``holders[1]``) and what it holds; ``None`` if there is none."""
    if isinstance(value, dict | list | tuple):
        if id(value) in open_:
            return path, "itself (a structure that contains itself)"
        inner = open_ | {id(value)}
        if isinstance(value, dict):
            for key, item in value.items():
                if key is not None and not isinstance(key, str | int | float | bool):
                    return path, f"a key {key!r} of type {type(key).__name__}"
                found = _unencodable(item, f"{path}.{key}" if path else str(key), inner)
                if found is not None:
                    return found
        else:
            for i, item in enumerate(value):
                found = _unencodable(item, f"{path}[{i}]", inner)
                if found is not None:
                    return found
        return None
    try:
        _dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
        text = text if len(text) <= 40 else text[:37] + "..."
        return path, f"{type(value).__name__} ({text})"
    return None


def encode_record(name: str, doc: Any) -> bytes:
    """The log line (newline included) of document ``doc`` named ``name``.

    A value JSON cannot hold raises, naming its key path and type; for a start
    document the error is a :class:`RunRefusedError` (the run is not started).
    """
    try:
        return (_dumps({"name": name, "doc": doc}) + "\n").encode("utf-8")
    except (TypeError, ValueError, RecursionError) as e:
        try:
            found = _unencodable(doc, "", frozenset())
        except RecursionError:
            found = None
        where = (
            f"key {found[0]!r} holds {found[1]}"
            if found is not None
            else f"cannot be written as JSON ({type(e).__name__}: {e})"
        )
        error = RunRefusedError if name == "start" else CallbackError
        outcome = (
            "the run was not started (nothing of it is written)"
            if name == "start"
            else "the document is not logged"
        )
        raise error(
            f"{name} document {where}, which the document log cannot write as JSON: give "
            f"metadata as str, number, bool, None, list or dict (text for bytes: "
            f".decode() or .hex()); {outcome}"
        ) from None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class DocumentLog(DocumentRouter):
    """Append every document of ONE run to ``<run folder>/documents.jsonl``.

    One line per document: ``{"name": ..., "doc": ...}``. The log appears with its
    start line or not at all: the line is written to a temporary file that is then
    linked in; a start that cannot be written (a value JSON cannot hold, a full
    disk) raises :class:`RunRefusedError` and leaves nothing, not even the run's
    folder when it is empty. Each later line is written whole and at once, so a
    killed process loses nothing logged; a line the disk takes only in part is cut
    off again, so the log holds whole lines only. After the start, each
    descriptor and stream resource, and the stop, the file is fsync'd by the
    background syncer (:class:`BackgroundSyncs`; at the stop it is handed over to
    be fsync'd and closed), so the RunEngine never waits for the disk and a power
    loss costs at most the last events and milliseconds. A failed fsync is logged,
    and the next document this log writes raises :class:`CallbackError` naming
    the file. The pipeline makes one per run (documents are routed by run, so
    overlapping runs each get their own log).

    Parameters
    ----------
    run_dir:
        The run's folder (created if missing).
    syncs:
        Where the fsyncs are asked (the pipeline's, to wait for them and see their
        failures); a new one by default.
    """

    def __init__(self, run_dir: Path, *, syncs: BackgroundSyncs | None = None) -> None:
        super().__init__()
        self.path = run_dir / LOG_NAME
        self._file: IO[bytes] | None = None
        self._size = 0
        self._syncs = syncs if syncs is not None else BackgroundSyncs()
        self._sync_lock = threading.Lock()
        self._sync_failure: str | None = None

    def __call__(self, name: str, doc: Any, validate: bool = False) -> Any:
        line = encode_record(name, doc)
        try:
            self._write(name, doc, line)
        except FileExistsError as e:
            raise RunRefusedError(
                f"the log {self.path} exists already (another run's): never appended to; "
                "the run was not started (nothing of it is written)"
            ) from e
        except OSError as e:
            if name == "start":
                raise RunRefusedError(
                    f"cannot start the log {self.path}: {e.strerror or e}; free space (or fix "
                    "permissions) there: the run was not started (nothing of it is written)"
                ) from e
            raise CallbackError(
                f"cannot write the {name} document to the log {self.path}: {e.strerror or e}; "
                "free space (or fix permissions) there: the run's documents after this one "
                "are not logged"
            ) from e
        with self._sync_lock:
            failure, self._sync_failure = self._sync_failure, None
        if failure is not None:
            raise CallbackError(
                f"the log {self.path} may not survive a power loss: its fsync failed ({failure}); "
                f"the documents logged so far (this {name} too) are written but not safely on "
                "disk: check the disk"
            )
        return super().__call__(name, doc, validate)

    def _sync_failed(self, error: str) -> None:
        """Remember a failed background fsync (called on the syncer thread)."""
        with self._sync_lock:
            if self._sync_failure is None:
                self._sync_failure = error

    def _write(self, name: str, doc: Any, line: bytes) -> None:
        if name == "start":
            self._syncs.fsync(self._begin(line), self.path, on_failure=self._sync_failed)
            self._syncs.fsync_folder(self.path.parent, on_failure=self._sync_failed)
            return
        if self._file is None:
            raise CallbackError(
                f"{name} document {doc.get('uid', '')!r} arrived after the log {self.path} "
                "was closed (or before the run's start)"
            )
        self._append(self._file, line)
        if name == "stop":  # the syncer fsyncs, then closes it
            file, self._file = self._file, None
            self._syncs.fsync(file, self.path, close=True, on_failure=self._sync_failed)
        elif name in _SYNC_ON:
            self._syncs.fsync(self._file, self.path, on_failure=self._sync_failed)

    def _begin(self, line: bytes) -> IO[bytes]:
        """Make the log with its start ``line`` and open it, or leave nothing."""
        if self._file is not None:
            raise CallbackError(f"the log {self.path} has a start document already")
        folder = self.path.parent
        linked = False
        # Created as open() creates files (umask applies), under a name no one else has
        # (the folder is made only when it is not there).
        tmp = folder / f".{LOG_NAME}.{uuid.uuid4().hex}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        try:
            try:
                fd = os.open(tmp, flags, 0o666)
            except FileNotFoundError:
                folder.mkdir(parents=True, exist_ok=True)
                fd = os.open(tmp, flags, 0o666)
            try:
                _write_all(fd, line)
                os.link(tmp, self.path)  # never over an existing log
                linked = True
            finally:
                os.close(fd)
                os.unlink(tmp)
            file = open(self.path, "ab", buffering=0)  # noqa: SIM115
        except BaseException:
            if linked:
                self.path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                folder.rmdir()  # the run's folder, if nothing else is in it
            raise
        self._file, self._size = file, len(line)
        return file

    def _append(self, file: IO[bytes], line: bytes) -> None:
        """Append ``line`` whole, or cut off again what the disk took of it."""
        try:
            _write_all(file.fileno(), line)
        except BaseException:
            with contextlib.suppress(OSError):  # else a reader reports the cut line
                os.ftruncate(file.fileno(), self._size)
            raise
        self._size += len(line)

    def close(self) -> None:
        """Close the file (a run that never stopped keeps what was written)."""
        if self._file is not None:
            file, self._file = self._file, None
            try:
                file.close()
            except OSError as e:
                raise CallbackError(
                    f"cannot finish the document log {self.path}: {e.strerror or e}; "
                    "free space there (what was flushed before is kept)"
                ) from e


class LogRecord(NamedTuple):
    """One document read from a log: its line, name and document, and the byte offset
    just after its line."""

    line: int
    name: str
    doc: dict[str, Any]
    end: int


@dataclass
class LoggedRun:
    """A run's documents as read back from its log, and where the log is damaged."""

    path: Path
    documents: Documents = field(default_factory=list)
    damage: list[str] = field(default_factory=list)
    """One ``file:line: what`` per line that could not be read (left out)."""
    lines: list[int] = field(default_factory=list)
    """The line of the log each document was read from."""

    @property
    def damaged(self) -> bool:
        return bool(self.damage)


def iter_document_log(
    path: str | os.PathLike[str], damage: list[str] | None = None, *, end: int | None = None
) -> Iterator[LogRecord]:
    """The records of a document log, one at a time, as they are read (the file is
    never held whole: memory stays that of one line).

    Every line that is not a document record is left out and appended to ``damage``
    as ``file:line: what`` (a last line cut short by a crash, invalid UTF-8, a line
    that is not JSON). ``end``: stop at this byte offset (a :attr:`LogRecord.end`
    read before), so a log still being appended is read the same way twice.
    Raises :class:`DocumentLogError` at once when the file cannot be read at all.
    """
    path = Path(path)
    try:
        file = open(path, "rb")  # noqa: SIM115 (closed by the generator)
    except FileNotFoundError:
        raise DocumentLogError(f"document log {str(path)!r} does not exist") from None
    except OSError as e:
        raise DocumentLogError(f"document log {str(path)!r} cannot be read: {e}") from e
    return _records(path, file, damage if damage is not None else [], end)


def _records(
    path: Path, file: IO[bytes], damage: list[str], end: int | None
) -> Iterator[LogRecord]:
    offset = 0
    with file:
        for number, raw in enumerate(file, start=1):
            if end is not None and offset >= end:
                return
            offset += len(raw)
            if not raw.strip():
                continue
            fast = _fast(raw)
            if fast is not None:
                yield LogRecord(number, fast[0], fast[1], offset)
                continue
            try:  # (what the fast parser refuses, and the error it is reported with)
                record = json.loads(raw.decode("utf-8"))
                name, doc = record["name"], record["doc"]
                if not isinstance(name, str) or not isinstance(doc, dict):
                    raise TypeError("'name' must be a string and 'doc' an object")
            except UnicodeDecodeError as e:
                damage.append(
                    damage_at(path, number, f"not UTF-8 text ({e.reason} at byte {e.start})")
                )
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                # no newline after it: the writer stopped mid-line
                what = "cut short" if not raw.endswith(b"\n") else "not a document record"
                damage.append(damage_at(path, number, f"{what} ({e})"))
            else:
                yield LogRecord(number, name, doc, offset)


def _fast(raw: bytes) -> tuple[str, dict[str, Any]] | None:
    """``(name, doc)`` of a record line by orjson (several times faster than ``json``:
    each line of a long log is read twice), or ``None`` for anything it does not take
    as ``json`` would (``NaN``, integers over 64 bits, bad UTF-8, damage): ``json``
    then reads it, as before, with its own errors."""
    if _orjson is None:
        return None
    try:
        record = _orjson.loads(raw)
    except ValueError:
        return None
    if isinstance(record, dict):
        name, doc = record.get("name"), record.get("doc")
        if isinstance(name, str) and isinstance(doc, dict):
            return name, doc
    return None


def read_document_log(path: str | os.PathLike[str]) -> LoggedRun:
    """Read a whole document log into memory (:func:`iter_document_log` reads it one
    record at a time); every line that is not a document record is left out and
    reported in :attr:`LoggedRun.damage` with ``file:line``. Raises
    :class:`DocumentLogError` only when the file cannot be read at all."""
    run = LoggedRun(Path(path))
    for record in iter_document_log(path, run.damage):
        run.documents.append((record.name, record.doc))
        run.lines.append(record.line)
    return run
