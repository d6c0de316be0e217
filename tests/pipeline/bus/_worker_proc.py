"""Child process: a catalog worker registering into a Tiled server (or by SQL into its
PostgreSQL database), with a journal.

Journal lines: ``begin <uid>`` before registering, ``done <uid>`` after; with
``hold_after`` it then waits before returning (so before the stop is acknowledged).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from zarrscribe.callbacks import BusSettings, register_documents
from zarrscribe.catalog import Catalog
from zarrscribe.pipeline.bus import Documents, Worker, WorkerSettings


def _note(journal: Path, line: str) -> None:
    with open(journal, "a", encoding="utf-8") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


if __name__ == "__main__":
    servers, stream, prefix, uri, api_key, journal = sys.argv[1:7]
    hold_after = float(sys.argv[7]) if len(sys.argv) > 7 else 0.0
    if uri.startswith("postgresql://"):  # by SQL into the server's database
        catalog = Catalog.from_database(uri, tables=f"{uri}_tables")
    else:
        catalog = Catalog.from_uri(uri, api_key=api_key)

    def register(docs: Documents, /, *, log: str | None = None) -> None:
        uid = str(docs[0][1]["uid"])
        _note(Path(journal), f"begin {uid}")
        register_documents(catalog, docs, log=log)  # what `zarrscribe worker` does
        _note(Path(journal), f"done {uid}")
        time.sleep(hold_after)

    bus = BusSettings(servers=servers, stream=stream, prefix=prefix)
    _note(Path(journal), "ready")
    Worker(register, bus, WorkerSettings(ack_wait=2.0, retry_delay=0.5)).run()
