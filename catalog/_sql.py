"""Writing planned entries straight into an embedded catalog's SQL database (no HTTP).

Tiled's adapter creates one node per call and commits each (``create_node``);
a run is 4-6 nodes, and a replay thousands of runs. :class:`SQLWriter` writes
whole runs instead, many in one transaction, with the rows Tiled's own
``create_node`` would write (``tiled.catalog.orm`` models; structures hashed
with ``tiled.catalog.utils.compute_structure_id``; table storage initialised
and appended by Tiled's ``SQLAdapter``). Replacing an entry deletes the old
tree in the same transaction, so a reader sees the old run or the new one,
never both and never neither.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._plan import NodePlan

__all__ = ["SQLWriter"]

logger = logging.getLogger(__name__)

_TABLE_MIMETYPE = "application/x-tiled-sql-table"


class SQLWriter:
    """Writes planned runs into the catalog database ``db_path``, table rows into
    ``table_storage``."""

    def __init__(self, db_path: Path, table_storage: Any, *, busy_timeout: float = 10.0) -> None:
        from sqlalchemy import create_engine, event
        from tiled.server.connection_pool import json_serializer

        self._storage = table_storage
        self._engine = create_engine(
            f"sqlite:///{db_path}",
            json_serializer=json_serializer,  # Tiled's own: same JSON text
            connect_args={"timeout": busy_timeout},
        )

        @event.listens_for(self._engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")  # Tiled relies on ON DELETE CASCADE
            cursor.close()

        @event.listens_for(self._engine, "begin")
        def _begin(connection: Any) -> None:
            # Take the write lock at once: a deferred transaction that reads first
            # cannot wait for another writer (SQLite returns "locked" at once).
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    def close(self) -> None:
        self._engine.dispose()

    def write(self, plans: Sequence[NodePlan]) -> None:
        """Create (or replace) every planned run, all in one catalog transaction."""
        stored: dict[int, Any] = {}
        created = self._store_tables(plans, stored)
        try:
            with self._engine.begin() as db:
                replaced: list[tuple[str, str, int]] = []
                for plan in plans:
                    replaced += _delete_run(db, plan.key)
                    _insert(db, 0, plan, stored)
        except BaseException:
            for data_uri, table_name, dataset_id in created:
                _drop_rows(data_uri, table_name, dataset_id)
            raise
        for data_uri, table_name, dataset_id in replaced:
            _drop_rows(data_uri, table_name, dataset_id)

    def _store_tables(
        self, plans: Sequence[NodePlan], stored: dict[int, Any]
    ) -> list[tuple[str, str, int]]:
        """Initialise table storage and append the rows of every table node (Tiled's SQLAdapter).

        Fills ``stored`` (``id(node)`` -> the data source with its table name and
        dataset id); the plans are not changed, so a failed write can be retried.
        """
        from tiled.adapters.sql import SQLAdapter

        created: list[tuple[str, str, int]] = []
        try:
            for plan in plans:
                for node in plan.walk():
                    if not node.table:
                        continue
                    data_source = SQLAdapter.init_storage(self._storage, node.data_source, None)
                    stored[id(node)] = data_source
                    params = data_source.parameters
                    created.append((self._storage.uri, params["table_name"], params["dataset_id"]))
                    adapter = SQLAdapter(
                        data_source.assets[0].data_uri,
                        data_source.structure,
                        params["table_name"],
                        params["dataset_id"],
                    )
                    for table in node.table:
                        adapter.append_partition(0, table)
        except BaseException:
            for data_uri, table_name, dataset_id in created:
                _drop_rows(data_uri, table_name, dataset_id)
            raise
        return created


def _structure(data_source: Any) -> tuple[str, Any]:
    """The structure as Tiled stores it (JSON of the dataclass) and its content hash."""
    import dataclasses

    from tiled.catalog.utils import compute_structure_id
    from tiled.utils import safe_json_dump

    structure = json.loads(safe_json_dump(dataclasses.asdict(data_source.structure)))
    return compute_structure_id(structure), structure


def _insert(db: Any, parent: int, node: NodePlan, stored: dict[int, Any]) -> None:
    from sqlalchemy import insert, select
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert
    from tiled.catalog import orm
    from tiled.structures.core import StructureFamily

    node_id = db.execute(
        insert(orm.Node)
        .values(
            key=node.key,
            parent=parent,
            metadata_=node.metadata,
            structure_family=StructureFamily(node.structure_family),
            specs=node.specs,
        )
        .returning(orm.Node.id)
    ).scalar_one()
    ds = stored.get(id(node), node.data_source)
    if ds is not None:
        structure_id, structure = _structure(ds)
        db.execute(
            sqlite_insert(orm.Structure)
            .values(id=structure_id, structure=structure)
            .on_conflict_do_nothing(index_elements=["id"])
        )
        ds_id = db.execute(
            insert(orm.DataSource)
            .values(
                node_id=node_id,
                structure_family=ds.structure_family,
                mimetype=ds.mimetype,
                management=ds.management,
                parameters=ds.parameters,
                properties=ds.properties,
                structure_id=structure_id,
            )
            .returning(orm.DataSource.id)
        ).scalar_one()
        for asset in ds.assets:
            asset_id = db.execute(
                select(orm.Asset.id).where(orm.Asset.data_uri == asset.data_uri)
            ).scalar()
            if asset_id is None:
                asset_id = db.execute(
                    insert(orm.Asset)
                    .values(
                        data_uri=asset.data_uri, is_directory=asset.is_directory, size=asset.size
                    )
                    .returning(orm.Asset.id)
                ).scalar_one()
            db.execute(
                insert(orm.DataSourceAssetAssociation).values(
                    data_source_id=ds_id,
                    asset_id=asset_id,
                    parameter=asset.parameter,
                    num=asset.num,
                )
            )
    for child in node.children:
        _insert(db, node_id, child, stored)


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


def _drop_rows(data_uri: str, table_name: str, dataset_id: int) -> None:
    """Remove one dataset's rows from table storage (best effort: orphans are harmless)."""
    from tiled.catalog.adapter import delete_physical_asset

    try:
        delete_physical_asset(data_uri, table_name=table_name, dataset_id=dataset_id)
    except Exception as e:  # the entry is right; only storage space is at stake
        logger.warning("could not remove rows of dataset %s in %s: %s", dataset_id, table_name, e)
