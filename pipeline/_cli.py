"""The ``zarrscribe`` command line: ``demo``, ``runs``, ``show``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from zarrscribe.catalog import Catalog, CatalogError, RunSummary

from ._pipeline import STATE_DIR, Pipeline, embedded_catalog

DEFAULT_BASE_DIR = Path("zarrscribe-data")


class _Progress:
    """Prints one updating line per run: events, frames, then where the data went."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._live = out.isatty()
        self._last = 0.0
        self._plan = ""
        self._total: int | None = None
        self._events = 0
        self._frames: dict[str, int] = {}
        self._resources: dict[str, str] = {}

    def __call__(self, name: str, doc: dict[str, Any]) -> None:
        if name == "start":
            self._plan = f"{doc.get('plan_name', 'run')} (scan {doc.get('scan_id')})"
            self._total = doc.get("num_points")
            self._events, self._frames, self._resources = 0, {}, {}
        elif name == "event":
            self._events += 1
        elif name == "event_page":
            self._events += len(doc["seq_num"])
        elif name == "stream_resource":
            self._resources[doc["uid"]] = doc["data_key"]
        elif name == "stream_datum":
            key = self._resources.get(doc["stream_resource"], "?")
            self._frames[key] = max(self._frames.get(key, 0), doc["indices"]["stop"])
            self._events = max(self._events, doc["seq_nums"]["stop"] - 1)
        elif name == "stop":
            self._line(final=f"  {doc['exit_status']}")
            return
        else:
            return
        self._line()

    def _line(self, final: str = "") -> None:
        now = time.monotonic()
        if not final and (not self._live or now - self._last < 0.1):
            return  # redraw at most 10 times a second, and only on a terminal
        self._last = now
        total = f"/{self._total}" if self._total else ""
        frames = ", ".join(f"{k} {v}" for k, v in sorted(self._frames.items()))
        head = "\r" if self._live else ""
        text = (
            f"{head}{self._plan:<22} events {self._events}{total}  frames: {frames or '-'}{final}"
        )
        self._out.write(text + ("\n" if final else ""))
        self._out.flush()


