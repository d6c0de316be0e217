"""Compare, then write: the one step through which live runs and replay write a run's
store attributes and catalog entry."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, Literal

from ..catalog import Catalog
from ..writers import (
    DAMAGED_SUFFIX,
    DamagedMetadataError,
    StoreScan,
    frames_on_disk,
    read_group_metadata,
    read_metadata,
    rebuild_image,
    update_store_attributes,
    write_collection,
)
from ..writers.model import (
    ATTRIBUTES_KEY,
    LOG_NAME,
    METADATA_KEY,
    ZARR_MIMETYPE,
    Document,
    Documents,
    RunProjection,
    RunRecord,
    differences,
    downgrades,
    without_written_at,
)
from ._errors import CallbackError
from ._loaded import inside_base, load_run

__all__ = [
    "Outcome",
    "Synced",
    "catalog_entry",
    "compare_entry",
    "compare_in",
    "not_registered",
    "project_documents",
    "read_on_disk",
    "register_documents",
    "sync_entry",
    "sync_store",
]

Outcome = Literal[
    "written",
    "unchanged",
    "differs",
    "refused",
    "registered",
    "missing",
    "queued",
    "skipped",
    "deleted",
    "removed",
]


@dataclass
class Synced:
    """What one compare-then-write step did (or, with ``check``, would do)."""

    outcome: Outcome
    differences: list[str] = field(default_factory=list)
    refused: str | None = None
    """Why nothing was written although it differs (a damaged log would lose data)."""
    entry: tuple[Iterable[Document], dict[str, Any]] | None = None
    """The catalog documents and metadata to register, where the entry differs."""
    damage: list[str] = field(default_factory=list)
    """``file:line: what`` of each damaged metadata file found (rebuilt, or with
    ``check`` to be rebuilt)."""


def read_on_disk(
    uris: Iterable[str],
    base_dir: Path,
    scans: dict[str, StoreScan] | None = None,
    *,
    checked: Mapping[str, Path] | None = None,
) -> dict[tuple[str, str], int]:
    """Frames readable per (store URI, array key) of each store, counted on disk.

    ``scans``: filled with what was read of each store (by URI; its resolved folder in
    :attr:`StoreScan.root`), for :func:`sync_store` to go on from rather than look again.
    ``checked``: stores' folders already resolved inside ``base_dir`` (:func:`inside_base`),
    by URI (:attr:`LoadedRun.stores`).
    """
    out: dict[tuple[str, str], int] = {}
    for uri in uris:
        path = (checked or {}).get(uri) or inside_base(uri, base_dir)
        scan = StoreScan(path)
        for key, n in frames_on_disk(path, scan).items():
            out[(uri, key)] = n
        if scans is not None:
            scans[uri] = scan
    return out


def _damage_of(node: Path, scan: StoreScan) -> str | None:
    """``file:line: what`` when the metadata file ``node`` is damaged, else ``None``."""
    try:
        read_metadata(node, scan)
    except DamagedMetadataError as e:
        return str(e)
    return None


def _rebuild_images(
    projection: RunProjection, uri: str, path: Path, *, check: bool, scan: StoreScan
) -> tuple[list[str], list[str]]:
    """The OME-Zarr images (arrays at ``<device>/0``) of store ``uri`` whose group
    metadata is missing or damaged (a stream killed before it closed): rebuilt from
    their arrays and their devices' pixel sizes, unless ``check``. Flat arrays and
    valid metadata are left alone. Returns the differences, and the damaged files."""
    out: list[str] = []
    damaged: list[str] = []
    record = projection.record
    for array in record.arrays.values():
        if array.uri != uri or array.mimetype != ZARR_MIMETYPE:
            continue
        pixel_size, units = record.pixel_size(array.data_key)
        image = array.key.rpartition("/")[0]
        where = _damage_of(path / image / "zarr.json", scan) if image else None
        damage = rebuild_image(
            path, array.key, pixel_size=pixel_size, units=units, check=check, scan=scan
        )
        if damage is None:
            continue
        if not check:
            scan.forget()  # written: read again
        if damage == "damaged" and where is not None:
            damaged.append(where)
            out.append(f"{where} -> OME-Zarr image metadata rebuilt")
        else:
            out.append(
                f"{PurePath(uri).name}/{image}: OME-Zarr image metadata {damage} -> rebuilt"
            )
    return out, damaged


def sync_store(
    projection: RunProjection,
    uri: str,
    *,
    base_dir: Path,
    check: bool = False,
    force: bool = False,
    damaged: bool = False,
    scan: StoreScan | None = None,
) -> Synced:
    """Write the projection's attributes into store ``uri`` where they differ.

    A store whose ``metadata`` attribute is lost gets it back from the descriptors,
    its OME-Zarr images whose group metadata is missing or damaged get it back, and
    a root ``zarr.json`` that is missing or damaged (a crash, a full disk) is made a
    group again with the projection's attributes, the damaged file kept beside it, and
    a store of images without the metadata that makes them one collection (made
    before it was written, or killed before close) gets it (nothing is lost by any of
    that, so it is written from a ``damaged`` log too).
    Every damaged file is named ``file:line`` in :attr:`Synced.damage`, with
    ``check`` alike. A root that is not a group raises :class:`WriterError`.
    From a ``damaged`` log, attributes that would lose something (worse status, fewer
    frames, arrays gone) are refused unless ``force``. ``scan``: what
    :func:`read_on_disk` read of this store just before (its folder checked against
    ``base_dir`` then), gone on from; a fresh look otherwise.
    """
    if scan is None or scan.root is None:
        scan = StoreScan(inside_base(uri, base_dir))
    path = scan.root
    assert path is not None
    images, damage = _rebuild_images(projection, uri, path, check=check, scan=scan)
    # said now, written once the root is a group (a damaged root is rebuilt first)
    stale = write_collection(path, check=True, scan=scan)
    if stale is not None:
        images.append(
            f"{PurePath(uri).name}: OME-Zarr collection metadata (bioformats2raw layout: "
            f"root 'ome', OME/series) {stale} -> written"
        )
    new = projection.store_attributes(uri)
    try:
        # None: no root group (a crashed run) or no store: written below
        group = read_group_metadata(path, scan)
    except DamagedMetadataError as e:
        group = None
        damage.append(str(e))
        kept = "" if e.empty else f" (the damaged file is kept as zarr.json{DAMAGED_SUFFIX})"
        images.append(f"{e} -> rebuilt from the run's documents{kept}")
    current: dict[str, Any] = (group or {}).get("attributes") or {}
    if METADATA_KEY not in current:  # the writer's metadata is lost: restore it
        new[METADATA_KEY] = projection.writer_metadata(uri)
    old = without_written_at({k: current.get(k) for k in new})
    attributes = differences(PurePath(uri).name, old, without_written_at(new))
    diffs = [*images, *attributes]
    if not diffs:
        return Synced("unchanged")
    lost = downgrades(current, new) if attributes and current.get(ATTRIBUTES_KEY) else []
    if damaged and lost and not force:
        if not check and group is not None and stale is not None:
            write_collection(path)  # nothing is lost by the collection
        return Synced(
            "refused", diffs, f"the damaged log would lose: {'; '.join(lost)}", damage=damage
        )
    if check:
        return Synced("differs", diffs, damage=damage)
    if attributes:
        update_store_attributes(path, new, create=True, rebuild_damaged=True)
    if stale is not None:
        write_collection(path)
    return Synced("written", diffs, damage=damage)


def compare_entry(
    projection: RunProjection,
    documents: Iterable[Document],
    log: Path | None,
    current: dict[str, Any] | None,
    *,
    layout: dict[str, Any] | None = None,
    force: bool = False,
    damaged: bool = False,
) -> Synced:
    """Compare the run's ``current`` catalog entry metadata (``None``: no entry) with
    the projection; with ``layout`` (:meth:`Catalog.layout`), also where the entry's nodes
    file its arrays (each stream's own frames). Where they differ, :attr:`Synced.entry`
    is what to register.

    A log that looks damaged (damaged lines, or no stop document while the
    catalog's entry has a real one) never replaces an entry with one that loses
    something, unless ``force``.
    """
    record = projection.record
    metadata = projection.catalog_metadata(log)
    docs = catalog_documents(projection, documents)
    stop = projection.catalog_stop()
    expected: dict[str, Any] = {
        "start": record.start,
        "stop": stop,
        **without_written_at(metadata),
    }
    if current is None:
        return Synced("missing", ["catalog: no entry"], entry=(docs, metadata))
    existing = {
        "start": current.get("start"),
        "stop": current.get("stop"),
        **without_written_at({ATTRIBUTES_KEY: current.get(ATTRIBUTES_KEY)}),
    }
    if layout is not None:
        existing["nodes"] = layout
        expected["nodes"] = projection.catalog_layout()
    diffs = differences("catalog", existing, expected)
    if not diffs:
        return Synced("unchanged")
    ours = current.get(ATTRIBUTES_KEY) or {}
    lost_stop = record.stop is None and current.get("stop") and not ours.get("recovered")
    lost = downgrades(current, metadata)
    if (damaged or lost_stop) and lost and not force:
        why = "the log has no stop document but the entry has" if lost_stop else "damaged log"
        return Synced("refused", diffs, f"{why}; replacing would lose: {'; '.join(lost)}")
    return Synced("differs", diffs, entry=(docs, metadata))


def sync_entry(
    catalog: Catalog,
    projection: RunProjection,
    documents: Iterable[Document],
    log: Path | None,
    *,
    check: bool = False,
    force: bool = False,
    damaged: bool = False,
) -> Synced:
    """Register the run's catalog entry where it differs from the projection
    (:func:`compare_entry`, with the entry looked up in ``catalog``)."""
    uid = projection.record.uid
    # the run's own uid, exactly (a prefix look-up would cost a scan for every new run)
    current = catalog.entries_of([uid]).get(uid)
    synced = compare_in(catalog, projection, documents, log, current, force=force, damaged=damaged)
    if synced.entry is not None and not check:
        catalog.register_run(*synced.entry)
        synced.outcome = "registered"
    return synced


def compare_in(
    catalog: Catalog,
    projection: RunProjection,
    documents: Iterable[Document],
    log: Path | None,
    current: dict[str, Any] | None,
    *,
    force: bool = False,
    damaged: bool = False,
) -> Synced:
    """:func:`compare_entry` with ``current``, the run's entry in ``catalog`` (``None``:
    none), and the layout of its arrays there."""
    layout = catalog.layout(projection.record.uid) if current is not None else None
    return compare_entry(
        projection, documents, log, current, layout=layout, force=force, damaged=damaged
    )


def not_registered(uid: str, why: str) -> CallbackError:
    """The error of a run whose entry :func:`compare_entry` refused (``why``)."""
    return CallbackError(f"run {uid!r} not registered: {why}")


def register_documents(
    catalog: Catalog,
    documents: Documents,
    *,
    base_dir: Path | None = None,
    log: str | PurePath | None = None,
) -> None:
    """Register a run from its documents alone (a catalog worker fed by the bus).

    Frames are counted on disk where the worker sees the run's stores (shared
    storage under ``base_dir``); otherwise the documents are trusted. Store
    attributes are not written: that stays with the host that owns the disk.
    ``log`` is where the publishing host logged the run; the entry records it (a
    log seen here, also one beside the run's stores, is recorded as replay would).
    """
    projection, seen = project_documents(documents, base_dir=base_dir, log=log)
    synced = sync_entry(catalog, projection, documents, seen)
    if synced.refused:
        raise not_registered(projection.record.uid, synced.refused)


def project_documents(
    documents: Documents, *, base_dir: Path | None, log: str | PurePath | None
) -> tuple[RunProjection, Path | None]:
    """The projection of a run known from its documents alone, and the log to record
    (see :func:`register_documents`)."""
    record = RunRecord.from_documents(documents)
    stores = record.store_uris(ZARR_MIMETYPE)
    on_disk, seen = None, None
    if base_dir is not None:
        try:
            paths = [inside_base(uri, base_dir) for uri in stores]
            if all(p.is_dir() for p in paths):
                on_disk = read_on_disk(stores, base_dir)
                # our layout: the run's log lies beside its stores
                seen = next((p.parent / LOG_NAME for p in paths), None)
        except CallbackError:
            on_disk = None  # the stores are elsewhere: trust the documents
        if log is not None and Path(log).is_file():
            seen = Path(log)
    if seen is None or not seen.is_file():
        seen = Path(log) if log is not None else None  # as the publishing host named it
    return RunProjection(record, on_disk, base_dir=base_dir), seen


def catalog_entry(log: Path, *, base_dir: Path) -> tuple[Iterable[Document], dict[str, Any]]:
    """A finished run's catalog documents and metadata from its log: what the pending
    registrations of live runs write, through the same projection as replay."""
    run = load_run(log, base_dir)
    if run.damage:
        raise CallbackError(
            f"the log of run {run.record.uid!r} is damaged ({run.damage[0]}); "
            f"check it with 'zarrscribe replay {log} --check'"
        )
    on_disk = read_on_disk(run.record.store_uris(ZARR_MIMETYPE), base_dir, checked=run.stores)
    projection = RunProjection(run.record, on_disk, base_dir=base_dir)
    return catalog_documents(projection, run.documents), projection.catalog_metadata(log)


class ProjectedDocuments:
    """The documents to register (:meth:`RunProjection.catalog_documents`) of documents
    read again from a run's log each time they are iterated: one in memory at a time."""

    def __init__(self, projection: RunProjection, documents: Iterable[Document]) -> None:
        self.projection, self.documents = projection, documents
        self.fresh: bool = getattr(documents, "fresh", False)
        """Documents parsed anew at each iteration (:attr:`LogDocuments.fresh`)."""

    def __iter__(self) -> Iterator[Document]:
        return self.projection.catalog_documents(self.documents)

    @property
    def start_uid(self) -> str:
        """The uid of the first document, the run's start (its record's: the log is not
        opened again to say it)."""
        return self.projection.record.uid

    def __getitem__(self, index: int) -> Document:
        if index >= 0:
            for found in itertools.islice(self, index, None):
                return found
        raise IndexError(f"no document {index} among {self.documents!r}")


def catalog_documents(
    projection: RunProjection, documents: Iterable[Document]
) -> Iterable[Document]:
    """The documents to register: a list from a list, else read again at each use."""
    if isinstance(documents, list):
        return list(projection.catalog_documents(documents))
    return ProjectedDocuments(projection, documents)
