"""Child process: queue ``n`` runs for one embedded catalog shared with another process."""

from __future__ import annotations

import json
import sys
import time
from functools import partial
from pathlib import Path

from benchmarks._runs import small_run, write_log
from zarrscribe.callbacks import read_document_log
from zarrscribe.catalog import Catalog, RegistrationQueue

if __name__ == "__main__":
    base, tag, n, start_at = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    connect = partial(Catalog.embedded, base / "catalog", readable=[base])

    def prepare(log: Path) -> tuple[list[tuple[str, dict[str, object]]], dict[str, object]]:
        return read_document_log(log).documents, {"zarrscribe": {"tag": tag}}

    queue = RegistrationQueue(
        connect, base / f"pending-{tag}", prepare, retry_initial=0.05, retry_max=0.5
    )
    queue.connect()  # open (and create) the catalog at the same moment as the other
    time.sleep(max(0.0, start_at - time.time()))
    uids = []
    for i in range(n):
        docs = small_run(i, (base / tag / f"{i}.zarr").as_uri(), frames=2)
        log = base / tag / f"{i}.jsonl"
        write_log(log, docs)
        uids.append(docs[0][1]["uid"])
        queue.submit(uids[-1], log)
    ok = queue.flush(240)
    print(json.dumps({"ok": ok, "uids": uids, "failures": queue.failures}))
    queue.close()
