"""Push-back when the disk falls behind: bound the process's memory while appending.

acquire-zarr 0.10 only blocks ``append`` on its 256 MiB frame queue; behind it,
data waiting to be written accumulates in anonymous memory with no bound when
frames come faster than the disk takes them (measured: +2.2 GB after 800
frames of 2048² uint16). It exposes no count of bytes written, so the guard
watches what matters to the user: the process's anonymous resident memory.
"""

from __future__ import annotations

import os
import time

from ._errors import WriterError

__all__ = ["MemoryGuard", "anonymous_memory", "default_memory_limit"]

CHECK_EVERY_BYTES = 16 * 2**20
"""Bytes appended between two memory readings (a reading costs ~20 µs)."""


def anonymous_memory() -> int | None:
    """Anonymous resident memory of this process in bytes (Linux); ``None`` if unknown."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"RssAnon:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def default_memory_limit() -> int | None:
    """Half of the machine's physical memory, or ``None`` where it cannot be read."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")) // 2
    except (ValueError, OSError, AttributeError):
        return None


class MemoryGuard:
    """Waits before an append while the process holds more than ``limit`` bytes.

    Parameters
    ----------
    limit:
        Anonymous resident memory (bytes) above which appends wait.
    timeout:
        Seconds to wait for memory to come down before giving up with an error.
    """

    def __init__(self, limit: int, timeout: float) -> None:
        if limit <= 0:
            raise WriterError(f"max_memory {limit!r} must be a positive number of bytes")
        self.limit = limit
        self.timeout = timeout
        self.waited = 0.0
        """Seconds appends were held back so far."""
        self._since_check = CHECK_EVERY_BYTES  # check before the first append

    def before_append(self, nbytes: int, what: str) -> None:
        """Block while memory is above the limit; raise if it stays there."""
        self._since_check += nbytes
        if self._since_check < CHECK_EVERY_BYTES:
            return
        self._since_check = 0
        used = anonymous_memory()
        if used is None or used <= self.limit:
            return
        start = time.monotonic()
        while used is not None and used > self.limit:
            if time.monotonic() - start > self.timeout:
                self.waited += time.monotonic() - start
                raise WriterError(
                    f"{what} not written: the process holds {used / 2**20:,.0f} MiB, above "
                    f"max_memory={self.limit / 2**20:,.0f} MiB, and the disk did not catch up "
                    f"in {self.timeout:g} s. Frames written so far are kept; lower the frame "
                    "rate, use a faster disk or compression, or raise max_memory"
                )
            time.sleep(0.005)
            used = anonymous_memory()
        self.waited += time.monotonic() - start
