"""`ReplayReport`: what replaying one run did."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ...callbacks import Outcome

__all__ = ["ReplayReport"]


@dataclass
class ReplayReport:
    """What replaying one run did (or, with ``check``, would do)."""

    uid: str
    source: str
    """The document log replayed, or ``catalog`` when the log was gone."""
    exit_status: str = ""
    stores: dict[str, Outcome] = field(default_factory=dict)
    """Per store URI: ``written``, ``unchanged``, ``refused`` or (check) ``differs``."""
    catalog: Outcome = "skipped"
    """``registered``, ``unchanged``, ``queued`` (catalog down), ``refused``, or with
    check ``differs`` / ``missing``; for a deleted run ``deleted`` (no entry),
    ``removed`` (an entry it still had was removed) or with check ``differs``."""
    on_disk: dict[str, int] = field(default_factory=dict)
    """Frames readable on disk per array key (more than described where frames were
    pushed after the last collect)."""
    missing: dict[str, dict[str, int]] = field(default_factory=dict)
    """Arrays with fewer frames readable on disk than announced: both counts."""
    damage: list[str] = field(default_factory=list)
    """``file:line: what`` of every damaged line of the log (left out) and of every
    damaged metadata file of its stores (rebuilt)."""
    differences: list[str] = field(default_factory=list)
    error: str | None = None
    deleted: str = ""
    """For a deleted run (skipped: nothing written but the removal of an entry it
    still had), when and how it was deleted."""
    skipped: str | None = None
    """Why the target is no run (a log that holds nothing), and what was done about it."""

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def changed(self) -> bool:
        return (
            self.skipped is not None
            or self.catalog in ("registered", "differs", "missing", "removed")
            or any(o in ("written", "differs") for o in self.stores.values())
        )

    def line(self) -> str:
        """One line for a person: what happened to this run."""
        if self.error:
            return f"{self.uid[:8] or '?':<8}  ERROR  {self.error}"
        if self.deleted:
            return (
                f"{self.uid[:8]:<8}  deleted     {self.deleted}, skipped  catalog: "
                f"{self.catalog}  ('zarrscribe restore {self.uid[:8]}' brings it back)"
            )
        if self.skipped:
            return f"{'-':<8}  skipped     {self.skipped}"
        stores = ", ".join(f"{Path(u).name} {o}" for u, o in self.stores.items()) or "no stores"
        extra = ""
        if self.missing:
            extra += "  missing frames: " + ", ".join(
                f"{k} {v['readable']}/{v['announced']}" for k, v in self.missing.items()
            )
        if self.damage:
            extra += f"  damaged: {self.damage[0]}"
            if len(self.damage) > 1:
                extra += f" (+{len(self.damage) - 1} more)"
        return (
            f"{self.uid[:8]:<8}  {self.exit_status:<10}  attributes: {stores}  "
            f"catalog: {self.catalog}{extra}"
        )
