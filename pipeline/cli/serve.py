"""``zarrscribe serve``: serve a catalog over HTTP with Tiled (API key, loopback)."""

from __future__ import annotations

import argparse
import sys

from ._common import UsageError
from ._signals import Interrupted

HELP = "serve the catalog over HTTP with Tiled (API key required, loopback by default)"


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (1-65535)")
    return port


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Serve --base-dir's embedded catalog (or the database --catalog names, e.g. "
        "postgresql://postgres@127.0.0.1/runs) with Tiled. Clients need the API key: "
        "--api-key, $TILED_API_KEY, or one generated and kept in your state folder "
        "(~/.local/state/zarrscribe/servers/..., mode 0600; never under --base-dir). "
        "It prints a link that opens the web UI with the key."
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=8000, help="TCP port (default 8000)")
    parser.add_argument(
        "--public", action="store_true", help="anyone who can connect may read without a key"
    )
    parser.add_argument(
        "--tables",
        help="SQL storage for tables (default: beside the catalog; PostgreSQL: its database)",
    )


def run(args: argparse.Namespace) -> int:
    from ...catalog import (
        ServerSettings,
        build_server_app,
        check_settings,
        key_file,
        listen,
        new_api_key,
        serve,
        store_api_key,
        stored_api_key,
    )

    if args.api_key is not None and not args.api_key.isalnum():
        empty = "" if args.api_key else ", and not empty"
        raise UsageError(
            f"--api-key (or $TILED_API_KEY) must be letters and digits only{empty} "
            "(e.g. openssl rand -hex 32)"
        )
    settings = ServerSettings(
        base_dir=args.base_dir.absolute(),
        database=args.catalog,
        tables=args.tables,
        host=args.host,
        port=args.port,
        public=args.public,
    )
    check_settings(settings)  # bad input fails first, before a port is bound
    sock = listen(settings)  # a port in use fails here, before anything is printed
    key = args.api_key or stored_api_key(settings.base_dir)
    new = key is None
    key = key or new_api_key()
    app = build_server_app(settings, key)  # fails here on a bad catalog, before a key is kept
    if new:
        store_api_key(settings.base_dir, key)

    def banner() -> None:
        out = sys.stdout
        where = key_file(settings.base_dir)
        if new:
            out.write(f"API key (new, kept in {where}): {key}\n")
        elif not args.api_key:
            out.write(f"API key: the one kept in {where}\n")
        access = "anyone may read, writing needs" if args.public else "reading and writing need"
        out.write(
            f"serving {args.catalog or settings.base_dir} at {settings.url} ({access} the key)\n"
        )
        link = settings.ui_url if args.public else f"{settings.ui_url}?api_key={key}"
        out.write(f"web UI: {link}\n")
        out.flush()

    stopped_by = serve(app, settings, sock, ready=banner)
    if stopped_by is not None:  # stopped cleanly, as asked: say so, exit 130/143
        raise Interrupted(stopped_by)
    return 0
