"""The document log: an append-only JSON-lines file per run, the source of truth."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from event_model import DocumentRouter

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

    One line per document: ``{"name": ..., "doc": ...}``. Each line is flushed as
    it is written; the file is fsync'd after the start, each descriptor and stream
    resource, and the stop, so a crash loses at most the last events. The pipeline
    makes one per run (documents are routed by run, so overlapping runs each get
    their own log).

    Parameters
    ----------
    run_dir:
        The run's folder (created if missing).
    """

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.path = run_dir / LOG_NAME
        self._file: IO[str] | None = None

    def __call__(self, name: str, doc: Any, validate: bool = False) -> Any:
        try:
            self._write(name, doc)
        except OSError as e:
            raise CallbackError(
                f"cannot write the {name} document to the log {self.path}: {e.strerror or e}; "
                "free space (or fix permissions) there: the run's documents after this one "
                "are not logged"
            ) from e
        return super().__call__(name, doc, validate)

    def _write(self, name: str, doc: Any) -> None:
        if name == "start":
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
        if name in _SYNC_ON:
            os.fsync(self._file.fileno())
        if name == "stop":
            self.close()

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
