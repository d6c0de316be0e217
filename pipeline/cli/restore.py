"""``zarrscribe restore``: undo a deletion; the run is replayed back into the catalog."""

from __future__ import annotations

import argparse
import sys

from ._common import UsageError

HELP = "undo 'zarrscribe delete' of a run whose folder is kept: replay it back"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("uid", help="uid or unambiguous uid prefix of a deleted run")


def run(args: argparse.Namespace) -> int:
    from ...catalog import DeletionLog
    from .._pipeline import Pipeline
    from ..replay import find_log

    deletions = DeletionLog(args.base_dir)
    deleted = deletions.read().find(args.uid)
    if deleted is None:
        raise UsageError(
            f"no deleted run with uid {args.uid!r} (or starting with it) in {deletions.path}; "
            "'zarrscribe runs' lists the runs the catalog has"
        )
    log = find_log(args.base_dir.absolute(), deleted.uid)
    if log is None:
        gone = "its folder was deleted with it" if deleted.with_data else "its log is gone"
        raise UsageError(f"run {deleted.uid} was {deleted.describe()}; {gone}: nothing to restore")
    deletions.record_restore(deleted.uid)
    sys.stdout.write(f"restored run {deleted.uid}\n")
    pipeline = Pipeline(
        [], base_dir=args.base_dir, catalog=args.catalog or "embedded", api_key=args.api_key
    )
    try:
        (report,) = pipeline.replay(log)
        pipeline.flush(30)
    finally:
        pipeline.close(1.0)
    sys.stdout.write(f"{report.line()}\n")
    return 0 if report.ok else 2
