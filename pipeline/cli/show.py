"""``zarrscribe show``: one run's metadata and arrays."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from ._common import open_catalog

HELP = "a run's metadata and arrays"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("uid", help="uid or unambiguous uid prefix")


def run(args: argparse.Namespace) -> int:
    from ...writers.model import ATTRIBUTES_KEY

    catalog = open_catalog(args)
    md = catalog.run(args.uid).metadata
    start, stop = dict(md.get("start", {})), dict(md.get("stop") or {})
    ours = dict(md.get(ATTRIBUTES_KEY, {}))
    out = sys.stdout
    out.write(f"run {start.get('uid')}\n")
    for key in ("plan_name", "scan_id", "sample"):
        if key in start:
            out.write(f"  {key:<12} {start[key]}\n")
    started = datetime.fromtimestamp(start["time"]).isoformat(timespec="seconds")
    out.write(f"  {'started':<12} {started}\n")
    out.write(f"  {'exit status':<12} {ours.get('exit_status', stop.get('exit_status'))}\n")
    reason = ours.get("reason") or stop.get("reason")
    if reason:
        out.write(f"  {'reason':<12} {reason}\n")
    out.write(f"  {'log':<12} {ours.get('log', '-')}\n")
    out.write("configuration\n")
    for device, config in ours.get("configuration", {}).items():
        values = ", ".join(f"{k.removeprefix(device + '-')}={v}" for k, v in config.items())
        out.write(f"  {device:<12} {values}\n")
    out.write("arrays\n")
    for key, info in ours.get("arrays", {}).items():
        shape = "x".join(str(s) for s in info["shape"])
        where = info.get("store") or str(info.get("uri", "")).removeprefix("file://")
        out.write(f"  {key:<12} {shape} {info['dtype']}  {where}/{info.get('path', key)}\n")
    return 0
