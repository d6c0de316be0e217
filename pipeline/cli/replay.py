"""``zarrscribe replay``: regenerate attributes and catalog entries from documents."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ._common import EXIT_STATUSES, UsageError, plural

HELP = "regenerate attributes and catalog entries from documents"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("targets", nargs="*", help="uid, uid prefix, run folder or log file")
    parser.add_argument("--all", action="store_true", help="every run under --base-dir")
    parser.add_argument("--plan", help="runs of this plan (from the catalog)")
    parser.add_argument(
        "--status", choices=EXIT_STATUSES, help="runs with this exit status (from the catalog)"
    )
    parser.add_argument("--check", action="store_true", help="report differences, write nothing")
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace attributes and entries even where a damaged log would lose something",
    )


def run(args: argparse.Namespace) -> int:
    from .._pipeline import Pipeline

    query: dict[str, Any] = {}
    if args.plan:
        query["plan_name"] = args.plan
    if args.status:
        query["exit_status"] = args.status
    if args.targets and query:
        raise UsageError("give runs to replay, or query filters (--plan, --status), not both")
    if not args.targets and not query and not args.all:
        raise UsageError("say what to replay: UID, run folder, --plan/--status, or --all")
    out = sys.stdout
    verb = "checking" if args.check else "replaying"
    sys.stderr.write(f"{verb} runs under {args.base_dir.absolute()} ...\n")

    def progress(i: int, n: int, report: Any) -> None:
        out.write(f"[{i}/{n}] {report.line()}\n")
        if args.check:
            for difference in report.differences[:5]:
                out.write(f"        {difference}\n")
        out.flush()

    pipeline = Pipeline(
        [], base_dir=args.base_dir, catalog=args.catalog or "embedded", api_key=args.api_key
    )
    try:
        reports = pipeline.replay(
            args.targets or None, check=args.check, force=args.force, progress=progress, **query
        )
        pipeline.flush(30)
    finally:
        pipeline.close(1.0)
    errors = sum(1 for r in reports if not r.ok)
    changed = sum(1 for r in reports if r.ok and r.changed)
    word = "differ" if args.check else "changed"
    out.write(f"{plural(len(reports), 'run')}: {changed} {word}, {plural(errors, 'error')}\n")
    if errors:
        return 2
    return 1 if args.check and changed else 0