def _table(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")
        if n == 0:
            out.write("  ".join("-" * w for w in widths) + "\n")


def _store_paths(summary: RunSummary, base: Path) -> str:
    paths = []
    for uri in summary.stores:
        path = Path(uri.removeprefix("file://"))
        try:
            paths.append(str(path.relative_to(base)))
        except ValueError:
            paths.append(str(path))
    return ", ".join(paths) or "-"


def _runs_table(runs: Sequence[RunSummary], base: Path, out: TextIO) -> None:
    rows = [["uid", "scan", "plan", "started", "status", "events", "devices", "stores"]]
    for r in runs:
        rows.append(
            [
                r.uid[:8],
                str(r.scan_id),
                str(r.plan_name),
                r.started.strftime("%Y-%m-%d %H:%M:%S"),
                r.exit_status,
                str(sum(r.num_events.values())),
                ",".join(r.devices),
                _store_paths(r, base),
            ]
        )
    if len(rows) == 1:
        out.write("no runs match\n")
        return
    _table(rows, out)


def _open_catalog(args: argparse.Namespace) -> Catalog:
    if args.catalog:
        return Catalog.from_uri(args.catalog, api_key=args.api_key)
    state = args.base_dir / STATE_DIR / "catalog"
    if not state.exists():
        raise CatalogError(
            f"no catalog under {args.base_dir} (looked for {state}); run 'zarrscribe demo' "
            "or pass --base-dir of a folder with runs, or --catalog URI"
        )
    return embedded_catalog(args.base_dir)


# ------------------------------------------------------------------ commands
def _demo(args: argparse.Namespace) -> int:
    from bluesky import RunEngine
    from bluesky import plans as bp

    from zarrscribe.writers import Compression, ZarrWriter

    from ._devices import SimCamera, SimLight, SimMotor
    from ._plans import fly_scan

    out = sys.stdout
    shared = ZarrWriter("default")
    side = ZarrWriter("side", compression=Compression())
    cam1 = SimCamera("cam1", shared, shape=(512, 512), exposure=0.01, seed=1)
    cam2 = SimCamera("cam2", shared, shape=(256, 384), exposure=0.01, seed=2)
    cam3 = SimCamera("cam3", side, shape=(128, 128), exposure=0.005, seed=3)
    stage_x = SimMotor("stage_x", velocity=2.0, units="um")
    laser = SimLight("laser", wavelength_nm=561.0, power_mw=12.0)
    out.write(
        f"zarrscribe demo: data under {args.base_dir.absolute()}, session {args.session!r}\n"
    )
    pipeline = Pipeline(
        [cam1, cam2, cam3, stage_x, laser],
        base_dir=args.base_dir,
        session=args.session,
        catalog=args.catalog or "embedded",
        api_key=args.api_key,
    )
    RE = RunEngine({}, call_returns_result=True)
    pipeline.subscribe(RE)
    RE.subscribe(_Progress(out))
    uids: list[str] = []
    plans = [
        bp.count([cam1, cam2, cam3, laser], num=args.frames // 4, md={"sample": "beads"}),
        bp.scan([cam1, cam2, laser], stage_x, 0, 10, args.frames // 4, md={"sample": "beads"}),
        fly_scan([cam1, cam2, cam3], args.frames, md={"sample": "cells"}),
    ]
    for plan in plans:
        result = RE(plan)
        uids.extend(result.run_start_uids if hasattr(result, "run_start_uids") else result)
    out.write("registering runs in the catalog ...\n")
    start = time.monotonic()
    done = pipeline.flush(timeout=120)
    out.write(
        f"  {'done' if done else 'some still pending'} in {time.monotonic() - start:.1f} s\n"
    )
    catalog = pipeline.connect_catalog()
    runs = [r for r in catalog.search() if r.uid in uids]
    out.write("\n")
    _runs_table(runs, args.base_dir.absolute(), out)
    out.write(
        f"\nquery them:  zarrscribe runs --base-dir {args.base_dir}   "
        f"zarrscribe show {runs[0].uid[:8] if runs else 'UID'} --base-dir {args.base_dir}\n"
    )
    pipeline.close()
    return 0 if done else 1


def _runs(args: argparse.Namespace) -> int:
    extra = {}
    for item in args.key or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--key {item!r} must be KEY=VALUE (e.g. sample=beads)")
        try:
            extra[key] = json.loads(value)
        except json.JSONDecodeError:
            extra[key] = value
    since = _parse_time(args.since) if args.since else None
    until = _parse_time(args.until) if args.until else None
    runs = _open_catalog(args).search(
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
    _runs_table(runs, args.base_dir.absolute(), sys.stdout)
    return 0


def _show(args: argparse.Namespace) -> int:
    catalog = _open_catalog(args)
    run = catalog.run(args.uid)
    md = run.metadata
    start, stop = dict(md.get("start", {})), dict(md.get("stop") or {})
    ours = dict(md.get("zarrscribe", {}))
    out = sys.stdout
    out.write(f"run {start.get('uid')}\n")
    for key in ("plan_name", "scan_id", "sample"):
        if key in start:
            out.write(f"  {key:<12} {start[key]}\n")
    started = datetime.fromtimestamp(start["time"]).isoformat(timespec="seconds")
    out.write(f"  {'started':<12} {started}\n")
    out.write(f"  {'exit status':<12} {ours.get('exit_status', stop.get('exit_status'))}\n")
    if stop.get("reason"):
        out.write(f"  {'reason':<12} {stop['reason']}\n")
    out.write(f"  {'log':<12} {ours.get('log', '-')}\n")
    out.write("configuration\n")
    for device, config in ours.get("configuration", {}).items():
        values = ", ".join(f"{k.removeprefix(device + '-')}={v}" for k, v in config.items())
        out.write(f"  {device:<12} {values}\n")
    out.write("arrays\n")
    for key, info in ours.get("arrays", {}).items():
        shape = "x".join(str(s) for s in info["shape"])
        where = info["uri"].removeprefix("file://")
        out.write(f"  {key:<12} {shape} {info['dtype']}  {where}/{key}\n")
    return 0


def _replay(args: argparse.Namespace) -> int:
    query: dict[str, Any] = {}
    if args.plan:
        query["plan_name"] = args.plan
    if args.status:
        query["exit_status"] = args.status
    if args.targets and query:
        raise SystemExit("give runs to replay, or query filters, not both")
    if not args.targets and not query and not args.all:
        raise SystemExit("say what to replay: UID, run folder, --plan/--status, or --all")
    out = sys.stdout
    verb = "checking" if args.check else "replaying"
    out.write(f"{verb} runs under {args.base_dir.absolute()} ...\n")

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
            args.targets or None, check=args.check, progress=progress, **query
        )
        pipeline.flush(30)
    finally:
        pipeline.close(1.0)
    errors = sum(1 for r in reports if not r.ok)
    changed = sum(1 for r in reports if r.ok and r.changed)
    word = "differ" if args.check else "changed"
    out.write(f"{len(reports)} runs: {changed} {word}, {errors} errors\n")
    if errors:
        return 2
    return 1 if args.check and changed else 0


def _parse_time(text: str) -> float:
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zarrscribe", description="Bluesky runs into Zarr v3 stores, found again in Tiled."
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--base-dir",
        type=Path,
        default=Path(os.environ.get("ZARRSCRIBE_BASE_DIR", DEFAULT_BASE_DIR)),
        help="data folder (default: ./zarrscribe-data or $ZARRSCRIBE_BASE_DIR)",
    )
    common.add_argument("--catalog", help="Tiled server URI (default: embedded SQLite catalog)")
    common.add_argument(
        "--api-key",
        default=os.environ.get("TILED_API_KEY"),
        help="API key of the Tiled server (default: $TILED_API_KEY)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", parents=[common], help="run count, scan and fly plans")
    demo.add_argument("--session", default="demo")
    demo.add_argument("--frames", type=int, default=40, help="frames per camera in the fly scan")
    demo.set_defaults(func=_demo)

    runs = sub.add_parser("runs", parents=[common], help="query past runs (newest first)")
    runs.add_argument("--plan", help="plan name, e.g. count")
    runs.add_argument("--scan-id", type=int)
    runs.add_argument("--status", help="exit status: success, abort, fail, incomplete")
    runs.add_argument("--device", help="a device that took part")
    runs.add_argument("--since", help="started at or after (ISO 8601 or epoch seconds)")
    runs.add_argument("--until", help="started at or before")
    runs.add_argument("--uid", help="uid or uid prefix")
    runs.add_argument("--key", action="append", help="start-document KEY=VALUE (repeatable)")
    runs.add_argument("--limit", type=int, default=50)
    runs.set_defaults(func=_runs)

    replay = sub.add_parser(
        "replay", parents=[common], help="regenerate attributes and catalog entries from documents"
    )
    replay.add_argument("targets", nargs="*", help="uid, uid prefix, run folder or log file")
    replay.add_argument("--all", action="store_true", help="every run under --base-dir")
    replay.add_argument("--plan", help="runs of this plan (from the catalog)")
    replay.add_argument("--status", help="runs with this exit status (from the catalog)")
    replay.add_argument("--check", action="store_true", help="report differences, write nothing")
    replay.set_defaults(func=_replay)

    show = sub.add_parser("show", parents=[common], help="a run's metadata and arrays")
    show.add_argument("uid", help="uid or unambiguous uid prefix")
    show.set_defaults(func=_show)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except (CatalogError, KeyError, RuntimeError) as e:
        sys.stderr.write(f"zarrscribe {args.command}: error: {e}\n")
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
