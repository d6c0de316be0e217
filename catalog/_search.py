"""A search of the embedded catalog as SQL: the statements, and the index each reads.

Each search reads through the one of our indexes (:mod:`._indexes`) that serves its
most selective filter, named with ``INDEXED BY`` (without statistics SQLite would
take Tiled's index on ``parent``, which every run shares, then sort them all), and
returns the runs in Tiled's order. Without our indexes (a catalog that cannot be
written) the same statements run without the names, and answer the same.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from ._filters import Filter, search_index, sql_conditions
from ._indexes import ORDER, RUNS, START_TIME, START_TIME_VALUE, index_on

__all__ = ["search_rows"]

_PLAIN_TIMES = (1e9, 9e9)
"""Start times (epoch seconds: 2001 to 2255) whose JSON text sorts as their value does
(ten digits before the point, at most 15 significant digits as SQLite writes them)."""
_MARGIN = 1.0
"""Seconds below the n-th newest run within which a run may still sort before it (the
texts of two plain times 1e-4 s apart or more sort as their values)."""


class _Statements:
    """Builds and runs the statements of one search (with their plans, when asked)."""

    def __init__(self, db: sqlite3.Connection, index: str | None, plans: list[str] | None) -> None:
        self.db = db
        self.nodes = "nodes" if index is None else f"nodes INDEXED BY {index_on(index)}"
        self.plans = plans

    def select(
        self, what: str, where: list[Filter], *more: tuple[str, Any]
    ) -> tuple[str, list[Any]]:
        terms, params = sql_conditions(where)
        terms += [term for term, _ in more]
        params += [value for _, value in more]
        return f"SELECT {what} FROM {self.nodes} WHERE {' AND '.join([RUNS, *terms])}", params

    def run(self, sql: str, params: list[Any]) -> list[Any]:
        if self.plans is not None:
            explained = self.db.execute("EXPLAIN QUERY PLAN " + sql, params)
            self.plans.extend(row[-1] for row in explained)
        return self.db.execute(sql, params).fetchall()


def search_rows(
    db: sqlite3.Connection,
    filters: list[Filter],
    limit: int | None,
    *,
    indexed: bool,
    plans: list[str] | None = None,
) -> list[tuple[str, str]]:
    """(key, metadata text) of the runs matching every filter, newest first as Tiled
    sorts them; ``plans`` gets SQLite's plan of each statement."""
    kind = search_index(filters)
    sql = _Statements(db, kind if indexed else None, plans)
    if kind == "start_time" and limit is not None:
        return _newest_in_time_range(sql, filters, int(limit))
    select, params = sql.select("key, metadata", filters)
    if limit is None:
        return sql.run(f"{select} ORDER BY {ORDER}", params)
    return sql.run(f"{select} ORDER BY {ORDER} LIMIT ?", [*params, int(limit)])


def _newest_in_time_range(sql: _Statements, filters: list[Filter], n: int) -> list[Any]:
    """The ``n`` newest runs in a start-time range. Runs of plain times sort as their
    times do, so the n-th newest of those bounds the ones that can be among the n
    newest: SQLite reads that far down the start-time index, no further. Runs of other
    times (normally none) are all candidates. One bound per side, so SQLite seeks both."""
    num = START_TIME_VALUE
    ranges = [f for f in filters if f.key == START_TIME and f.op in ("ge", "le", "lt")]
    others = [f for f in filters if f not in ranges]
    since = max((float(f.value) for f in ranges if f.op == "ge"), default=None)
    # the tightest upper bound, "<" before "<=" at the same time (a date: the next midnight)
    uppers = sorted((float(f.value), f.op == "le") for f in ranges if f.op in ("le", "lt"))
    until, below = (uppers[0][0], "<=" if uppers[0][1] else "<") if uppers else (None, "<=")
    plain_low, plain_high = _PLAIN_TIMES
    low = plain_low if since is None else max(since, plain_low)
    high = (f"{num} <= ?", plain_high)
    if until is not None and until <= plain_high:
        high = (f"{num} {below} ?", until)
    select, params = sql.select(num, others, (f"{num} >= ?", low), high)
    nth = sql.run(f"{select} ORDER BY {num} DESC LIMIT 1 OFFSET ?", [*params, n - 1])
    if not nth:  # fewer than n plain times match: every match is a candidate
        select, params = sql.select("key, metadata", filters)
        return sql.run(f"{select} ORDER BY {ORDER} LIMIT ?", [*params, n])
    bound = float(nth[0][0]) - _MARGIN
    top = [(f"{num} >= ?", bound if since is None else max(since, bound))]
    bottom = [(f"{num} < ?", min(plain_low, bound))]  # disjoint from top
    if until is not None:
        top.append((f"{num} {below} ?", until))
    if since is not None:
        bottom.append((f"{num} >= ?", since))
    top_sql, top_params = sql.select("id, key, metadata", others, *top)
    bottom_sql, bottom_params = sql.select("id, key, metadata", others, *bottom)
    return sql.run(
        f"SELECT key, metadata FROM ({top_sql} UNION ALL {bottom_sql}) ORDER BY {ORDER} LIMIT ?",
        [*top_params, *bottom_params, n],
    )
