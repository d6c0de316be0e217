"""Routing documents to the run they belong to, and to that run's own stages."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from ._errors import CallbackError, RunRefusedError

__all__ = ["PerRunRouter", "Stage"]

logger = logging.getLogger(__name__)

Stage = Callable[[str, dict[str, Any]], Any]
"""A callback of one run: ``stage(name, doc)``."""

StageFactory = Callable[[dict[str, Any]], Sequence[Stage]]
"""Makes the stages of a new run from its start document."""


class PerRunRouter:
    """Sends each document to the stages of its own run, so overlapping runs (bluesky
    run keys, a monitor run beside a scan) never mix.

    A run's stages are made by ``factory`` at its start document and dropped after
    its stop. A document is matched to its run by its own keys: ``run_start``
    (descriptor, stream resource, resource, stop), its descriptor (event, event
    page), its stream resource (stream datum) or resource (datum, datum page).
    Unlike event-model's ``RunRouter`` it passes events as they come (no conversion
    to pages, no filling, no copies) and every stage of the run sees every document
    even when an earlier stage failed; the first failure is then raised, so the
    RunEngine stops the plan.

    Two exceptions. A run whose start is refused (``factory`` raises, or a stage
    raises :class:`RunRefusedError` on it) has no stages after that: no later
    stage sees its start, and its later documents (the stop the RunEngine still
    sends) go nowhere. And the first failure of a run is the one the user sees:
    failures at the stop of a run that failed already (``exit_status`` ``fail``,
    whose reason the RunEngine raises) are logged, not raised, so they never
    replace that reason.
    """

    def __init__(self, factory: StageFactory) -> None:
        self._factory = factory
        self._stages: dict[str, Sequence[Stage]] = {}
        self._run_of: dict[str, str] = {}  # descriptor / (stream) resource uid -> run uid
        self._keys: dict[str, list[str]] = {}  # run uid -> its keys in _run_of

    @property
    def open_runs(self) -> list[str]:
        """Uids of the runs started and not yet stopped."""
        return list(self._stages)

    def run_of(self, name: str, doc: dict[str, Any]) -> str:
        """The uid of the run ``doc`` belongs to."""
        if name == "start":
            return str(doc["uid"])
        if name in ("descriptor", "stop", "resource", "stream_resource") and doc.get("run_start"):
            return str(doc["run_start"])
        key = {
            "event": "descriptor",
            "event_page": "descriptor",
            "stream_datum": "stream_resource",
            "datum": "resource",
            "datum_page": "resource",
        }.get(name)
        uid = self._run_of.get(str(doc.get(key))) if key else None
        if uid is None and len(self._stages) == 1:
            uid = next(iter(self._stages))  # a document without run_start, one run open
        if uid is None:
            raise CallbackError(
                f"{name} document {doc.get('uid', '')!r} belongs to no open run "
                f"(open: {self.open_runs or 'none'}); subscribe the pipeline before runs start"
            )
        return uid

    def __call__(self, name: str, doc: dict[str, Any]) -> None:
        uid = self.run_of(name, doc)
        if name == "start":
            if uid in self._stages:
                raise CallbackError(f"run {uid!r} started twice; its second start is ignored")
            self._keys[uid] = []
            try:
                self._stages[uid] = self._factory(doc)
            except Exception:
                self._stages[uid] = ()  # refused: its later documents go nowhere
                raise
        stages = self._stages.get(uid)
        if stages is None:
            raise CallbackError(f"{name} document for run {uid!r}, which is not open")
        if name in ("descriptor", "resource", "stream_resource"):
            self._run_of[str(doc["uid"])] = uid
            self._keys[uid].append(str(doc["uid"]))
        first_error: BaseException | None = None
        for stage in stages:
            try:
                stage(name, doc)
            except Exception as e:
                if name == "start" and isinstance(e, RunRefusedError):
                    self._stages[uid] = ()  # no later stage sees the start of a refused run
                    first_error = e
                    break
                logger.exception("%s failed on a %s document", type(stage).__name__, name)
                if first_error is None:
                    first_error = e
        if name == "stop":
            del self._stages[uid]
            for key in self._keys.pop(uid, []):
                self._run_of.pop(key, None)
            if first_error is not None and doc.get("exit_status") == "fail":
                logger.error(
                    "run %s had failed already (%s); the failures at its stop, logged above, "
                    "do not replace that reason",
                    uid,
                    doc.get("reason") or "no reason given",
                )
                return
        if first_error is not None:
            raise first_error
