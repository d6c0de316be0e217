"""Reading a run back: its documents (from its log or the catalog), where its stores
are now, and which ``file:line`` holds a document that cannot be the run's."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from ..writers.model import ZARR_MIMETYPE, Document, RunRecord, damage_at, local_path
from ._errors import CallbackError
from ._log import iter_document_log

__all__ = ["LoadedRun", "LogDocuments", "inside_base", "load_run", "loaded_run"]


_BASES: dict[Path, tuple[Path, int, int]] = {}


def _resolved_base(base_dir: Path) -> Path:
    """``base_dir.resolve()``, remembered while ``base_dir`` is the same folder (device
    and inode): each run checks its stores against it several times, and resolving
    walks every component of the path."""
    try:
        st = os.stat(base_dir)
    except OSError:
        return base_dir.resolve()
    known = _BASES.get(base_dir)
    if known is not None and known[1:] == (st.st_dev, st.st_ino):
        return known[0]
    if len(_BASES) >= 64:
        _BASES.clear()
    resolved = base_dir.resolve()
    _BASES[base_dir] = (resolved, st.st_dev, st.st_ino)
    return resolved


def inside_base(uri: str, base_dir: Path) -> Path:
    """The local path of store ``uri``, which must lie inside ``base_dir`` (after
    resolving ``..`` and symbolic links); anything else is refused."""
    path = local_path(uri)
    if path is None:
        raise CallbackError(f"store {uri!r} is not a local file:// store; nothing is written")
    resolved = Path(path).resolve()
    base = _resolved_base(base_dir)
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
    documents: Iterable[Document]
    """The run's documents, in order: from its log, read again each time they are
    iterated (:class:`LogDocuments`, never all held at once), or a list (from the
    catalog)."""
    record: RunRecord
    damage: list[str]
    last_line: int | None = None
    """The log line of the run's last document (``None`` for documents from the catalog)."""
    stores: dict[str, Path] = field(default_factory=dict)
    """The folder of each Zarr store (by URI, as in :attr:`documents`), resolved and
    checked inside the base directory when the documents were read
    (:func:`inside_base`): whoever reads the stores next need not resolve them again."""

    def where_last(self, what: str) -> str:
        """``what`` about the run's last document, named ``file:line`` (``file`` alone
        when the documents did not come from the log's lines)."""
        if self.last_line is None:
            return f"{self.log}: {what}"
        return damage_at(self.log, self.last_line, what)


class LogDocuments:
    """A run's documents read from its log up to a byte offset, again each time they
    are iterated (one document in memory at a time), its stores moved to where the
    log is now. Indexing reads up to the document asked for."""

    fresh = True
    """Each iteration parses the documents anew: no one else holds them (registration
    changes them in place rather than copying each first)."""

    def __init__(
        self, log: Path, end: int, base_dir: Path, rebased: Mapping[str, str] | None = None
    ) -> None:
        self.log, self.end, self.base_dir = log, end, base_dir
        self.rebased = rebased or {}
        """Where each store URI of the log was moved to when it was first read (the
        same again, without resolving its path again)."""

    def __iter__(self) -> Iterator[Document]:
        run_dir = self.log.absolute().parent
        for record in iter_document_log(self.log, end=self.end):
            doc = record.doc
            if record.name == "stream_resource":
                uri = str(doc["uri"])
                moved = self.rebased.get(uri)
                if moved is None:
                    moved = _rebased(uri, run_dir, self.base_dir)[0]
                doc = {**doc, "uri": moved}
            yield record.name, doc

    def __getitem__(self, index: int) -> Document:
        if index >= 0:
            for found in itertools.islice(self, index, None):
                return found
        raise IndexError(f"no document {index} in {self.log}")

    def __repr__(self) -> str:
        return f"LogDocuments({str(self.log)!r}, end={self.end})"


def _where(log: Path, line: int | None, what: str) -> str:
    return damage_at(log, line, what) if line is not None else f"{log}: {what}"


