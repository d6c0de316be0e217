"""What a query asks for, once: filters on a run's metadata, as Tiled queries or as SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, NamedTuple

from ..writers.model import ATTRIBUTES_KEY
from ._errors import CatalogError

__all__ = ["Filter", "run_filters", "tiled_queries"]

Op = Literal["eq", "ge", "le", "present", "prefix"]


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
    since: float | datetime | None = None,
    until: float | datetime | None = None,
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
    if until is not None:
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
        elif op in ("ge", "le"):
            queries.append(Comparison(op, key, value))
        elif op == "present":
            queries.append(KeyPresent(key))
        else:
            queries.append(Like(key, f"{value}%"))
    return queries


def _epoch(value: float | datetime) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)
