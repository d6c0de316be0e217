"""Child process: register runs (a JSON file of [documents, metadata]) one transaction
each into a PostgreSQL catalog, as a worker does, starting at an agreed moment."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from zarrscribe.catalog import Catalog

if __name__ == "__main__":
    database, tables, jobs_file, start_at = sys.argv[1:5]
    jobs = json.loads(Path(jobs_file).read_text())
    catalog = Catalog.from_database(database, tables=tables)
    time.sleep(max(0.0, float(start_at) - time.time()))
    for documents, metadata in jobs:
        catalog.register_run([tuple(d) for d in documents], metadata)
    catalog.close()
    print(len(jobs))
