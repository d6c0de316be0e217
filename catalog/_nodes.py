"""The node rows of runs in Tiled's catalog database (``tiled.catalog.orm``): inserted
in bulk, level by level of the runs' trees, and deleted run by run, as Tiled's own
``create_node`` and delete would write them (structures hashed with
``tiled.catalog.utils.compute_structure_id``)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from ._local import TABLE_MIMETYPE as _TABLE_MIMETYPE
from ._plan import NodePlan

__all__ = ["Statements", "delete_runs", "distinct_keys", "insert_runs"]


_STRUCTURES: dict[bytes, tuple[str, Any]] = {}
"""Structures met before, by their JSON: most runs' nodes share a few (shared values:
not to be changed)."""


def _structure(data_source: Any) -> tuple[str, Any]:
    """The structure as Tiled stores it (JSON of the dataclass) and its content hash.

    Remembered by the JSON orjson makes of the dataclass itself (every attribute: all its
    fields and more), which is quick: equal JSON, equal fields, equal result."""
    import dataclasses

    from tiled.catalog.utils import compute_structure_id
    from tiled.utils import safe_json_dump

    try:
        key: bytes | None = safe_json_dump(data_source.structure)
    except TypeError:
        key = None
    found = _STRUCTURES.get(key) if key is not None else None
    if found is None:
        structure = json.loads(safe_json_dump(dataclasses.asdict(data_source.structure)))
        found = compute_structure_id(structure), structure
        if key is not None:
            if len(_STRUCTURES) >= 1024:
                _STRUCTURES.clear()
            _STRUCTURES[key] = found
    return found


class Statements:
    """Statements built once (SQLAlchemy then reuses their compiled form). Inserts run
    for many rows at once (``executemany``: SQLAlchemy's "insertmanyvalues", many rows
    a statement). Each gives the new ids back with what makes each row unique (a
    node's parent and key, a data source's node, an asset's URI), in any order: asking
    for them in the order of the rows would make SQLAlchemy insert one row a statement
    on SQLite, which cannot promise that order."""

    def __init__(self, dialect_insert: Any) -> None:
        from sqlalchemy import bindparam, insert, select
        from tiled.catalog import orm

        nodes, sources = orm.Node.__table__, orm.DataSource.__table__
        assets = orm.Asset.__table__
        self.node = insert(nodes).returning(nodes.c.id, nodes.c.parent, nodes.c.key)
        self.structure = dialect_insert(orm.Structure.__table__).on_conflict_do_nothing(
            index_elements=["id"]
        )
        self.data_source = insert(sources).returning(sources.c.id, sources.c.node_id)
        self.find_assets = select(assets.c.data_uri, assets.c.id).where(
            assets.c.data_uri.in_(bindparam("uris", expanding=True))
        )
        self.asset = insert(assets).returning(assets.c.id, assets.c.data_uri)
        self.association = insert(orm.DataSourceAssetAssociation.__table__)
        self.find_runs = select(nodes.c.key).where(
            nodes.c.parent == 0, nodes.c.key.in_(bindparam("keys", expanding=True))
        )


_CHUNK = 500
"""Values in one ``IN (...)`` list (SQLite allows 32,766 bound values a statement)."""


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def distinct_keys(plans: Sequence[NodePlan]) -> Iterator[list[NodePlan]]:
    """The plans in consecutive groups whose run keys differ: a run given twice is
    written, then replaced by its later plan, as one at a time would."""
    group: list[NodePlan] = []
    keys: set[str] = set()
    for plan in plans:
        if plan.key in keys:
            yield group
            group, keys = [], set()
        group.append(plan)
        keys.add(plan.key)
    if group:
        yield group


def insert_runs(
    db: Any,
    sql: Statements,
    plans: Sequence[NodePlan],
    stored: dict[int, Any],
    structures: tuple[set[str], set[str]],
) -> None:
    """Insert the planned runs (keys not in the catalog), level by level of their
    trees: one ``executemany`` per table and level, whatever the number of runs.
    ``structures``: the structure ids known to be in the database already, and those
    this transaction inserts (filled here)."""
    from tiled.structures.core import StructureFamily

    level: list[tuple[int, NodePlan]] = [(0, plan) for plan in plans]
    while level:
        rows = [
            {
                "key": node.key,
                "parent": parent,
                "metadata": node.metadata,
                "structure_family": StructureFamily(node.structure_family),
                "specs": node.specs,
            }
            for parent, node in level
        ]
        # (key, parent) is unique in the table: each row's new id, whatever their order
        made = {(parent, key): i for i, parent, key in db.execute(sql.node, rows)}
        ids = [made[(parent, node.key)] for parent, node in level]
        sources = [
            (node_id, ds)
            for (_, node), node_id in zip(level, ids, strict=True)
            if (ds := stored.get(id(node), node.data_source)) is not None
        ]
        if sources:
            _insert_sources(db, sql, sources, structures)
        level = [
            (node_id, child)
            for (_, node), node_id in zip(level, ids, strict=True)
            for child in node.children
        ]


def _insert_sources(
    db: Any, sql: Statements, sources: list[tuple[int, Any]], known: tuple[set[str], set[str]]
) -> None:
    """Insert the data sources (``(node id, DataSource)``), their structures (those not
    ``known``), assets (those not in the catalog yet) and the associations between them.
    An asset another writer adds meanwhile (PostgreSQL) fails the transaction, which
    the dialect tries again."""
    structures = [_structure(ds) for _, ds in sources]
    new_structures = {i: s for i, s in structures if i not in known[0] and i not in known[1]}
    if new_structures:
        # in one order (by id): two writers inserting the same new structures at once
        # wait for each other instead of deadlocking
        rows = [{"id": i, "structure": s} for i, s in sorted(new_structures.items())]
        db.execute(sql.structure, rows)
        known[1].update(new_structures)
    rows = [
        {
            "node_id": node_id,
            "structure_family": ds.structure_family,
            "mimetype": ds.mimetype,
            "management": ds.management,
            "parameters": ds.parameters,
            "properties": ds.properties,
            "structure_id": structure_id,
        }
        for (node_id, ds), (structure_id, _) in zip(sources, structures, strict=True)
    ]
    # one data source a node (a plan's): each row's new id by its node
    made = {node_id: i for i, node_id in db.execute(sql.data_source, rows)}
    ds_ids = [made[node_id] for node_id, _ in sources]
    uris = list(dict.fromkeys(a.data_uri for _, ds in sources for a in ds.assets))
    asset_ids: dict[str, int] = {}
    for chunk in _chunks(uris):
        asset_ids.update(tuple(row) for row in db.execute(sql.find_assets, {"uris": list(chunk)}))
    new = {a.data_uri: a for _, ds in sources for a in ds.assets if a.data_uri not in asset_ids}
    if new:
        rows = [
            {"data_uri": a.data_uri, "is_directory": a.is_directory, "size": a.size}
            for a in new.values()
        ]
        asset_ids.update((uri, i) for i, uri in db.execute(sql.asset, rows))  # URIs unique
    associations = [
        {
            "data_source_id": ds_id,
            "asset_id": asset_ids[asset.data_uri],
            "parameter": asset.parameter,
            "num": asset.num,
        }
        for (_, ds), ds_id in zip(sources, ds_ids, strict=True)
        for asset in ds.assets
    ]
    if associations:
        db.execute(sql.association, associations)


def delete_runs(db: Any, sql: Statements, keys: Sequence[str]) -> list[tuple[str, str, int]]:
    """Delete the top-level nodes ``keys`` that exist (one look-up for all of them),
    with :func:`_delete_run`."""
    out: list[tuple[str, str, int]] = []
    for chunk in _chunks(keys):
        for key in db.execute(sql.find_runs, {"keys": list(chunk)}).scalars():
            out += _delete_run(db, key)
    return out


def _delete_run(db: Any, key: str) -> list[tuple[str, str, int]]:
    """Delete top-level node ``key`` and its tree, and assets only it used.

    Returns the (storage URI, table name, dataset id) of its table rows, to drop
    after the transaction commits (as Tiled's ``CatalogNodeAdapter.delete`` does).
    """
    from sqlalchemy import delete, exists, select
    from tiled.catalog import orm

    old = db.execute(select(orm.Node.id).where(orm.Node.parent == 0, orm.Node.key == key)).scalar()
    if old is None:
        return []
    nodes = list(
        db.execute(
            select(orm.NodesClosure.descendant).where(orm.NodesClosure.ancestor == old)
        ).scalars()
    )
    assoc, ds = orm.DataSourceAssetAssociation, orm.DataSource
    rows = db.execute(
        select(orm.Asset.id, orm.Asset.data_uri, ds.mimetype, ds.parameters)
        .select_from(assoc)
        .join(ds, ds.id == assoc.data_source_id)
        .join(orm.Asset, orm.Asset.id == assoc.asset_id)
        .where(ds.node_id.in_(nodes))
    ).all()
    tables = [
        (data_uri, params["table_name"], int(params["dataset_id"]))
        for _, data_uri, mimetype, params in rows
        if mimetype == _TABLE_MIMETYPE and params and "dataset_id" in params
    ]
    db.execute(delete(orm.Node).where(orm.Node.id.in_(nodes)))
    asset_ids = {row[0] for row in rows}
    if asset_ids:
        db.execute(
            delete(orm.Asset).where(
                orm.Asset.id.in_(asset_ids),
                ~exists().where(assoc.asset_id == orm.Asset.id),
            )
        )
    return tables
