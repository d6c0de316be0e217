"""``zarrscribe runs``: query past runs, newest first."""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from ._common import EXIT_STATUSES, UsageError, catalog_of, positive_int, print_json, runs_table

if TYPE_CHECKING:
    from ...catalog import Catalog

HELP = "query past runs (newest first)"

NAMED_KEYS = {"plan_name": ("plan", "--plan"), "scan_id": ("scan_id", "--scan-id")}
"""Start-document keys that ``--key`` may name although they have their own option."""

RESERVED_KEYS = {
    "exit_status": "--status",
    "device": "--device",
    "since": "--since",
    "until": "--until",
    "uid": "--uid",
    "limit": "--limit",
}
"""Filters of ``Catalog.search`` that are not start-document keys: ``--key`` refuses them."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--plan", help="plan name, e.g. count")
    parser.add_argument("--scan-id", type=int)
    parser.add_argument("--status", choices=EXIT_STATUSES, help="exit status")
    parser.add_argument("--device", help="a device that took part")
    parser.add_argument(
        "--since", help="started at or after (ISO 8601 or epoch seconds; a date: from its start)"
    )
    parser.add_argument("--until", help="started at or before (a date: that whole day included)")
    parser.add_argument("--uid", help="uid or uid prefix")
    parser.add_argument("--key", action="append", help="start-document KEY=VALUE (repeatable)")
    parser.add_argument("--limit", type=positive_int, default=50, help="at most this many")
    parser.add_argument("--json", action="store_true", help="print a JSON list (see README)")


def parse_time(text: str, option: str = "--since") -> float | date:
    """Epoch seconds from epoch seconds or ISO 8601 text; a date alone stays a date (a
    whole day: ``--until 2026-12-03`` takes in that day)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
        if len(text) == len("2026-12-03"):
            return moment.date()
        return moment.timestamp()
    except ValueError:
        raise UsageError(
            f"{option} {text!r} is neither epoch seconds nor ISO 8601 (e.g. 2026-11-30T09:00)"
        ) from None


def _start_keys(args: argparse.Namespace) -> dict[str, Any]:
    """``--key`` items as start-document filters; ``plan_name``/``scan_id`` fill their
    options (an option given with another value is an error)."""
    extra: dict[str, Any] = {}
    for item in args.key or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--key {item!r} must be KEY=VALUE (e.g. sample=beads)")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        if key in RESERVED_KEYS:
            option = RESERVED_KEYS[key]
            raise UsageError(f"--key {item!r}: filter {key!r} with {option} {value}, not --key")
        if key in NAMED_KEYS:
            attribute, option = NAMED_KEYS[key]
            given = getattr(args, attribute)
            if given is not None and given != parsed:
                raise UsageError(f"--key {item!r} contradicts {option} {given}")
            setattr(args, attribute, parsed)
            continue
        extra[key] = parsed
    return extra


NAMED_OPTIONS = (("plan", "plan", "start.plan_name"), ("device", "device", "zarrscribe.devices"))
"""Options that name something a run has: (option, word, metadata key of the names)."""


def _unknown_name(catalog: Catalog, args: argparse.Namespace) -> str:
    """Why nothing matched, when an option names what no run has: the nearest names."""
    for option, word, key in NAMED_OPTIONS:
        given = getattr(args, option)
        if given is None:
            continue
        names = [str(n) for n in catalog.distinct(key)]
        if given in names:
            continue
        near = difflib.get_close_matches(str(given), names, n=3)
        # the closest first, equals in order (difflib leaves ties reversed)
        near.sort(key=lambda n: (-difflib.SequenceMatcher(None, given, n).ratio(), n))
        if near:
            return f"{word} {given!r}; did you mean {' or '.join(repr(n) for n in near)}?"
        listed = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
        return f"{word} {given!r}; {word}s in the catalog: {listed or 'none'}"
    return ""


def run(args: argparse.Namespace) -> int:
    extra = _start_keys(args)
    since = parse_time(args.since, "--since") if args.since else None
    until = parse_time(args.until, "--until") if args.until else None
    with catalog_of(args) as catalog:
        runs = catalog.search(
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
        hint = "" if runs else _unknown_name(catalog, args)
    if args.json:
        print_json([r.as_dict() for r in runs])
        if hint:
            sys.stderr.write(f"no runs match {hint}\n")
        return 0
    if not runs:
        sys.stderr.write(f"no runs match {hint}".rstrip() + "\n")
        return 0
    runs_table(runs, sys.stdout)
    return 0
