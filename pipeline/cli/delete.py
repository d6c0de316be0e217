"""``zarrscribe delete``: remove a run's catalog entry, and with ``--with-data`` its folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ...writers.model import ATTRIBUTES_KEY, STATE_DIR
from ._common import UsageError, catalog_of

if TYPE_CHECKING:
    from ...catalog import Catalog

HELP = "remove a run from the catalog (--with-data: also its folder)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("uid", help="uid or unambiguous uid prefix")
    parser.add_argument(
        "--with-data",
        action="store_true",
        help="also delete the run's folder (stores and document log) under --base-dir",
    )
    parser.add_argument("--yes", action="store_true", help="do not ask before deleting data")


def run_folder(metadata: dict[str, object], base_dir: Path) -> Path | None:
    """The run's folder under ``base_dir`` (where its log and stores are), or ``None``
    when the entry names none. Never ``base_dir`` itself nor anything outside it."""
    ours = metadata.get(ATTRIBUTES_KEY)
    if not isinstance(ours, dict):
        return None
    places = [str(p) for p in [ours.get("log"), *ours.get("stores", [])] if p]
    if not places:
        return None
    base = base_dir.resolve()
    folders = {(base / place).resolve().parent for place in places}
    if len(folders) != 1:
        raise UsageError(
            f"the run's files are in several folders ({', '.join(map(str, sorted(folders)))}); "
            "delete them by hand"
        )
    (folder,) = folders
    state = base / STATE_DIR
    if folder in (base, state) or base not in folder.parents or state in folder.parents:
        raise UsageError(
            f"refusing to delete {folder}: it is not a run folder inside {base}; "
            "delete it by hand if you mean it"
        )
    return folder


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        raise UsageError(f"{question} needs a yes: pass --yes (stdin is not a terminal)")
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    with catalog_of(args) as catalog:
        return _delete(catalog, args)


def _delete(catalog: Catalog, args: argparse.Namespace) -> int:
    metadata = catalog.metadata(args.uid)
    uid = str(metadata["start"]["uid"])
    folder = run_folder(metadata, args.base_dir) if args.with_data else None
    if args.with_data and folder is None:
        raise UsageError(f"run {uid} names no folder under {args.base_dir}; nothing to delete")
    if (
        folder is not None
        and not args.yes
        and not _confirm(f"delete run {uid} and its folder {folder}?")
    ):
        sys.stderr.write("nothing deleted\n")
        return 1
    catalog.delete_run(uid)
    sys.stdout.write(f"deleted catalog entry {uid}\n")
    if folder is not None:
        if folder.exists():
            import shutil

            shutil.rmtree(folder)
            sys.stdout.write(f"deleted folder {folder}\n")
        else:
            sys.stderr.write(f"folder {folder} was already gone\n")
    return 0