def _rebased(uri: str, run_dir: Path, base_dir: Path) -> tuple[str, Path | None]:
    """``uri`` of a store that was in the run's folder when it was written, moved to
    where the run's folder is now (a moved or copied data folder). Others unchanged.

    Also the store's folder as :func:`inside_base` gives it, where that is known
    already: ``uri`` unchanged, inside ``base_dir``, its path without ``..`` (which
    ``inside_base`` resolves after symbolic links, and this before)."""
    local = local_path(uri)
    if local is None:
        return uri, None
    path = PurePath(os.path.normpath(local))
    resolved = Path(path).resolve()
    if resolved.is_relative_to(_resolved_base(base_dir)):
        return uri, resolved if path == local else None
    if path.parent.name == run_dir.name and path.name:
        return (run_dir / path.name).as_uri(), None
    return uri, None


def _reason(error: Exception) -> str:
    return f"no {error}" if isinstance(error, KeyError) else str(error)


class _Reader:
    """Takes a run's documents one at a time: rebases its stores, builds its record,
    and remembers the first document that cannot be this run's."""

    def __init__(self, log: Path, base_dir: Path) -> None:
        self.log, self.base_dir = log, base_dir
        self.run_dir = log.absolute().parent
        self.record: RunRecord | None = None
        self.count = 0
        self.last_line: int | None = None
        self.bad: tuple[int | None, Exception] | None = None
        """The first document that cannot be this run's: its line, and why."""
        self.rebased: dict[str, str] = {}
        """Each store URI read, and where :func:`_rebased` moved it."""
        self.stores: dict[str, Path] = {}
        """Each Zarr store's folder, by URI (rebased), resolved inside the base."""

    def take(self, name: str, doc: dict[str, Any], line: int | None) -> Document:
        """Document ``doc`` as the run holds it (its store rebased). A store outside the
        base directory raises :class:`CallbackError` naming the line at once."""
        if name == "stream_resource":
            original = str(doc["uri"])
            uri, resolved = _rebased(original, self.run_dir, self.base_dir)
            self.rebased[original] = uri
            doc = {**doc, "uri": uri}
            if doc.get("mimetype") == ZARR_MIMETYPE:
                try:
                    self.stores[uri] = resolved or inside_base(uri, self.base_dir)
                except CallbackError as e:
                    raise CallbackError(_where(self.log, line, str(e))) from e
        self.count += 1
        self.last_line = line
        if self.bad is None:
            try:
                if self.record is None:
                    self.record = RunRecord.from_documents([(name, doc)])
                else:
                    self.record.add(name, doc)
            except (KeyError, TypeError, ValueError) as e:
                self.bad = (line, e)
        return name, doc

    def finish(self, damage: list[str]) -> RunRecord:
        """The run's record; raises :class:`CallbackError` for a log that holds no
        document, or the first one that cannot be this run's."""
        also = f"; {damage[0]}" if damage else ""
        if not self.count:
            raise CallbackError(
                f"{self.log}: not a run's documents (it holds none; a run's log begins with "
                f"its start document){also}"
            )
        if self.bad is not None:
            line, e = self.bad
            what = f"not a document of this run ({_reason(e)}){also}; repair or remove the line"
            raise CallbackError(_where(self.log, line, what)) from e
        assert self.record is not None
        return self.record


def loaded_run(
    log: Path,
    documents: Iterable[Document],
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
    reader = _Reader(log, base_dir)
    lines = iter(lines)
    docs = [reader.take(name, doc, next(lines, None)) for name, doc in documents]
    damage = list(damage)
    record = reader.finish(damage)
    return LoadedRun(log, docs, record, damage, reader.last_line, reader.stores)


def load_run(log: Path, base_dir: Path) -> LoadedRun:
    """Read a run's log one document at a time (damaged lines left out and reported):
    its record, and its documents to read again when needed (:class:`LogDocuments`).
    Memory stays that of the record (descriptors, resources, counts), whatever the
    log's length."""
    damage: list[str] = []
    reader = _Reader(log, base_dir)
    end = 0
    for record in iter_document_log(log, damage):
        reader.take(record.name, record.doc, record.line)
        end = record.end
    run = reader.finish(damage)
    documents = LogDocuments(log, end, base_dir, reader.rebased)
    return LoadedRun(log, documents, run, damage, reader.last_line, reader.stores)
