"""What a query asks for, once: filters on a run's metadata, as Tiled queries or as SQL."""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any, Literal, NamedTuple

from ..writers.model import ATTRIBUTES_KEY
from ._errors import CatalogError
from ._indexes import START_TIME, START_UID, json_path, sql_value

__all__ = [
    "Filter",
    "Moment",
    "flat_sorted",
    "run_filters",
    "search_index",
    "sql_conditions",
    "tiled_queries",
]

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


def sql_conditions(filters: list[Filter]) -> tuple[list[str], list[Any]]:
    """The filters as SQL terms (to AND) on a run node's ``metadata`` and their parameters:
    the comparisons Tiled's own SQLite queries make, so the answers are Tiled's. The JSON
    path of a key our indexes cover is written into the SQL (``sql_value``: a fixed list,
    never user text); any other path is bound."""
    terms: list[str] = []
    params: list[Any] = []
    for op, key, value in filters:
        if op == "present":
            # Tiled's KeyPresent on SQLite: "->" with the dotted key as the path.
            terms.append("(metadata -> ?) IS NOT NULL")
            params.append("$." + key)
            continue
        column = sql_value(key)
        if column is None:
            column = "json_extract(metadata, ?)"
            params.append(json_path(key))
        if op == "prefix":
            terms.append(f"{column} LIKE ?")
            params.append(f"{value}%")
            bounds = prefix_bounds(str(value)) if key == START_UID else None
            if bounds is not None:
                # The same rows as the LIKE (which stays): the range our index serves.
                low, high = bounds
                terms.append(f"lower({column}) >= ?")
                params.append(low)
                if high is not None:
                    terms.append(f"lower({column}) < ?")
                    params.append(high)
            continue
        terms.append(f"{column} {_SIGNS[op]} ?")
        params.append(value)
    return terms, params


def search_index(filters: list[Filter]) -> str:
    """The kind of our index (``_indexes.INDEXES``) that serves a search: the most
    selective filter it has an index for (a uid prefix, a scan id, a start-time range,
    a plan, a status), else the newest-first order alone (a device or another key is
    then checked run by run, newest first, until ``limit`` match)."""
    given = {
        (op, key) for op, key, value in filters if op != "prefix" or prefix_bounds(str(value))
    }
    if ("prefix", START_UID) in given:
        return "uid"
    if ("eq", "start.scan_id") in given:
        return "scan_id"
    if any(key == START_TIME and op in ("eq", "ge", "le", "lt") for op, key in given):
        return "start_time"
    if ("eq", "start.plan_name") in given:
        return "plan_name"
    if ("eq", f"{ATTRIBUTES_KEY}.exit_status") in given:
        return "exit_status"
    return "time"


_SIGNS = {"eq": "=", "ge": ">=", "le": "<=", "lt": "<"}
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def prefix_bounds(prefix: str) -> tuple[str, str | None] | None:
    """``(low, high)`` such that every text ``LIKE prefix || '%'`` matches (SQLite's LIKE:
    ``%`` and ``_`` are wildcards, ASCII letters match either case) has
    ``low <= lower(text) < high`` (``high`` None: no upper bound); None when the
    pattern starts with a wildcard."""
    literal = re.split("[%_]", prefix, maxsplit=1)[0]
    if not literal:
        return None
    low = literal.translate(_ASCII_LOWER)  # SQLite's lower(): ASCII letters only
    last = ord(low[-1]) + 1
    if last > 0x10FFFF or 0xD800 <= last <= 0xDFFF:
        return low, None
    return low, low[:-1] + chr(last)


def _epoch(value: Moment) -> float:
    """Epoch seconds of ``value``; a date is its midnight, local time."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, date):
        return datetime.combine(value, time()).timestamp()
    return float(value)
