"""``zarrscribe delete``: remove a run's catalog entry, and with ``--with-data`` its folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ...writers import require_writable
from ...writers.model import ATTRIBUTES_KEY, STATE_DIR
from ._common import UsageError, catalog_of

if TYPE_CHECKING:
    from ...catalog import Catalog

HELP = "delete a run: its catalog entry, for good (--with-data: also its folder)"


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


def _find(catalog: Catalog, args: argparse.Namespace) -> tuple[str, Path | None, bool]:
    """The run's full uid, its folder when ``--with-data``, and whether the catalog
    has its entry: found by its entry, else by its log under the base directory."""
    from ...catalog import RunNotFoundError
    from ..replay import run_log

    try:
        metadata = catalog.metadata(args.uid)
    except RunNotFoundError as e:
        found = run_log(args.base_dir, args.uid)
        if found is None:
            raise e from None
        uid, log = found
        folder = run_folder({ATTRIBUTES_KEY: {"log": str(log)}}, args.base_dir)
        return uid, folder if args.with_data else None, False
    uid = str(metadata["start"]["uid"])
    folder = run_folder(metadata, args.base_dir) if args.with_data else None
    if args.with_data and folder is None:
        raise UsageError(f"run {uid} names no folder under {args.base_dir}; nothing to delete")
    return uid, folder, True


def _delete(catalog: Catalog, args: argparse.Namespace) -> int:
    from ...catalog import DeletionLog, RunNotFoundError

    deletions = DeletionLog(args.base_dir)
    try:
        uid, folder, has_entry = _find(catalog, args)
    except RunNotFoundError:
        deleted = deletions.read().find(args.uid)
        if deleted is None:
            raise
        sys.stderr.write(f"run {deleted.uid} is already {deleted.describe()}\n")
        return 0
    if (
        folder is not None
        and not args.yes
        and not _confirm(f"delete run {uid} and its folder {folder}?")
    ):
        sys.stderr.write("nothing deleted\n")
        return 1
    # The deletion is an event: recorded (fsync'd) first, so a replay never brings the
    # run back, whatever happens after.
    known = deletions.read().get(uid)
    require_writable(args.base_dir, f"delete run {uid} (its deletion is recorded there)")
    if not args.base_dir.is_dir():
        sys.stderr.write(
            f"no data folder at {args.base_dir}: the deletion is not recorded there (a replay "
            "of the run's log would bring it back)\n"
        )
    elif known is None or (folder is not None and not known.with_data):
        deletions.record_deletion(uid, with_data=folder is not None)
    if has_entry:
        catalog.delete_run(uid)
        sys.stdout.write(f"deleted catalog entry {uid}\n")
    if folder is not None:
        if folder.exists():
            import shutil

            shutil.rmtree(folder)
            sys.stdout.write(f"deleted folder {folder}\n")
        else:
            sys.stderr.write(f"folder {folder} was already gone\n")
    if folder is None and args.base_dir.is_dir():
        sys.stderr.write(
            f"recorded in {deletions.path}: replay skips it; "
            f"'zarrscribe restore {uid[:8]}' brings it back\n"
        )
    return 0
