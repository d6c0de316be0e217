"""Another process holding a write transaction on an SQLite database."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

_HOLD_LOCK = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute(f"BEGIN {sys.argv[2]}")
print("locked", flush=True)
sys.stdin.read()
con.execute("ROLLBACK")
"""


@contextmanager
def locked(
    database: Path, begin: Literal["IMMEDIATE", "EXCLUSIVE"] = "EXCLUSIVE"
) -> Iterator[None]:
    """Another process holds a write transaction (``BEGIN <begin>``: ``IMMEDIATE`` still
    lets readers in, ``EXCLUSIVE`` does not) on ``database`` inside the block; a process
    of its own, as SQLite's locks do not block within one process."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(database), begin],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdin is not None
    try:
        assert holder.stdout.readline() == "locked\n"
        yield
    finally:
        holder.stdin.close()
        assert holder.wait(10) == 0
        holder.stdout.close()
