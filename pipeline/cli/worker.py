"""``zarrscribe worker``: register the runs published to NATS JetStream in a catalog."""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from ...writers.model import Documents, require
from ._common import UsageError, open_catalog, plural
from ._signals import Interrupted, signals_to

if TYPE_CHECKING:
    from ...catalog import Catalog, Deletions
    from ..bus import Register, RegisterMany

HELP = "register runs published to NATS JetStream (a catalog worker)"

WIRE_DEFAULTS = {"zarrscribe": ("ZARRSCRIBE", "zarrscribe"), "bluesky-nats": ("bluesky", "events")}
"""Stream and subject prefix used when not given, per wire format: our publisher's, and
bluesky-nats's own (its publisher and dispatcher default to stream ``bluesky`` bound
to ``events.>``)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Register the runs published to NATS JetStream in a catalog. Fastest: "
        "--catalog postgresql://user@host/db, the database the Tiled server on "
        "PostgreSQL serves (zarrscribe serve --catalog ...), written straight by SQL "
        "(the server shows each run at once; workers on many machines never collide; "
        "table storage: --tables, by default that database, as the server has it). "
        "--catalog http://host:8000/api registers through a Tiled server instead "
        "(with --api-key), for a catalog this machine cannot reach by SQL; without "
        "--catalog, the embedded catalog of --base-dir."
    )
    parser.add_argument("--nats", default="nats://127.0.0.1:4222", help="NATS server URL(s)")
    parser.add_argument(
        "--stream",
        help="JetStream stream name (default: ZARRSCRIBE; with --wire bluesky-nats, "
        "bluesky-nats's own: bluesky)",
    )
    parser.add_argument(
        "--prefix",
        help="subject prefix (default: zarrscribe; with --wire bluesky-nats, "
        "bluesky-nats's own: events)",
    )
    parser.add_argument(
        "--wire",
        choices=tuple(WIRE_DEFAULTS),
        default="zarrscribe",
        help="message format: zarrscribe's publisher, or bluesky-nats "
        "(<prefix>...<document>; its defaults: stream bluesky, subjects events.>)",
    )
    parser.add_argument(
        "--durable", default="zarrscribe-catalog", help="consumer name shared by the workers"
    )
    parser.add_argument(
        "--replay",
        action="store_true",
        help="register every run the stream holds, from its start, then exit",
    )
    parser.add_argument(
        "--connect-timeout",
        type=_seconds,
        default=30.0,
        help="seconds to wait for NATS at start before giving up (default 30; exit code 2)",
    )
    parser.add_argument(
        "--tables",
        help="with --catalog postgresql://...: the Tiled server's SQL table storage "
        "(default: the catalog's own database, as zarrscribe serve has it)",
    )
    parser.add_argument(
        "--shared-storage",
        action="store_true",
        help="the runs' stores are visible here under --base-dir: count frames on disk "
        "(and skip the runs deleted there)",
    )


def _deleted(documents: Documents, deletions: Deletions) -> bool:
    """Whether the run of ``documents`` is in ``deletions`` (said on stderr if so)."""
    uid = next((str(doc["uid"]) for name, doc in documents if name == "start"), "")
    deletion = deletions.get(uid)
    if deletion is not None:
        sys.stderr.write(f"run {uid} is {deletion.describe()}: not registered\n")
    return deletion is not None


def _unless_deleted(register: Register, base_dir: Path) -> Register:
    """``register``, skipping the runs deleted in the data folder's deletion log."""
    from ...catalog import DeletionLog

    def register_unless_deleted(documents: Documents, /, *, log: str | None = None) -> None:
        if not _deleted(documents, DeletionLog(base_dir).read()):
            register(documents, log=log)

    return register_unless_deleted


def _unless_deleted_many(register_many: RegisterMany, base_dir: Path) -> RegisterMany:
    """``register_many``, skipping the runs deleted in the data folder's deletion log."""
    from ...catalog import DeletionLog

    def register_unless_deleted(
        runs: list[tuple[Documents, str | None]], /
    ) -> list[Exception | None]:
        deletions = DeletionLog(base_dir).read()
        kept = [i for i, (documents, _) in enumerate(runs) if not _deleted(documents, deletions)]
        outcomes: list[Exception | None] = [None] * len(runs)
        if kept:
            for i, outcome in zip(kept, register_many([runs[i] for i in kept]), strict=True):
                outcomes[i] = outcome
        return outcomes

    return register_unless_deleted


def _open(args: argparse.Namespace) -> Catalog:
    """The catalog to register in: a PostgreSQL database written straight by SQL (the
    one a Tiled server serves), else what ``--catalog`` names as for every verb."""
    from ...catalog import Catalog

    if args.catalog and args.catalog.split(":", 1)[0].split("+")[0] in ("postgresql", "postgres"):
        readable = [args.base_dir.absolute()] if args.shared_storage else []
        return Catalog.from_database(args.catalog, tables=args.tables, readable=readable)
    if args.tables:
        raise UsageError("--tables goes with --catalog postgresql://... (a catalog database)")
    return open_catalog(args, create=True)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{value:g} is not a positive number of seconds")
    return value


def run(args: argparse.Namespace) -> int:
    require("nats", "zarrscribe worker")  # before the catalog is opened or made
    from ...callbacks import BusSettings, register_batch, register_documents
    from ..bus import Worker, WorkerSettings, replay_stream

    stream, prefix = WIRE_DEFAULTS[args.wire]
    bus = BusSettings(
        servers=args.nats, stream=args.stream or stream, prefix=args.prefix or prefix
    )
    catalog = _open(args)
    base_dir = args.base_dir.absolute() if args.shared_storage else None
    register: Register = partial(register_documents, catalog, base_dir=base_dir)
    register_many: RegisterMany = partial(register_batch, catalog, base_dir=base_dir)
    if base_dir is not None:  # deletions are recorded in the data folder it sees
        register = _unless_deleted(register, base_dir)
        register_many = _unless_deleted_many(register_many, base_dir)
    err = sys.stderr

    def say(line: str) -> None:
        print(f"worker: {line}", file=err, flush=True)

    try:
        if args.replay:
            done = replay_stream(
                register,
                bus,
                progress=say,
                connect_timeout=args.connect_timeout,
                register_many=register_many,
            )
            sys.stdout.write(
                f"{plural(len(done.registered), 'run')} registered, "
                f"{len(done.unfinished)} unfinished, {len(done.failed)} failed\n"
            )
            for uid, why in done.failed.items():
                err.write(f"  {uid}: {why}\n")
            return 2 if done.failed else 0
        settings = WorkerSettings(
            durable=args.durable, wire=args.wire, connect_timeout=args.connect_timeout
        )
        worker = Worker(register, bus, settings, progress=say, register_many=register_many)
        stopped_by: list[int] = []

        def stop(signum: int) -> None:
            stopped_by.append(signum)
            worker.stop()

        say(f"{bus.servers} stream {bus.stream!r} ({bus.all_subjects}) -> {catalog}")
        with signals_to(stop):
            registered = worker.run()
        if stopped_by:
            raise Interrupted(stopped_by[0], f"{plural(registered, 'run')} registered")
        return 0
    finally:
        catalog.close()
