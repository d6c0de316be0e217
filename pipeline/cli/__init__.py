"""The ``zarrscribe`` command line: one module per verb, each imported only when used."""

from __future__ import annotations

import importlib
import logging
import os
import sys
import threading
from types import ModuleType

from ...writers.model import ZarrscribeError, missing_dependency
from ._common import Parser, common_options
from ._signals import describe, exit_code, install

__all__ = ["console", "main"]

VERBS = ("demo", "runs", "show", "delete", "restore", "replay", "serve", "worker")
"""Each verb is the module of the same name here: ``HELP``, ``add_arguments(parser)``
and ``run(args) -> exit code``."""


def _verb(name: str) -> ModuleType:
    return importlib.import_module(f".{name}", __name__)


def _parser() -> Parser:
    parser = Parser(
        prog="zarrscribe", description="Bluesky runs into Zarr v3 stores, found again in Tiled."
    )
    common = common_options()
    sub = parser.add_subparsers(dest="command", required=True)
    for name in VERBS:
        verb = _verb(name)
        verb_parser = sub.add_parser(name, parents=[common], help=verb.HELP)
        verb.add_arguments(verb_parser)
        verb_parser.set_defaults(verb=verb, parser=verb_parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; errors are one line on stderr and exit code 2. SIGINT and
    SIGTERM stop every verb cleanly with one line and exit code 130 or 143."""
    install()
    args, unknown = _parser().parse_known_args(argv)
    if unknown:  # the verb's own usage, not the top-level one
        args.parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        try:
            result: int = args.verb.run(args)
        except ZarrscribeError as e:
            sys.stderr.write(f"zarrscribe {args.command}: error: {e}\n")
            return 2
        except ModuleNotFoundError as e:  # a package missing from the install: say which
            sys.stderr.write(f"zarrscribe {args.command}: error: {missing_dependency(e)}\n")
            return 2
        except OSError as e:  # the disk or the system said no: its words, in one line
            where = f": {e.filename}" if e.filename else ""
            sys.stderr.write(f"zarrscribe {args.command}: error: {e.strerror or e}{where}\n")
            return 2
    except KeyboardInterrupt as e:  # SIGINT, or SIGTERM (Interrupted), at any point
        sys.stderr.write(f"zarrscribe {args.command}: {describe(e)}\n")
        return exit_code(e)
    return result


def console() -> None:
    """The ``zarrscribe`` program (and ``python -m zarrscribe``): :func:`main`, then the
    process ends at once.

    Python ends the daemon threads still running at exit with ``pthread_exit``; one
    inside C++ then (a registration that outlived an interrupted verb's grace period, in
    SQLAlchemy's greenlet; a frame write in acquire-zarr) aborts the process with
    "FATAL: exception not rethrown" and exit code -6 instead of the verb's own. What
    those threads do is durable at any instant (the same as a SIGKILL, which the fault
    tests cover), so once the verb returned nothing is left to wait for: the output is
    flushed, logging shut down, and the process exits without finalising them.
    """
    code = main()
    if not any(t.daemon for t in threading.enumerate() if t.is_alive()):
        sys.exit(code)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


if __name__ == "__main__":
    console()
