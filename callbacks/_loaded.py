"""Reading a run back: its documents (from its log or the catalog), where its stores
are now, and which ``file:line`` holds a document that cannot be the run's."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from ..writers.model import ZARR_MIMETYPE, Documents, RunRecord, damage_at, local_path
from ._errors import CallbackError
from ._log import read_document_log

__all__ = ["LoadedRun", "inside_base", "load_run", "loaded_run"]


def inside_base(uri: str, base_dir: Path) -> Path:
    """The local path of store ``uri``, which must lie inside ``base_dir`` (after
    resolving ``..`` and symbolic links); anything else is refused."""
    path = local_path(uri)
    if path is None:
        raise CallbackError(f"store {uri!r} is not a local file:// store; nothing is written")
    resolved = Path(path).resolve()
    base = base_dir.resolve()
    if not resolved.is_relative_to(base):
        raise CallbackError(
            f"store {uri!r} lies outside the base directory {str(base)!r}; zarrscribe "
            "writes only inside it (repair the document log, or replay with that --base-dir)"
        )
    return resolved


@dataclass
class LoadedRun:
    """A run read back from its log, its stores moved to where the log now is."""

    log: Path
    documents: Documents
    record: RunRecord
    damage: list[str]
    lines: list[int] = field(default_factory=list)
    """The log line each document was read from (none for documents from the catalog)."""

    def where(self, index: int, what: str) -> str:
        """``what`` about document ``index``, named ``file:line`` (``file`` alone when the
        documents did not come from the log's lines)."""
        return _where(self.log, self.lines, index, what)


def _where(log: Path, lines: list[int], index: int, what: str) -> str:
    return damage_at(log, lines[index], what) if 0 <= index < len(lines) else f"{log}: {what}"


def _rebased(uri: str, run_dir: Path, base_dir: Path) -> str:
    """``uri`` of a store that was in the run's folder when it was written, moved to
    where the run's folder is now (a moved or copied data folder). Others unchanged."""
    path = local_path(uri)
    if path is None:
        return uri
    path = PurePath(os.path.normpath(path))
    if Path(path).resolve().is_relative_to(base_dir.resolve()):
        return uri
    if path.parent.name == run_dir.name and path.name:
        return (run_dir / path.name).as_uri()
    return uri


def _reason(error: Exception) -> str:
    return f"no {error}" if isinstance(error, KeyError) else str(error)


def loaded_run(
    log: Path,
    documents: Documents,
    base_dir: Path,
    damage: Iterable[str] = (),
    lines: Iterable[int] = (),
) -> LoadedRun:
    """A run from its documents (from its log at ``log``, or from the catalog), its
    stores moved to the log's folder if they were in the run's folder when written.

    A document that cannot be this run's (the first is not a start, one belongs to
    another run, one lacks what its kind must hold), or a store outside ``base_dir``,
    raises :class:`CallbackError` naming its ``file:line`` (``lines``: each
    document's line in the log).
    """
    run_dir = log.absolute().parent
    lines = list(lines)
    docs: Documents = []
    for i, (name, doc) in enumerate(documents):
        if name == "stream_resource":
            doc = {**doc, "uri": _rebased(str(doc["uri"]), run_dir, base_dir)}
            if doc.get("mimetype") == ZARR_MIMETYPE:
                try:
                    inside_base(doc["uri"], base_dir)
                except CallbackError as e:
                    raise CallbackError(_where(log, lines, i, str(e))) from e
        docs.append((name, doc))
    damage = list(damage)
    also = f"; {damage[0]}" if damage else ""
    if not docs:
        raise CallbackError(
            f"{log}: not a run's documents (it holds none; a run's log begins with its "
            f"start document){also}"
        )
    record: RunRecord | None = None
    for i, (name, doc) in enumerate(docs):
        try:
            if record is None:
                record = RunRecord.from_documents([(name, doc)])
            else:
                record.add(name, doc)
        except (KeyError, TypeError, ValueError) as e:
            what = f"not a document of this run ({_reason(e)}){also}; repair or remove the line"
            raise CallbackError(_where(log, lines, i, what)) from e
    assert record is not None
    return LoadedRun(log, docs, record, damage, lines)


def load_run(log: Path, base_dir: Path) -> LoadedRun:
    """Read a run's log (damaged lines left out and reported) and its record."""
    logged = read_document_log(log)
    return loaded_run(log, logged.documents, base_dir, logged.damage, logged.lines)
