"""A data folder a pipeline wrote: its run logs, its catalog, and opening that catalog.

A data folder (a pipeline's ``base_dir``) holds ``<session>/<run>/documents.jsonl``
(each run's document log, the source of truth) beside its stores, and
``.zarrscribe/catalog`` (the embedded catalog, made by the pipeline at its first
registration, or rebuilt from the logs by replay). Opening a folder never makes a
catalog: a folder with runs but no catalog says how to build one, and an embedded
catalog is never made inside a data folder where it would hide its runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ..writers.model import LOG_NAME, STATE_DIR
from ._errors import CatalogError

if TYPE_CHECKING:
    from ._catalog import Catalog

__all__ = [
    "catalog_directory",
    "check_catalog_directory",
    "find_logs",
    "no_catalog",
    "open_folder",
]

CATALOG_DATABASE = "catalog.db"
"""File name of an embedded catalog's database, in its directory."""


def catalog_directory(base_dir: str | Path) -> Path:
    """Where the embedded catalog of data folder ``base_dir`` lives."""
    return Path(base_dir).absolute() / STATE_DIR / "catalog"


def _iter_logs(base_dir: Path) -> Iterator[Path]:
    yield from base_dir.glob(f"*/*/{LOG_NAME}")
    yield from base_dir.glob(f"*/*/*/{LOG_NAME}")


def find_logs(base_dir: Path) -> list[Path]:
    """Every run's document log under ``base_dir``: ``<session>/<run>/documents.jsonl``,
    and ``<YYYY-MM-DD>/<session>/<run>/documents.jsonl`` with date folders."""
    return sorted(_iter_logs(base_dir))


def _marked_parent(folder: Path) -> Path | None:
    """The nearest folder above ``folder`` that holds a ``.zarrscribe`` state folder."""
    return next((p for p in folder.parents if (p / STATE_DIR).is_dir()), None)


def _data_root(folder: Path, *, climb: bool = True) -> Path | None:
    """The data folder that ``folder`` is, or is the state, a date, a session or a run
    folder of (with ``climb``, or lies anywhere in); ``None`` if it holds no zarrscribe
    data."""
    if (folder / STATE_DIR).is_dir():
        return folder
    part = folder.name == STATE_DIR or (folder / LOG_NAME).is_file()
    part = part or next(folder.glob(f"*/{LOG_NAME}"), None) is not None  # a session folder
    logs = next(_iter_logs(folder), None) is not None
    if not (part or logs or climb):
        return None
    marked = _marked_parent(folder)
    if marked is not None:
        return marked
    if logs:
        return folder
    if folder.name == STATE_DIR:
        return folder.parent
    if (folder / LOG_NAME).is_file():
        return folder.parent.parent
    return folder.parent if part else None


def check_catalog_directory(directory: Path) -> None:
    """Refuse to make a new embedded catalog in ``directory`` when it is a data folder
    (or its state, a session or a run folder): the new, empty catalog would sit beside
    the runs and find none of them. An existing catalog there opens as before; the
    data folder's own ``.zarrscribe/catalog`` is made by its pipeline."""
    if (directory / CATALOG_DATABASE).exists() or not directory.is_dir():
        return
    root = _data_root(directory, climb=False)
    if root is None:
        return
    raise CatalogError(
        f"{directory} is a zarrscribe data folder, not a catalog directory: a catalog made "
        f"there would be new and empty; open the folder's catalog with "
        f"Catalog.from_folder({str(root)!r})"
    )


def open_folder(base_dir: str | Path) -> Catalog:
    """The catalog of the data folder ``base_dir`` (a pipeline's ``base_dir``).

    Raises :class:`CatalogError` saying what to do when the folder has no catalog:
    with run logs, how to build it from them (replay); without, that it holds no
    zarrscribe data. Nothing is created.
    """
    from ._open import embedded_catalog

    base = Path(base_dir).absolute()
    if not base.is_dir():
        raise CatalogError(
            f"{base} is not a folder; give the data folder a Pipeline wrote to (its base_dir)"
        )
    directory = catalog_directory(base)
    if (directory / CATALOG_DATABASE).is_file():
        return embedded_catalog(base)
    raise no_catalog(base)


def no_catalog(base: Path, *, other: str = "") -> CatalogError:
    """The error for data folder ``base``, which has no catalog: how to build one from
    its run logs, or that it holds no zarrscribe data. ``other`` names another way
    (an option of the verb that asks)."""
    marked = _marked_parent(base)
    if marked is not None:
        return CatalogError(f"{base} is inside the data folder {marked}; open that{other}")
    logs = sum(1 for _ in _iter_logs(base))
    if logs:
        return CatalogError(
            f"{base} has {logs} run log{'s' if logs != 1 else ''} but no catalog yet; build it "
            f"from the logs with 'zarrscribe replay --all --base-dir {base}' "
            f"(Python: Pipeline([], base_dir=...).replay()){other}"
        )
    root = _data_root(base)
    if root is not None and root != base:
        return CatalogError(f"{base} is inside the data folder {root}; open that{other}")
    return CatalogError(
        f"{base} holds no zarrscribe data (no catalog in {catalog_directory(base)}, no run "
        f"logs <session>/<run>/{LOG_NAME}); give the folder a Pipeline wrote to (its "
        f"base_dir), or make one with 'zarrscribe demo'{other}"
    )
