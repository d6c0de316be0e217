"""Live catalog entries: each open run in the catalog from its start, ``running``, kept up
to date off the RunEngine thread; runs a dead process left ``running`` recovered."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..callbacks import hold_log, is_live, live_entry
from ..catalog import Catalog, CatalogUnavailableError
from ..writers.model import ATTRIBUTES_KEY, RUNNING

__all__ = ["LIVE_INTERVAL", "LiveEntries", "check_interval"]

logger = logging.getLogger(__name__)

LIVE_INTERVAL = 2.0
"""Default seconds between two live updates of a run's catalog entry."""

COST_FACTOR = 10.0
"""A run's next update comes no sooner than this many times its last update took: a long
run (whose every update reads more) never takes more than about a tenth of a core here,
and a server's entry (replaced by a delete, then a create) is whole about 90% of the
time. (The first write of a process, which opens the catalog, is not counted.)"""

MAX_BACKOFF = 30.0
"""Most seconds between two attempts while live updates of a run fail."""


def check_interval(interval: float | None) -> float | None:
    """``interval`` if it is ``None`` or a positive number of seconds; else ``ValueError``."""
    if interval is None:
        return None
    if isinstance(interval, bool) or not isinstance(interval, int | float) or not interval > 0:
        raise ValueError(
            f"live_interval {interval!r} must be a positive number of seconds (or None: no "
            "live entries)"
        )
    return float(interval)


@dataclass
class _Run:
    uid: str
    log: Path
    due: float
    stopping: bool = False
    """Its stop has come: no live entry of it is written any more."""
    fd: int | None = None
    """The lock held on its log while it acquires (:func:`hold_log`)."""
    state: tuple[Any, ...] | None = None
    """What the last live entry written was made of."""
    backoff: float = 0.0
    failed: str | None = None
    """The last failure (logged once per run)."""
    updates: list[float] = field(default_factory=list)
    """When (``time.time()``) each live entry of it was written (the last 100)."""


