"""Registering a batch of runs known from their documents alone (what a catalog
worker takes from the bus): one look-up of their entries, the new or changed ones
written in one catalog transaction, and a batch that fails tried run by run, so one
bad run never keeps the others out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path, PurePath
from typing import Any

from ..catalog import Catalog, CatalogUnavailableError
from ..writers.model import Document, Documents
from ._sync import compare_in, not_registered, project_documents

__all__ = ["register_batch"]

Entry = tuple[Iterable[Document], dict[str, Any]]


def register_batch(
    catalog: Catalog,
    runs: Sequence[tuple[Documents, str | PurePath | None]],
    *,
    base_dir: Path | None = None,
) -> list[Exception | None]:
    """Register each ``(documents, log)`` of ``runs`` as :func:`register_documents`
    does; one outcome per run, in order: ``None`` (registered, or its entry was
    already the same) or the exception that kept it out.

    The runs whose entries are missing or differ are written in one transaction of
    the catalog (all or none); when that fails, each is written on its own, so only
    the runs that fail by themselves are reported. A run given twice is written as
    its later documents say.
    """
    outcomes: list[Exception | None] = [None] * len(runs)
    projected = []
    for i, (documents, log) in enumerate(runs):
        try:
            projection, seen = project_documents(documents, base_dir=base_dir, log=log)
        except Exception as e:  # documents the projection refuses: this run only
            outcomes[i] = e
            continue
        projected.append((i, documents, projection, seen))
    try:
        current = catalog.entries_of([p.record.uid for _, _, p, _ in projected])
    except Exception as e:  # the catalog is down: every run waits
        return [e] * len(runs)
    entries: list[tuple[int, Entry]] = []
    for i, documents, projection, seen in projected:
        uid = projection.record.uid
        try:
            synced = compare_in(catalog, projection, documents, seen, current.get(uid))
            if synced.refused:
                raise not_registered(uid, synced.refused)
            if synced.entry is not None:
                docs, metadata = synced.entry
                entries.append((i, (list(docs), metadata)))  # read again if written alone
        except Exception as e:
            outcomes[i] = e
    if not entries:
        return outcomes
    try:
        catalog.register_runs([entry for _, entry in entries])
    except Exception as e:
        if len(entries) == 1 or isinstance(e, CatalogUnavailableError):
            for i, _ in entries:  # alone, or the catalog is down: all of them wait
                outcomes[i] = e
            return outcomes
        for i, entry in entries:  # which of them fails by itself
            try:
                catalog.register_runs([entry])
            except Exception as each:
                outcomes[i] = each
    return outcomes
