"""The registration queue's jobs in memory: each change costs the same at any length.

With no catalog, or one that is down, jobs pile up (thousands over a night); the
pipeline submits one per run on the RunEngine thread, so adding one must not cost
more as the pile grows. The job files on disk stay the truth; this is only their
index, read from the folder once at start.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Job", "PendingJobs"]


@dataclass(eq=False)
class Job:
    path: Path
    uid: str
    log: Path
    not_before: float = 0.0
    """``time.monotonic()`` before which the job is not retried."""
    delay: float = 0.0
    """Current back-off of this job (0 until it failed)."""


@dataclass
class PendingJobs:
    """Queued jobs, one per run uid: those that may go now oldest first, those backing
    off soonest first. Not thread-safe (the queue holds its lock)."""

    _jobs: dict[str, Job] = field(default_factory=dict)
    """Every queued job by uid (not those being registered)."""
    _ready: dict[str, Job] = field(default_factory=dict)
    """Jobs that may go now, in the order they became ready."""
    _later: list[tuple[float, int, Job]] = field(default_factory=list)
    """Jobs backing off (a heap by ``not_before``); entries of replaced jobs are skipped."""
    _order: itertools.count[int] = field(default_factory=itertools.count)

    def __len__(self) -> int:
        return len(self._jobs)

    def __contains__(self, uid: str) -> bool:
        return uid in self._jobs

    def add(self, job: Job) -> Job | None:
        """Queue a new ``job`` (ready now), replacing any queued job of the same run (which
        is returned): it goes last."""
        self._ready.pop(job.uid, None)
        replaced = self._jobs.pop(job.uid, None)
        self._jobs[job.uid] = job
        self._ready[job.uid] = job
        return replaced

    def retry(self, job: Job) -> None:
        """Queue again ``job``, which failed, once ``job.not_before`` has passed; unless its
        run was queued again meanwhile (the newer job stands)."""
        if job.uid not in self._jobs:
            self._jobs[job.uid] = job
            heapq.heappush(self._later, (job.not_before, next(self._order), job))

    def due(self, now: float) -> float | None:
        """Make ready the jobs whose back-off ended by ``now``; the time the next ends."""
        while self._later:
            not_before, _, job = self._later[0]
            if not_before > now:
                return not_before
            heapq.heappop(self._later)
            if self._jobs.get(job.uid) is job:
                self._ready[job.uid] = job
        return None

    def all_ready(self) -> None:
        """Every job backing off may go now (after those ready, soonest first)."""
        for _, _, job in sorted(self._later, key=lambda entry: entry[:2]):
            if self._jobs.get(job.uid) is job:
                job.not_before = 0.0
                self._ready.setdefault(job.uid, job)
        self._later.clear()

    def ready(self) -> bool:
        return bool(self._ready)

    def take(self, n: int) -> list[Job]:
        """Up to ``n`` ready jobs, oldest first, out of the queue."""
        batch = [self._ready[uid] for uid in itertools.islice(self._ready, n)]
        for job in batch:
            del self._ready[job.uid]
            del self._jobs[job.uid]
        return batch

    def put_back(self, jobs: list[Job]) -> None:
        """Queue ``jobs`` (taken, then not tried: the catalog was away) first again, as
        they were; those of runs queued again meanwhile are dropped."""
        returned = {job.uid: job for job in jobs if job.uid not in self._jobs}
        self._jobs.update(returned)
        self._ready = {**returned, **self._ready}
