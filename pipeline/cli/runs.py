"""``zarrscribe runs``: query past runs, newest first."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from ._common import open_catalog, runs_table

HELP = "query past runs (newest first)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plan", help="plan name, e.g. count")
    parser.add_argument("--scan-id", type=int)
    parser.add_argument("--status", help="exit status: success, abort, fail, incomplete")
    parser.add_argument("--device", help="a device that took part")
    parser.add_argument("--since", help="started at or after (ISO 8601 or epoch seconds)")
    parser.add_argument("--until", help="started at or before")
    parser.add_argument("--uid", help="uid or uid prefix")
    parser.add_argument("--key", action="append", help="start-document KEY=VALUE (repeatable)")
    parser.add_argument("--limit", type=int, default=50)


def parse_time(text: str) -> float:
    """Epoch seconds from epoch seconds or ISO 8601 text."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise SystemExit(
            f"time {text!r} is neither epoch seconds nor ISO 8601 (e.g. 2026-11-30T09:00)"
        ) from None


def run(args: argparse.Namespace) -> int:
    extra: dict[str, Any] = {}
    for item in args.key or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--key {item!r} must be KEY=VALUE (e.g. sample=beads)")
        try:
            extra[key] = json.loads(value)
        except json.JSONDecodeError:
            extra[key] = value
    since = parse_time(args.since) if args.since else None
    until = parse_time(args.until) if args.until else None
    runs = open_catalog(args).search(
        plan_name=args.plan,
        scan_id=args.scan_id,
        exit_status=args.status,
        device=args.device,
        since=since,
        until=until,
        uid=args.uid,
        limit=args.limit,
        **extra,
    )
    runs_table(runs, args.base_dir.absolute(), sys.stdout)
    return 0
