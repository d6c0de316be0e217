"""``zarrscribe show``: one run's metadata, arrays and scalar readings."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from ...writers.model import ATTRIBUTES_KEY
from ._common import catalog_of, positive_int, print_json, table

if TYPE_CHECKING:
    from ...catalog import Catalog

HELP = "a run's metadata, arrays and scalar readings"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("uid", help="uid or unambiguous uid prefix")
    parser.add_argument(
        "--rows",
        type=positive_int,
        help="readings per stream (default: 20 in the table, all with --json)",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON object (see README)")


def describe(
    catalog: Catalog, uid: str, rows: int | None = None, *, lazy: bool = False
) -> dict[str, Any]:
    """What ``show --json`` prints for run ``uid`` (stable keys, see README); ``lazy``:
    the readings are read as they are written out (while ``catalog`` is open)."""
    md = catalog.metadata(uid)
    start, stop = dict(md.get("start", {})), dict(md.get("stop") or {})
    ours = dict(md.get(ATTRIBUTES_KEY, {}))
    return {
        "uid": start.get("uid"),
        "plan_name": start.get("plan_name"),
        "scan_id": start.get("scan_id"),
        "start_time": start.get("time"),
        "started": datetime.fromtimestamp(start["time"]).isoformat(timespec="seconds"),
        "exit_status": ours.get("exit_status", stop.get("exit_status")),
        "reason": ours.get("reason") or stop.get("reason") or "",
        "log": ours.get("log", ""),
        "start": start,
        "configuration": dict(ours.get("configuration", {})),
        "arrays": dict(ours.get("arrays", {})),
        "readings": catalog.readings(str(start.get("uid")), rows, lazy=lazy),
    }


def _text(shown: dict[str, Any], out: TextIO) -> None:
    lines = [f"run {shown['uid']}"]
    start = shown["start"]
    for key in ("plan_name", "scan_id", "sample"):
        if key in start:
            lines.append(f"  {key:<12} {start[key]}")
    lines.append(f"  {'started':<12} {shown['started']}")
    lines.append(f"  {'exit status':<12} {shown['exit_status']}")
    if shown["reason"]:
        lines.append(f"  {'reason':<12} {shown['reason']}")
    lines.append(f"  {'log':<12} {shown['log'] or '-'}")
    lines.append("configuration")
    for device, config in shown["configuration"].items():
        values = ", ".join(f"{k.removeprefix(device + '-')}={v}" for k, v in config.items())
        lines.append(f"  {device:<12} {values}")
    out.write("\n".join(lines) + "\n")
    out.write("arrays\n")
    rows = [["key", "shape", "dtype", "store/path"]]
    for key, info in shown["arrays"].items():
        size = "x".join(str(s) for s in info["shape"])
        where = f"{info.get('store', '')}/{info.get('path', key)}"
        rows.append([key, size, str(info["dtype"]), where + _streams(info)])
    if len(rows) > 1:
        table(rows, out, indent="  ")
    else:
        out.write("  none\n")


def _streams(info: dict[str, Any]) -> str:
    """Which frames of a shared array belong to which stream (when several share it)."""
    streams = info.get("streams") or {}
    if len(streams) < 2:
        return ""
    parts = [
        f"{name} " + ",".join(f"{a}:{b}" for a, b in ranges) for name, ranges in streams.items()
    ]
    return "  frames: " + "; ".join(parts)


def _readings_text(shown: dict[str, Any], rows: int | None, out: Any) -> None:
    for stream, columns in shown["readings"].items():
        names = [c for c in columns if c not in ("time",)]
        count = len(columns[names[0]]) if names else 0
        out.write(f"readings: {stream}\n")
        body = [names]
        for i in range(count):
            body.append([_cell(columns[n][i]) for n in names])
        table(body, out, indent="  ")
        if count == rows:
            out.write(f"  (first {rows}; --rows N for more, --json for all columns)\n")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def run(args: argparse.Namespace) -> int:
    rows = args.rows or (None if args.json else 20)
    with catalog_of(args) as catalog:
        if args.json:  # written out as the readings are read: a long run in constant memory
            print_json(describe(catalog, args.uid, rows, lazy=True), stream=True)
            return 0
        shown = describe(catalog, args.uid, rows)
    _text(shown, sys.stdout)
    _readings_text(shown, rows, sys.stdout)
    return 0