class LiveEntries:
    """Keeps a ``running`` entry of every open run in the catalog, from a thread of its own.

    Every ``interval`` seconds (at the earliest ``interval`` after its start) each open
    run's entry is replaced by the projection of what its log holds so far and of the
    frames readable on disk (:func:`zarrscribe.callbacks.live_entry`), through the same
    catalog write as its final registration; only when what readers see changed (its
    streams, arrays, events or readable frames; not the frames a fly scan announces at
    every collect beyond what is readable). A run's next update
    comes no sooner than :data:`COST_FACTOR` times its last one took. Best effort: a
    failure is logged once per run and retried with back-off, never raised, and never
    reaches the RunEngine. Once a run's stop comes, no live entry of it is written again
    (the check is made under the catalog's lock, so the stop's registration always lands
    after the last live entry). While a run acquires, its log is locked
    (:func:`zarrscribe.callbacks.hold_log`): a lock left free with a ``running`` entry
    means the process that acquired it died.

    Parameters
    ----------
    connect:
        The catalog (connected on the thread, when first needed).
    base_dir:
        The data folder.
    interval:
        Seconds between two updates of a run; ``None``: no live entries (recovery only).
    recover:
        Replays runs left ``running`` by a process that died (their logs): called once,
        on the thread, at its start.
    """

    def __init__(
        self,
        connect: Callable[[], Catalog],
        base_dir: Path,
        interval: float | None,
        *,
        recover: Callable[[list[Path]], Any] | None = None,
    ) -> None:
        self._connect = connect
        self._base_dir = base_dir
        self.interval = check_interval(interval)
        self._recover = recover
        self._runs: dict[str, _Run] = {}
        self._cond = threading.Condition()
        self._closing = False
        self._opened = False
        """Whether the catalog was written once (its opening is not an update's cost)."""
        self.written = 0
        """Live entries written so far (all runs)."""
        self.failures: dict[str, str] = {}
        """The last failure of a live update, per run uid (until one succeeds)."""
        self._thread: threading.Thread | None = threading.Thread(
            target=self._work, name="zarrscribe-live", daemon=True
        )
        self._thread.start()

    # ------------------------------------------------------------------ RunEngine side
    def started(self, uid: str, log: Path) -> None:
        """Run ``uid`` started, logged in ``log``: its first live entry is due in
        ``interval`` seconds."""
        if self.interval is None:
            return
        with self._cond:
            self._runs[uid] = _Run(uid, log, time.monotonic() + self.interval)
            self._cond.notify_all()

    def stopping(self, uid: str) -> None:
        """Run ``uid``'s stop has come (called before it is logged and registered): no
        live entry of it is written from now on."""
        run = self._runs.get(uid)  # (a dict lookup and a flag: no lock on this thread)
        if run is not None:
            run.stopping = True

    def finished(self, uid: str) -> None:
        """Run ``uid`` is done here (its stop handled, its stores closed): release its log."""
        with self._cond:
            run = self._runs.pop(uid, None)
            fd = None
            if run is not None:
                run.stopping = True
                fd, run.fd = run.fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def updates(self, uid: str) -> list[float]:
        """When (epoch seconds) each live entry of open run ``uid`` was written."""
        with self._cond:
            run = self._runs.get(uid)
            return list(run.updates) if run is not None else []

    def close(self, timeout: float = 10.0) -> None:
        """Stop the thread (an update in hand is finished first, up to ``timeout`` s) and
        release every log still held."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._cond:
            held = [r.fd for r in self._runs.values() if r.fd is not None]
            for run in self._runs.values():
                run.stopping, run.fd = True, None
        for fd in held:
            with contextlib.suppress(OSError):
                os.close(fd)

    # ------------------------------------------------------------------ the thread
    def _work(self) -> None:
        if self._recover is not None:
            self._recover_left_running()
            self._recover = None  # (it holds the pipeline)
        if self.interval is None:
            return
        while True:
            with self._cond:
                while True:
                    if self._closing:
                        return
                    now = time.monotonic()
                    waiting = [r for r in self._runs.values() if not r.stopping]
                    due = [r for r in waiting if r.due <= now]
                    if due:
                        break
                    next_due = min((r.due for r in waiting), default=None)
                    self._cond.wait(None if next_due is None else next_due - now)
            for run in due:
                if self._closing:
                    return
                self._update(run)

    def _update(self, run: _Run) -> None:
        assert self.interval is not None
        began = time.monotonic()
        opened = self._opened
        try:
            self._hold(run)
            entry = None if run.stopping else live_entry(run.log, self._base_dir)
            if entry is not None and entry.state != run.state:
                catalog = self._connect()
                written = catalog.register_runs(
                    [(entry.documents, entry.metadata)], unless=lambda: run.stopping
                )
                self._opened = True
                if written:
                    run.state = entry.state
                    run.updates = [*run.updates[-99:], time.time()]
                    self.written += 1
        except Exception as e:  # best effort: nothing may reach the run
            self._failed(run, e)
            return
        if run.failed is not None:
            logger.info("live entry of run %s written again", run.uid)
        run.failed, run.backoff = None, 0.0
        self.failures.pop(run.uid, None)
        took = time.monotonic() - began if opened else 0.0
        run.due = time.monotonic() + max(self.interval, COST_FACTOR * took)

    def _hold(self, run: _Run) -> None:
        """Lock the run's log while it acquires (once; tried again at each update when a
        recovery elsewhere held it a moment)."""
        if run.fd is not None or run.stopping:
            return
        fd = hold_log(run.log)
        with self._cond:
            if run.stopping or run.uid not in self._runs:  # finished meanwhile
                keep = False
            else:
                run.fd, keep = fd, True
        if not keep and fd is not None:
            os.close(fd)

    def _failed(self, run: _Run, error: Exception) -> None:
        assert self.interval is not None
        what = str(error) or type(error).__name__
        self.failures[run.uid] = what
        if run.failed is None:
            logger.warning(
                "live entry of run %s not written (%s); the run goes on, and its entry is "
                "registered at its stop (retried quietly until then)",
                run.uid,
                what,
            )
        else:
            logger.debug("live entry of run %s not written again: %s", run.uid, what)
        run.failed = what
        run.backoff = min(MAX_BACKOFF, max(self.interval, 2 * run.backoff))
        run.due = time.monotonic() + run.backoff

    def _recover_left_running(self) -> None:
        """Replay every run the catalog says is ``running`` whose log lies in this data
        folder and is held by no process (the one acquiring it died): it becomes
        ``incomplete``, with what is readable."""
        assert self._recover is not None
        try:
            logs = list(self._left_running(self._connect()))
            if logs:
                reports = self._recover(logs)
                logger.warning(
                    "%d run(s) left running by a process that ended were recovered: %s",
                    len(logs),
                    ", ".join(str(getattr(r, "uid", r)) for r in reports or logs),
                )
        except CatalogUnavailableError as e:
            logger.info("runs left running are not looked for now (%s); replay finds them", e)
        except Exception as e:  # best effort: a replay recovers them too
            logger.warning(
                "runs left running by a process that ended could not be recovered (%s); "
                "'zarrscribe replay --all' recovers them",
                e,
            )

    def _left_running(self, catalog: Catalog) -> Iterable[Path]:
        if not len(catalog):
            return
        base = self._base_dir.resolve()
        for summary in catalog.search(exit_status=RUNNING):
            with self._cond:
                if summary.uid in self._runs:
                    continue
            ours = catalog.metadata(summary.uid).get(ATTRIBUTES_KEY) or {}
            if not ours.get("log"):
                continue
            log = (self._base_dir / str(ours["log"])).resolve()
            if log.is_relative_to(base) and log.is_file() and not is_live(log):
                yield log
