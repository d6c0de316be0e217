"""The document log: an append-only JSON-lines file per run, the source of truth."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from event_model import DocumentRouter
from event_model.documents import RunStart

from ._errors import CallbackError, DocumentLogError

__all__ = ["LOG_NAME", "DocumentLog", "read_document_log"]

LOG_NAME = "documents.jsonl"
"""File name of a run's document log, in the run's folder beside its stores."""

_SYNC_ON = frozenset({"start", "descriptor", "stream_resource", "stop"})


def _default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class DocumentLog(DocumentRouter):
    """Append every document of a run to ``<run folder>/documents.jsonl``.

    One line per document: ``{"name": ..., "doc": ...}``. Each line is flushed
    as it is written; the file is fsync'd after the start, each descriptor and
    stream resource, and the stop, so a crash loses at most the last events.

    Parameters
    ----------
    run_dir_for:
        Gives the run's folder for its start document.
    """

    def __init__(self, run_dir_for: Callable[[RunStart], Path]) -> None:
        super().__init__()
        self._run_dir_for = run_dir_for
        self._files: dict[str, IO[str]] = {}
        self._paths: dict[str, Path] = {}
        self._current: str | None = None

    def path_for(self, run_uid: str) -> Path:
        """Log file of run ``run_uid`` (known from its start document on)."""
        return self._paths[run_uid]

    def __call__(self, name: str, doc: Any, validate: bool = False) -> Any:
        if name == "start":
            self._open(doc)
        uid = self._run_uid(name, doc)
        f = self._files.get(uid) if uid else None
        if uid is None or f is None:
            raise CallbackError(
                f"{name} document {doc.get('uid', '')!r} arrived for no open run; "
                "subscribe the pipeline before the run starts"
            )
        f.write(json.dumps({"name": name, "doc": doc}, default=_default) + "\n")
        f.flush()
        if name in _SYNC_ON:
            os.fsync(f.fileno())
        if name == "stop":
            f.close()
            del self._files[uid]
            self._current = None
        return super().__call__(name, doc, validate)

    def _open(self, doc: RunStart) -> None:
        run_dir = self._run_dir_for(doc)
        run_dir.mkdir(parents=True, exist_ok=True)
        path = run_dir / LOG_NAME
        self._files[doc["uid"]] = open(path, "a", encoding="utf-8")  # noqa: SIM115
        self._paths[doc["uid"]] = path
        self._current = doc["uid"]

    def _run_uid(self, name: str, doc: Any) -> str | None:
        if name == "start":
            return str(doc["uid"])
        if name in ("stop", "descriptor", "stream_resource"):
            uid = doc.get("run_start") or self._current
            return str(uid) if uid else None
        return self._current

    def close(self) -> None:
        """Close every open log file (runs that never stopped stay as they are)."""
        for f in self._files.values():
            f.close()
        self._files.clear()


def read_document_log(path: str | os.PathLike[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield ``(name, doc)`` from a document log, in order.

    A truncated last line (a process killed mid-write) is skipped; any other
    malformed line raises :class:`DocumentLogError` naming the file and line.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    except FileNotFoundError:
        raise DocumentLogError(f"document log {str(path)!r} does not exist") from None
    except UnicodeDecodeError as e:
        raise DocumentLogError(f"document log {str(path)!r} is not UTF-8 text: {e}") from e
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            name, doc = record["name"], record["doc"]
            if not isinstance(name, str) or not isinstance(doc, dict):
                raise TypeError("'name' must be a string and 'doc' an object")
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            if number == len(lines) and not line.endswith("\n"):
                return  # the writer died mid-line: everything before it is intact
            raise DocumentLogError(
                f"{path}:{number}: not a document record ({e}); the log is damaged "
                "at this line. Repair or remove the line, then replay again"
            ) from e
        yield name, doc
