"""What every verb shares: the data folder and catalog options, opening the catalog, tables."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import itertools
import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from ...writers.model import ZarrscribeError

if TYPE_CHECKING:
    from ...catalog import Catalog, RunSummary

DEFAULT_BASE_DIR = Path("zarrscribe-data")

EXIT_STATUSES = ("success", "abort", "fail", "incomplete", "running")
"""Exit statuses a run can have in the catalog (``--status`` choices)."""


class UsageError(ZarrscribeError, ValueError):
    """A bad option or value on the command line (exit code 2, one line)."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (plus the verb's usage line when an
    option is unknown, with the nearest known option)."""

    def error(self, message: str) -> NoReturn:
        if message.startswith("unrecognized arguments"):
            known = [o for action in self._actions for o in action.option_strings]
            for word in message.split(":", 1)[1].split():
                near = difflib.get_close_matches(word.split("=")[0], known, n=1)
                if word.startswith("-") and near:
                    message += f" (did you mean {near[0]}?)"
                    break
            self.print_usage(sys.stderr)
        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:
            choices = re.findall(r"'([^']*)'", choice.group(2))
            near = difflib.get_close_matches(choice.group(1), choices, n=1)
            if near:
                message += f"; did you mean {near[0]!r}?"
        self.exit(2, f"{self.prog}: error: {message}\n")


def positive_int(text: str) -> int:
    """An ``int`` of at least 1, for ``type=`` of an option."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is less than 1")
    return value


def plural(count: int, word: str) -> str:
    """``1 run``, ``2 runs``: a count and its word (plain English plurals only)."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def print_json(value: Any, out: TextIO | None = None, *, stream: bool = False) -> None:
    """Write ``value`` as indented JSON and a newline (the result of a ``--json`` verb);
    ``stream``: piece by piece as it is encoded (the same text, never held whole)."""
    out = out or sys.stdout
    if not stream:
        out.write(json.dumps(value, indent=2, default=str) + "\n")
        return
    pieces = json.JSONEncoder(indent=2, default=str).iterencode(value)
    while text := "".join(itertools.islice(pieces, 8192)):
        out.write(text)
    out.write("\n")


def common_options() -> Parser:
    """The options every verb takes: ``--base-dir``, ``--catalog``, ``--api-key``."""
    common = Parser(add_help=False)
    common.add_argument(
        "--base-dir",
        type=Path,
        default=Path(os.environ.get("ZARRSCRIBE_BASE_DIR", DEFAULT_BASE_DIR)),
        help="data folder (default: ./zarrscribe-data or $ZARRSCRIBE_BASE_DIR)",
    )
    common.add_argument(
        "--catalog",
        help="Tiled server URI (default: the embedded SQLite catalog); "
        "for serve and worker: a database URI such as postgresql://user@host/db",
    )
    common.add_argument(
        "--api-key",
        default=os.environ.get("TILED_API_KEY"),
        help="API key of the Tiled server (default: $TILED_API_KEY)",
    )
    return common


def open_catalog(args: argparse.Namespace, *, create: bool = False) -> Catalog:
    """The catalog the options name: a Tiled server, or the base directory's own
    (which must exist unless ``create``: a folder without one says how to build it)."""
    from ...catalog import Catalog, embedded_catalog

    if args.catalog:
        return Catalog.from_uri(args.catalog, api_key=args.api_key)
    if create:
        return embedded_catalog(args.base_dir)
    return Catalog.from_folder(args.base_dir)


@contextlib.contextmanager
def catalog_of(args: argparse.Namespace) -> Iterator[Catalog]:
    """:func:`open_catalog`, closed (its connections with it) when the block ends."""
    catalog = open_catalog(args)
    try:
        yield catalog
    finally:
        catalog.close()


def table(rows: Sequence[Sequence[str]], out: TextIO, indent: str = "") -> None:
    """Print ``rows`` (the first is the header) as aligned columns."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        cells = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
        out.write(indent + cells.rstrip() + "\n")
        if n == 0:
            out.write(indent + "  ".join("-" * w for w in widths) + "\n")


def runs_table(runs: Sequence[RunSummary], out: TextIO) -> None:
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
                ", ".join(r.stores) or "-",
            ]
        )
    if len(rows) == 1:
        out.write("no runs match\n")
        return
    table(rows, out)
