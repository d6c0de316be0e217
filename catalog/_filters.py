"""What a query asks for, once: filters on a run's metadata, as Tiled queries or as SQL."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any, Literal, NamedTuple

from ..writers.model import ATTRIBUTES_KEY
from ._errors import CatalogError

__all__ = ["Filter", "Moment", "flat_sorted", "run_filters", "tiled_queries"]

Op = Literal["eq", "ge", "le", "lt", "present", "prefix"]

Moment = float | datetime | date
"""A bound of a start time: epoch seconds, a datetime, or a date (the whole day)."""


class Filter(NamedTuple):
    """One condition on a run's metadata: ``key`` is dotted (``start.plan_name``)."""

    op: Op
    key: str
    value: Any = None


def run_filters(
    *,
    plan_name: str | None = None,
    scan_id: int | None = None,
    exit_status: str | None = None,
    device: str | None = None,
    since: Moment | None = None,
    until: Moment | None = None,
    uid: str | None = None,
    start_keys: dict[str, Any] | None = None,
) -> list[Filter]:
    """The filters of :meth:`Catalog.search` (see there), checked."""
    filters: list[Filter] = []
    if plan_name is not None:
        filters.append(Filter("eq", "start.plan_name", plan_name))
    if scan_id is not None:
        filters.append(Filter("eq", "start.scan_id", int(scan_id)))
    if exit_status is not None:
        filters.append(Filter("eq", f"{ATTRIBUTES_KEY}.exit_status", exit_status))
    if device is not None:
        filters.append(Filter("present", f"{ATTRIBUTES_KEY}.device_set.{device}"))
    if since is not None:
        filters.append(Filter("ge", "start.time", _epoch(since)))
    if isinstance(until, date) and not isinstance(until, datetime):
        # a date alone is the whole day: up to the next midnight (local time), excluded
        filters.append(Filter("lt", "start.time", _epoch(until + timedelta(days=1))))
    elif until is not None:
        filters.append(Filter("le", "start.time", _epoch(until)))
    if uid:
        filters.append(Filter("prefix", "start.uid", uid))
    for key, value in (start_keys or {}).items():
        filters.append(Filter("eq", f"start.{key}", value))
    for f in filters:
        if '"' in f.key or "" in f.key.split("."):
            raise CatalogError(f"cannot search on key {f.key!r}; give dotted names without quotes")
        if f.op != "present" and not isinstance(f.value, str | int | float | bool):
            raise CatalogError(
                f"cannot match {f.key} to {f.value!r}; give text, a number or true/false"
            )
    return filters


def tiled_queries(filters: list[Filter]) -> list[Any]:
    """The filters as Tiled queries (for a catalog reached through Tiled)."""
    from tiled.queries import Comparison, Eq, KeyPresent, Like

    queries: list[Any] = []
    for op, key, value in filters:
        if op == "eq":
            queries.append(Eq(key, value))
        elif op in ("ge", "le", "lt"):
            queries.append(Comparison(op, key, value))
        elif op == "present":
            queries.append(KeyPresent(key))
        else:
            queries.append(Like(key, f"{value}%"))
    return queries


def flat_sorted(values: Iterable[Any]) -> list[Any]:
    """Distinct ``values`` sorted (by text), the items of list values taken one by one."""
    found: set[Any] = set()
    for value in values:
        found.update(value if isinstance(value, list) else [value])
    found.discard(None)
    return sorted(found, key=str)


def _epoch(value: Moment) -> float:
    """Epoch seconds of ``value``; a date is its midnight, local time."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, date):
        return datetime.combine(value, time()).timestamp()
    return float(value)
