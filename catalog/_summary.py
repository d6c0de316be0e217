"""What a query returns: `RunSummary` per run, `Runs` for a list of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..writers.model import ATTRIBUTES_KEY, INCOMPLETE

__all__ = ["RunSummary", "Runs", "summary"]


@dataclass(frozen=True)
class RunSummary:
    """One run as a query returns it."""

    uid: str
    scan_id: int | None
    plan_name: str | None
    start_time: float
    exit_status: str
    devices: tuple[str, ...]
    stores: tuple[str, ...]
    """Store paths relative to the base directory, as the catalog entry holds them
    (``catalog.base_dir / store`` on this machine); absolute only for a store outside
    it. The same through a Tiled server and in ``zarrscribe runs --json``."""
    num_events: dict[str, int]

    @property
    def started(self) -> datetime:
        return datetime.fromtimestamp(self.start_time)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able values under stable keys (what ``zarrscribe runs --json`` prints)."""
        return {
            "uid": self.uid,
            "scan_id": self.scan_id,
            "plan_name": self.plan_name,
            "start_time": self.start_time,
            "started": self.started.isoformat(timespec="seconds"),
            "exit_status": self.exit_status,
            "devices": list(self.devices),
            "stores": list(self.stores),
            "num_events": dict(self.num_events),
        }

    def _repr_html_(self) -> str:
        return Runs([self])._repr_html_()


class Runs(list[RunSummary]):
    """Runs a query returned, newest first: a list that Jupyter shows as a table."""

    def _repr_html_(self) -> str:
        from html import escape

        head = ("uid", "scan", "plan", "started", "status", "events", "devices", "stores")
        rows = [
            (
                f"<span title='{escape(r.uid)}'>{escape(r.uid[:8])}</span>",
                escape(str(r.scan_id)),
                escape(str(r.plan_name)),
                escape(r.started.strftime("%Y-%m-%d %H:%M:%S")),
                escape(r.exit_status),
                str(sum(r.num_events.values())),
                escape(", ".join(r.devices)),
                "<br>".join(escape(s) for s in r.stores),
            )
            for r in self
        ]
        cells = "".join(
            "<tr>" + "".join(f"<td style='text-align:left'>{c}</td>" for c in row) + "</tr>"
            for row in rows
        )
        header = "".join(f"<th style='text-align:left'>{h}</th>" for h in head)
        return (
            f"<table><thead><tr>{header}</tr></thead><tbody>{cells}</tbody></table>"
            f"<small>{len(self)} run{'s' if len(self) != 1 else ''}</small>"
        )


def summary(uid: str, metadata: Any) -> RunSummary:
    """The summary of run ``uid`` from its entry's metadata."""
    start = metadata.get("start") or {}
    stop = metadata.get("stop") or {}
    ours = metadata.get(ATTRIBUTES_KEY) or {}
    return RunSummary(
        uid=uid,
        scan_id=start.get("scan_id"),
        plan_name=start.get("plan_name"),
        start_time=float(start.get("time", 0.0)),
        exit_status=str(ours.get("exit_status") or stop.get("exit_status") or INCOMPLETE),
        devices=tuple(ours.get("devices", ())),
        stores=tuple(str(s) for s in ours.get("stores", ())),
        # a live entry (no stop yet) keeps its events so far beside its status
        num_events=dict(stop.get("num_events") or ours.get("num_events") or {}),
    )
