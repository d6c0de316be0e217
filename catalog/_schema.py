"""Tiled's empty catalog schema, created by us for the Tiled version we pin.

Tiled creates a catalog with ``tiled catalog init``: ``from_uri(...,
init_if_not_exists=True)`` starts it as a subprocess, which imports ``tiled.catalog``
(dask with it), runs ``initialize_database`` and stamps the alembic revision: about
4 s on a quiet machine, paid by every process that creates a catalog. For a given
Tiled version that schema is fixed, so :func:`create_schema` writes the same one
with SQLite alone, in one transaction (the tables and the stamp, or nothing).

``_DDL`` is the text SQLite stored for each table, index and trigger of an empty
catalog made by ``tiled catalog init`` of Tiled :data:`TILED_VERSION` (its
``sqlite_master`` in order, less the ``metadata_fts5_*`` tables the full-text
virtual table makes itself); ``tests/catalog/test_schema.py`` checks that a
catalog made here equals one made by Tiled (tables, columns, indexes, triggers,
rows, alembic stamp). With another Tiled installed, :func:`create_schema` makes
nothing and Tiled initialises the catalog itself.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

__all__ = ["REVISION", "TILED_VERSION", "create_schema"]

TILED_VERSION = "0.2.20"
"""The Tiled version whose empty catalog :data:`_DDL` reproduces."""

REVISION = "917dbbcfc4b1"
"""Tiled's alembic revision of that schema (``tiled.catalog.core.REQUIRED_REVISION``),
which Tiled checks on opening a catalog."""

_ROWS = (
    # The root node (Tiled's DDL listener inserts it; the triggers add its closure
    # and full-text rows), its 'public' access tag (initialize_database), the stamp.
    "INSERT INTO nodes (id, parent, key, structure_family, metadata, specs) "
    "VALUES (0, NULL, '', 'container', '{}', '[]')",
    "INSERT INTO access_tags (name, is_public) VALUES ('public', 1)",
    "INSERT INTO node_access_tags_association (node_id, tag_id) "
    "SELECT 0, id FROM access_tags WHERE name = 'public'",
    f"INSERT INTO alembic_version (version_num) VALUES ('{REVISION}')",
)


def _installed_tiled() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tiled")
    except PackageNotFoundError:
        return None


def create_schema(database: Path) -> bool:
    """Create Tiled's empty catalog schema in the new SQLite file ``database``.

    Returns ``False`` (and creates nothing) when the installed Tiled is not
    :data:`TILED_VERSION`: Tiled's own init must make it then. All or nothing: a
    failure (a full disk) leaves a database without the stamp, which the next open
    starts again. Raises :class:`sqlite3.Error` on failure.
    """
    if _installed_tiled() != TILED_VERSION:
        return False
    db = sqlite3.connect(database, isolation_level=None, timeout=10)
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in (*_DDL, *_ROWS):
                db.execute(statement)
            db.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):  # SQLite may have rolled back already
                db.execute("ROLLBACK")
            raise
    finally:
        db.close()
    return True


_DDL: tuple[str, ...] = (
    (
        "CREATE TABLE nodes (\n"
        "\tid INTEGER NOT NULL, \n"
        "\tparent INTEGER, \n"
        '\t"key" VARCHAR(1023) NOT NULL, \n'
        "\tstructure_family VARCHAR(9) NOT NULL, \n"
        "\tmetadata JSON NOT NULL, \n"
        "\tspecs JSON NOT NULL, \n"
        "\ttime_created DATETIME DEFAULT CURRENT_TIMESTAMP, \n"
        "\ttime_updated DATETIME DEFAULT CURRENT_TIMESTAMP, \n"
        "\tPRIMARY KEY (id), \n"
        '\tCONSTRAINT key_parent_unique_constraint UNIQUE ("key", parent), \n'
        "\tCONSTRAINT fk_nodes_parent FOREIGN KEY(parent) REFERENCES nodes (id)"
        " ON DELETE CASCADE\n"
        ")"
    ),
    ("CREATE INDEX ix_nodes_parent ON nodes (parent)"),
    ("CREATE INDEX ix_nodes_parent_id ON nodes (parent, id)"),
    (
        "CREATE TABLE access_tags (\n"
        "\tid INTEGER NOT NULL, \n"
        "\tname VARCHAR(255) NOT NULL, \n"
        "\tis_public BOOLEAN DEFAULT false NOT NULL, \n"
        "\ttime_created DATETIME DEFAULT CURRENT_TIMESTAMP, \n"
        "\ttime_updated DATETIME DEFAULT CURRENT_TIMESTAMP, \n"
        "\tPRIMARY KEY (id), \n"
        "\tUNIQUE (name)\n"
        ")"
    ),
    ("CREATE INDEX ix_access_tags_is_public ON access_tags (name) WHERE is_public"),
    (
        "CREATE TABLE access_tags_principals (\n"
        "\tid INTEGER NOT NULL, \n"
        "\tname VARCHAR(255) NOT NULL, \n"
        "\ttime_created DATETIME DEFAULT CURRENT_TIMESTAMP, \n"
        "\ttime_updated DATETIME DEFAULT CURRENT_TIMESTAMP, \n"
        "\tPRIMARY KEY (id), \n"
        "\tUNIQUE (name)\n"
        ")"
    ),
    (
        "CREATE VIRTUAL TABLE metadata_fts5 USING fts5(metadata,"
        " content='nodes', content_rowid='id')"
    ),
    (
        "CREATE TRIGGER nodes_metadata_fts5_sync_ai AFTER INSERT ON nodes"
        " BEGIN\n"
        "              INSERT INTO metadata_fts5(rowid, metadata)\n"
        "              VALUES (new.id, new.metadata);\n"
        "            END"
    ),
    (
        "CREATE TRIGGER nodes_metadata_fts5_sync_ad AFTER DELETE ON nodes"
        " BEGIN\n"
        "              INSERT INTO metadata_fts5(metadata_fts5, rowid,"
        " metadata)\n"
        "              VALUES('delete', old.id, old.metadata);\n"
        "            END"
    ),
    (
        "CREATE TRIGGER nodes_metadata_fts5_sync_au AFTER UPDATE ON nodes"
        " BEGIN\n"
        "              INSERT INTO metadata_fts5(metadata_fts5, rowid,"
        " metadata)\n"
        "              VALUES('delete', old.id, old.metadata);\n"
        "              INSERT INTO metadata_fts5(rowid, metadata)\n"
        "              VALUES (new.id, new.metadata);\n"
        "            END"
    ),
    (
        "CREATE TABLE structures (\n"
        "\tid VARCHAR(32) NOT NULL, \n"
        "\tstructure JSON NOT NULL, \n"
        "\tPRIMARY KEY (id), \n"
        "\tUNIQUE (id)\n"
        ")"
    ),
    (
        "CREATE TABLE assets (\n"
        "\tid INTEGER NOT NULL, \n"
        "\tdata_uri VARCHAR(1023), \n"
        "\tis_directory BOOLEAN NOT NULL, \n"
        "\thash_type VARCHAR(63), \n"
        "\thash_content VARCHAR(1023), \n"
        "\tsize BIGINT, \n"
        "\ttime_created DATETIME DEFAULT CURRENT_TIMESTAMP, \n"
        "\ttime_updated DATETIME DEFAULT CURRENT_TIMESTAMP, \n"
        "\tPRIMARY KEY (id)\n"
        ")"
    ),
    ("CREATE UNIQUE INDEX ix_assets_data_uri ON assets (data_uri)"),
    (
        "CREATE TABLE namespaces (\n"
        "\tprefix VARCHAR NOT NULL, \n"
        "\turi VARCHAR NOT NULL, \n"
        "\tcreated_at DATETIME NOT NULL, \n"
        "\tPRIMARY KEY (prefix)\n"
        ")"
    ),
    (
        "CREATE TABLE nodes_closure (\n"
        "\tancestor INTEGER NOT NULL, \n"
        "\tdescendant INTEGER NOT NULL, \n"
        "\tdepth INTEGER NOT NULL, \n"
        "\tPRIMARY KEY (ancestor, descendant), \n"
        "\tFOREIGN KEY(ancestor) REFERENCES nodes (id) ON DELETE CASCADE, \n"
        "\tFOREIGN KEY(descendant) REFERENCES nodes (id) ON DELETE CASCADE\n"
        ")"
    ),
    ("CREATE INDEX idx_nodes_closure_descendant ON nodes_closure (descendant)"),
    ("CREATE INDEX idx_nodes_closure_ancestor ON nodes_closure (ancestor)"),
    (
        "CREATE TRIGGER update_closure_table_when_inserting\n"
        "AFTER INSERT ON nodes\n"
        "BEGIN\n"
        "    INSERT INTO nodes_closure(ancestor, descendant, depth)\n"
        "    SELECT NEW.id, NEW.id, 0;\n"
        "    INSERT INTO nodes_closure(ancestor, descendant, depth)\n"
        "    SELECT p.ancestor, c.descendant, p.depth+c.depth+1\n"
        "    FROM nodes_closure p, nodes_closure c\n"
        "    WHERE p.descendant=NEW.parent and c.ancestor=NEW.id;\n"
        "END"
    ),
    (
        "CREATE TABLE node_access_tags_association (\n"
        "\tnode_id INTEGER NOT NULL, \n"
        "\ttag_id INTEGER NOT NULL, \n"
        "\tparent_id INTEGER, \n"
        "\tCONSTRAINT node_access_tags_association_pkey PRIMARY KEY (node_id,"
        " tag_id), \n"
        "\tCONSTRAINT fk_node_access_tags_association_node FOREIGN KEY(node_id)"
        " REFERENCES nodes (id) ON DELETE CASCADE, \n"
        "\tCONSTRAINT fk_node_access_tags_association_tag FOREIGN KEY(tag_id)"
        " REFERENCES access_tags (id) ON DELETE CASCADE\n"
        ")"
    ),
    (
        "CREATE INDEX ix_node_access_tags_association_parent_id_tag_id_node_id"
        " ON node_access_tags_association (parent_id, tag_id, node_id)"
    ),
    (
        "CREATE INDEX ix_node_access_tags_association_tag_id_node_id ON"
        " node_access_tags_association (tag_id, node_id)"
    ),
    (
        "CREATE TRIGGER node_access_tags_set_parent_after_insert\n"
        "AFTER INSERT ON node_access_tags_association\n"
        "BEGIN\n"
        "    UPDATE node_access_tags_association\n"
        "    SET parent_id = (SELECT parent FROM nodes WHERE id = NEW.node_id)\n"
        "    WHERE node_id = NEW.node_id AND tag_id = NEW.tag_id;\n"
        "END"
    ),
    (
        "CREATE TRIGGER node_access_tags_set_parent_after_update\n"
        "AFTER UPDATE OF node_id ON node_access_tags_association\n"
        "BEGIN\n"
        "    UPDATE node_access_tags_association\n"
        "    SET parent_id = (SELECT parent FROM nodes WHERE id = NEW.node_id)\n"
        "    WHERE node_id = NEW.node_id AND tag_id = NEW.tag_id;\n"
        "END"
    ),
    (
        "CREATE TRIGGER node_access_tags_sync_parent_after_node_update\n"
        "AFTER UPDATE OF parent ON nodes\n"
        "WHEN NEW.parent IS NOT OLD.parent\n"
        "BEGIN\n"
        "    UPDATE node_access_tags_association\n"
        "    SET parent_id = NEW.parent\n"
        "    WHERE node_id = NEW.id;\n"
        "END"
    ),
    (
        "CREATE TABLE access_grants (\n"
        "\ttag_id INTEGER NOT NULL, \n"
        "\tprincipal_id INTEGER NOT NULL, \n"
        "\tscope VARCHAR(16) NOT NULL, \n"
        "\tCONSTRAINT access_grants_pkey PRIMARY KEY (tag_id, principal_id,"
        " scope), \n"
        "\tCONSTRAINT fk_access_grants_access_tag FOREIGN KEY(tag_id)"
        " REFERENCES access_tags (id) ON DELETE CASCADE, \n"
        "\tCONSTRAINT fk_access_grants_principal FOREIGN KEY(principal_id)"
        " REFERENCES access_tags_principals (id) ON DELETE CASCADE, \n"
        "\tCONSTRAINT scope_name CHECK (scope IN ('read:metadata', 'read:data',"
        " 'write:metadata', 'write:data', 'delete:revision', 'delete:node',"
        " 'create:node', 'register', 'metrics', 'create:apikeys',"
        " 'revoke:apikeys', 'admin:apikeys', 'read:principals',"
        " 'write:principals', 'read:webhooks', 'write:webhooks'))\n"
        ")"
    ),
    (
        "CREATE INDEX ix_access_grants_principal_scope ON access_grants"
        " (principal_id, scope, tag_id)"
    ),
    (
        "CREATE TABLE access_tag_owners_association (\n"
        "\ttag_id INTEGER NOT NULL, \n"
        "\tprincipal_id INTEGER NOT NULL, \n"
        "\tCONSTRAINT access_tag_owners_association_pkey PRIMARY KEY (tag_id,"
        " principal_id), \n"
        "\tCONSTRAINT fk_access_tag_owners_association_access_tag FOREIGN"
        " KEY(tag_id) REFERENCES access_tags (id) ON DELETE CASCADE, \n"
        "\tCONSTRAINT fk_access_tag_owners_association_principal FOREIGN"
        " KEY(principal_id) REFERENCES access_tags_principals (id) ON DELETE"
        " CASCADE\n"
        ")"
    ),
    (
        "CREATE INDEX ix_access_tag_owners_association_principal_id ON"
        " access_tag_owners_association (principal_id)"
    ),
    (
        "CREATE TABLE data_sources (\n"
        "\tid INTEGER NOT NULL, \n"
        "\tnode_id INTEGER NOT NULL, \n"
        "\tstructure_id VARCHAR(32), \n"
        "\tmimetype VARCHAR(255) NOT NULL, \n"
        "\tparameters JSON, \n"
        "\tproperties JSON, \n"
        "\tmanagement VARCHAR(9) NOT NULL, \n"
        "\tstructure_family VARCHAR(9) NOT NULL, \n"
        "\ttime_created DATETIME DEFAULT CURRENT_TIMESTAMP, \n"
        "\ttime_updated DATETIME DEFAULT CURRENT_TIMESTAMP, \n"
        "\tPRIMARY KEY (id), \n"
        "\tFOREIGN KEY(node_id) REFERENCES nodes (id) ON DELETE CASCADE, \n"
        "\tFOREIGN KEY(structure_id) REFERENCES structures (id) ON DELETE"
        " CASCADE\n"
        ")"
    ),
    ("CREATE INDEX idx_data_sources_id_node ON data_sources (id, node_id)"),
    ("CREATE INDEX ix_data_sources_node_id ON data_sources (node_id)"),
    (
        "CREATE TABLE revisions (\n"
        "\tid INTEGER NOT NULL, \n"
        "\tnode_id INTEGER NOT NULL, \n"
        "\trevision_number INTEGER NOT NULL, \n"
        "\tmetadata JSON NOT NULL, \n"
        "\tspecs JSON NOT NULL, \n"
        "\ttime_created DATETIME DEFAULT CURRENT_TIMESTAMP, \n"
        "\ttime_updated DATETIME DEFAULT CURRENT_TIMESTAMP, \n"
        "\tPRIMARY KEY (id), \n"
        "\tCONSTRAINT node_id_revision_number_unique_constraint UNIQUE"
        " (node_id, revision_number), \n"
        "\tFOREIGN KEY(node_id) REFERENCES nodes (id) ON DELETE CASCADE\n"
        ")"
    ),
    (
        "CREATE TABLE webhooks (\n"
        "\tid INTEGER NOT NULL, \n"
        "\tnode_id INTEGER NOT NULL, \n"
        "\turl VARCHAR(2048) NOT NULL, \n"
        "\tsecret VARCHAR(512), \n"
        "\tevents JSON, \n"
        "\tactive BOOLEAN DEFAULT true NOT NULL, \n"
        "\ttime_created DATETIME DEFAULT CURRENT_TIMESTAMP, \n"
        "\ttime_updated DATETIME DEFAULT CURRENT_TIMESTAMP, \n"
        "\tPRIMARY KEY (id), \n"
        "\tFOREIGN KEY(node_id) REFERENCES nodes (id) ON DELETE CASCADE\n"
        ")"
    ),
    ("CREATE INDEX ix_webhooks_node_id ON webhooks (node_id)"),
    (
        "CREATE TABLE entities (\n"
        "\tid VARCHAR NOT NULL, \n"
        "\tnode_id INTEGER, \n"
        "\tentity_type VARCHAR NOT NULL, \n"
        "\tname VARCHAR NOT NULL, \n"
        "\turi VARCHAR, \n"
        "\tproperties JSON NOT NULL, \n"
        "\tcreated_at DATETIME NOT NULL, \n"
        "\tPRIMARY KEY (id), \n"
        "\tFOREIGN KEY(node_id) REFERENCES nodes (id) ON DELETE CASCADE\n"
        ")"
    ),
    ("CREATE INDEX entities_uri_idx ON entities (uri)"),
    ("CREATE INDEX entities_type_created_idx ON entities (entity_type, created_at)"),
    ("CREATE INDEX entities_node_id_idx ON entities (node_id)"),
    (
        "CREATE TABLE data_source_asset_association (\n"
        "\tdata_source_id INTEGER NOT NULL, \n"
        "\tasset_id INTEGER NOT NULL, \n"
        "\tparameter VARCHAR(255), \n"
        "\tnum INTEGER, \n"
        "\tCONSTRAINT data_source_asset_association_pkey PRIMARY KEY"
        " (data_source_id, asset_id), \n"
        "\tCONSTRAINT parameter_num_unique_constraint UNIQUE (data_source_id,"
        " parameter, num), \n"
        "\tFOREIGN KEY(data_source_id) REFERENCES data_sources (id) ON DELETE"
        " CASCADE, \n"
        "\tFOREIGN KEY(asset_id) REFERENCES assets (id) ON DELETE CASCADE\n"
        ")"
    ),
    (
        "CREATE INDEX ix_data_source_asset_association_asset_id ON"
        " data_source_asset_association (asset_id)"
    ),
    (
        "CREATE TRIGGER cannot_insert_num_null_if_num_exists\n"
        "BEFORE INSERT ON data_source_asset_association\n"
        "WHEN NEW.num IS NULL\n"
        "BEGIN\n"
        "    SELECT RAISE(ABORT, 'Can only insert num=NULL if no other row"
        " exists for the same parameter')\n"
        "    WHERE EXISTS\n"
        "    (\n"
        "        SELECT 1\n"
        "        FROM data_source_asset_association\n"
        "        WHERE parameter = NEW.parameter\n"
        "        AND data_source_id = NEW.data_source_id\n"
        "    );\n"
        "END"
    ),
    (
        "CREATE TRIGGER cannot_insert_num_int_if_num_null_exists\n"
        "BEFORE INSERT ON data_source_asset_association\n"
        "WHEN NEW.num IS NOT NULL\n"
        "BEGIN\n"
        "    SELECT RAISE(ABORT, 'Can only insert INTEGER num if no NULL row"
        " exists for the same parameter')\n"
        "    WHERE EXISTS\n"
        "    (\n"
        "        SELECT 1\n"
        "        FROM data_source_asset_association\n"
        "        WHERE parameter = NEW.parameter\n"
        "        AND num IS NULL\n"
        "        AND data_source_id = NEW.data_source_id\n"
        "    );\n"
        "END"
    ),
    (
        "CREATE TABLE webhook_deliveries (\n"
        "\tid INTEGER NOT NULL, \n"
        "\twebhook_id INTEGER NOT NULL, \n"
        "\tevent_id VARCHAR(128) NOT NULL, \n"
        "\tevent_type VARCHAR(128) NOT NULL, \n"
        "\tpayload JSON NOT NULL, \n"
        "\tstatus_code INTEGER, \n"
        "\tattempts INTEGER DEFAULT 0 NOT NULL, \n"
        "\tdelivered_at DATETIME, \n"
        "\toutcome VARCHAR(16) DEFAULT 'pending' NOT NULL, \n"
        "\terror_detail VARCHAR(4096), \n"
        "\ttime_created DATETIME DEFAULT CURRENT_TIMESTAMP, \n"
        "\ttime_updated DATETIME DEFAULT CURRENT_TIMESTAMP, \n"
        "\tPRIMARY KEY (id), \n"
        "\tFOREIGN KEY(webhook_id) REFERENCES webhooks (id) ON DELETE CASCADE\n"
        ")"
    ),
    ("CREATE INDEX ix_webhook_deliveries_event_id ON webhook_deliveries (event_id)"),
    ("CREATE INDEX ix_webhook_deliveries_webhook_id ON webhook_deliveries (webhook_id)"),
    (
        "CREATE TABLE links (\n"
        "\tid VARCHAR NOT NULL, \n"
        "\tsubject_id VARCHAR NOT NULL, \n"
        "\tpredicate VARCHAR NOT NULL, \n"
        "\tobject_id VARCHAR NOT NULL, \n"
        "\tproperties JSON NOT NULL, \n"
        "\tcreated_at DATETIME NOT NULL, \n"
        "\tPRIMARY KEY (id), \n"
        "\tFOREIGN KEY(subject_id) REFERENCES entities (id) ON DELETE CASCADE, \n"
        "\tFOREIGN KEY(object_id) REFERENCES entities (id) ON DELETE CASCADE\n"
        ")"
    ),
    ("CREATE INDEX links_subject_predicate_idx ON links (subject_id, predicate)"),
    ("CREATE INDEX links_triple_idx ON links (subject_id, predicate, object_id)"),
    ("CREATE INDEX links_predicate_object_idx ON links (predicate, object_id)"),
    (
        "CREATE TABLE entity_access_tags_association (\n"
        "\tentity_id VARCHAR NOT NULL, \n"
        "\ttag_id INTEGER NOT NULL, \n"
        "\tPRIMARY KEY (entity_id, tag_id), \n"
        "\tCONSTRAINT fk_entity_access_tags_association_entity FOREIGN"
        " KEY(entity_id) REFERENCES entities (id) ON DELETE CASCADE, \n"
        "\tCONSTRAINT fk_entity_access_tags_association_tag FOREIGN KEY(tag_id)"
        " REFERENCES access_tags (id) ON DELETE CASCADE\n"
        ")"
    ),
    (
        "CREATE INDEX ix_entity_access_tags_association_tag_id_entity_id ON"
        " entity_access_tags_association (tag_id, entity_id)"
    ),
    (
        "CREATE TRIGGER entities_node_access_tags_update\n"
        "BEFORE UPDATE OF node_id ON entities\n"
        "WHEN (NEW.node_id IS NOT NULL AND EXISTS (\n"
        "    SELECT 1 FROM entity_access_tags_association WHERE entity_id ="
        " NEW.id\n"
        "))\n"
        "BEGIN\n"
        "    SELECT RAISE(ABORT, 'An entity with node_id set must not have its"
        " own access tags; access is controlled by the referenced node.');\n"
        "END"
    ),
    (
        "CREATE TRIGGER entity_access_tags_association_insert_reject_node_backe"
        "d_entity\n"
        "BEFORE INSERT ON entity_access_tags_association\n"
        "WHEN EXISTS (SELECT 1 FROM entities WHERE id = NEW.entity_id AND"
        " node_id IS NOT NULL)\n"
        "BEGIN\n"
        "    SELECT RAISE(ABORT, 'An entity with node_id set must not have its"
        " own access tags; access is controlled by the referenced node.');\n"
        "END"
    ),
    (
        "CREATE TRIGGER entity_access_tags_association_update_reject_node_backe"
        "d_entity\n"
        "BEFORE UPDATE OF entity_id ON entity_access_tags_association\n"
        "WHEN EXISTS (SELECT 1 FROM entities WHERE id = NEW.entity_id AND"
        " node_id IS NOT NULL)\n"
        "BEGIN\n"
        "    SELECT RAISE(ABORT, 'An entity with node_id set must not have its"
        " own access tags; access is controlled by the referenced node.');\n"
        "END"
    ),
    (
        "CREATE TABLE link_access_tags_association (\n"
        "\tlink_id VARCHAR NOT NULL, \n"
        "\ttag_id INTEGER NOT NULL, \n"
        "\tPRIMARY KEY (link_id, tag_id), \n"
        "\tCONSTRAINT fk_link_access_tags_association_link FOREIGN KEY(link_id)"
        " REFERENCES links (id) ON DELETE CASCADE, \n"
        "\tCONSTRAINT fk_link_access_tags_association_tag FOREIGN KEY(tag_id)"
        " REFERENCES access_tags (id) ON DELETE CASCADE\n"
        ")"
    ),
    (
        "CREATE INDEX ix_link_access_tags_association_tag_id_link_id ON"
        " link_access_tags_association (tag_id, link_id)"
    ),
    (
        "CREATE TABLE alembic_version (\n"
        "\tversion_num VARCHAR(32) NOT NULL, \n"
        "\tCONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)\n"
        ")"
    ),
)
