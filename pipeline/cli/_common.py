"""What every verb shares: the data folder and catalog options, opening the catalog, tables."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from ...catalog import Catalog, RunSummary

DEFAULT_BASE_DIR = Path("zarrscribe-data")


def common_options() -> argparse.ArgumentParser:
    """The options every verb takes: ``--base-dir``, ``--catalog``, ``--api-key``."""
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
    return common


def open_catalog(args: argparse.Namespace, *, create: bool = False) -> Catalog:
    """The catalog the options name: a Tiled server, or the base directory's own
    (which must exist unless ``create``)."""
    from ...catalog import Catalog, CatalogError
    from ...writers.model import STATE_DIR
    from .._pipeline import embedded_catalog

    if args.catalog:
        return Catalog.from_uri(args.catalog, api_key=args.api_key)
    state = args.base_dir / STATE_DIR / "catalog"
    if not state.exists() and not create:
        raise CatalogError(
            f"no catalog under {args.base_dir} (looked for {state}); run 'zarrscribe demo' "
            "or pass --base-dir of a folder with runs, or --catalog URI"
        )
    return embedded_catalog(args.base_dir)


def table(rows: Sequence[Sequence[str]], out: TextIO) -> None:
    """Print ``rows`` (the first is the header) as aligned columns."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        out.write("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n")
        if n == 0:
            out.write("  ".join("-" * w for w in widths) + "\n")


def _store_paths(summary: RunSummary, base: Path) -> str:
    paths = []
    for uri in summary.stores:
        path = Path(uri.removeprefix("file://"))
        if path.is_absolute():
            with contextlib.suppress(ValueError):
                path = path.relative_to(base)
        paths.append(str(path))
    return ", ".join(paths) or "-"


def runs_table(runs: Sequence[RunSummary], base: Path, out: TextIO) -> None:
    """The table of runs the demo and ``runs`` print."""
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
    table(rows, out)
