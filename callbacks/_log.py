"""The document log: an append-only JSON-lines file per run, the source of truth."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from event_model import DocumentRouter

from ..writers import BackgroundSyncs
from ..writers.model import LOG_NAME, Documents
from ._errors import CallbackError, DocumentLogError

__all__ = ["LOG_NAME", "DocumentLog", "LoggedRun", "read_document_log"]

_SYNC_ON = frozenset({"start", "descriptor", "stream_resource", "stop"})


def _default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class DocumentLog(DocumentRouter):
    """Append every document of ONE run to ``<run folder>/documents.jsonl``.

    One line per document: ``{"name": ..., "doc": ...}``. Each line is written and
    flushed as it comes, so a killed process loses nothing logged. After the start,
    each descriptor and stream resource, and the stop, the file is fsync'd by the
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
        self._file: IO[str] | None = None
        self._syncs = syncs if syncs is not None else BackgroundSyncs()
        self._sync_lock = threading.Lock()
        self._sync_failure: str | None = None

    def __call__(self, name: str, doc: Any, validate: bool = False) -> Any:
        try:
            self._write(name, doc)
        except OSError as e:
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

    def _write(self, name: str, doc: Any) -> None:
        if name == "start":
            try:
                self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
            except FileNotFoundError:  # the run folder is made here, then
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        if self._file is None:
            raise CallbackError(
                f"{name} document {doc.get('uid', '')!r} arrived after the log {self.path} "
                "was closed (or before the run's start)"
            )
        try:
            line = json.dumps({"name": name, "doc": doc}, default=_default)
        except (TypeError, ValueError, RecursionError) as e:
            raise CallbackError(
                f"the {name} document of the run logged in {self.path} cannot be written as "
                f"JSON ({e}); give metadata as numbers, strings, lists and dicts"
            ) from e
        self._file.write(line + "\n")
        self._file.flush()
        if name == "stop":  # the syncer fsyncs, then closes it
            file, self._file = self._file, None
            self._syncs.fsync(file, self.path, close=True, on_failure=self._sync_failed)
        elif name in _SYNC_ON:
            self._syncs.fsync(self._file, self.path, on_failure=self._sync_failed)

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


@dataclass
class LoggedRun:
    """A run's documents as read back from its log, and where the log is damaged."""

    path: Path
    documents: Documents = field(default_factory=list)
    damage: list[str] = field(default_factory=list)
    """One ``file:line: what`` per line that could not be read (left out)."""

    @property
    def damaged(self) -> bool:
        return bool(self.damage)


def read_document_log(path: str | os.PathLike[str]) -> LoggedRun:
    """Read a document log; every line that is not a document record is left out and
    reported in :attr:`LoggedRun.damage` with ``file:line`` (a last line cut short
    by a crash, invalid UTF-8, a line that is not JSON). Raises
    :class:`DocumentLogError` only when the file cannot be read at all."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DocumentLogError(f"document log {str(path)!r} does not exist") from None
    except OSError as e:
        raise DocumentLogError(f"document log {str(path)!r} cannot be read: {e}") from e
    run = LoggedRun(path)
    lines = data.split(b"\n")
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        cut_short = number == len(lines)  # no newline after it: the writer stopped mid-line
        try:
            record = json.loads(raw.decode("utf-8"))
            name, doc = record["name"], record["doc"]
            if not isinstance(name, str) or not isinstance(doc, dict):
                raise TypeError("'name' must be a string and 'doc' an object")
        except UnicodeDecodeError as e:
            run.damage.append(f"{path}:{number}: not UTF-8 text ({e.reason} at byte {e.start})")
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            what = "cut short" if cut_short else "not a document record"
            run.damage.append(f"{path}:{number}: {what} ({e})")
        else:
            run.documents.append((name, doc))
    return run
