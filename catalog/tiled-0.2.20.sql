-- Tiled 0.2.20's empty catalog, as `tiled catalog init` leaves it: the text SQLite
-- stored for each table, index and trigger (its sqlite_master in order, less the
-- metadata_fts5_* tables the full-text virtual table makes itself), one statement
-- after another. Read by zarrscribe.catalog._schema; tests/catalog/test_schema.py
-- checks that a catalog made from it equals one made by Tiled.

CREATE TABLE nodes (
	id INTEGER NOT NULL, 
	parent INTEGER, 
	"key" VARCHAR(1023) NOT NULL, 
	structure_family VARCHAR(9) NOT NULL, 
	metadata JSON NOT NULL, 
	specs JSON NOT NULL, 
	time_created DATETIME DEFAULT CURRENT_TIMESTAMP, 
	time_updated DATETIME DEFAULT CURRENT_TIMESTAMP, 
	PRIMARY KEY (id), 
	CONSTRAINT key_parent_unique_constraint UNIQUE ("key", parent), 
	CONSTRAINT fk_nodes_parent FOREIGN KEY(parent) REFERENCES nodes (id) ON DELETE CASCADE
);

CREATE INDEX ix_nodes_parent ON nodes (parent);

CREATE INDEX ix_nodes_parent_id ON nodes (parent, id);

CREATE TABLE access_tags (
	id INTEGER NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	is_public BOOLEAN DEFAULT false NOT NULL, 
	time_created DATETIME DEFAULT CURRENT_TIMESTAMP, 
	time_updated DATETIME DEFAULT CURRENT_TIMESTAMP, 
	PRIMARY KEY (id), 
	UNIQUE (name)
);

CREATE INDEX ix_access_tags_is_public ON access_tags (name) WHERE is_public;

CREATE TABLE access_tags_principals (
	id INTEGER NOT NULL, 
	name VARCHAR(255) NOT NULL, 
	time_created DATETIME DEFAULT CURRENT_TIMESTAMP, 
	time_updated DATETIME DEFAULT CURRENT_TIMESTAMP, 
	PRIMARY KEY (id), 
	UNIQUE (name)
);

CREATE VIRTUAL TABLE metadata_fts5 USING fts5(metadata, content='nodes', content_rowid='id');

CREATE TRIGGER nodes_metadata_fts5_sync_ai AFTER INSERT ON nodes BEGIN
              INSERT INTO metadata_fts5(rowid, metadata)
              VALUES (new.id, new.metadata);
            END;

CREATE TRIGGER nodes_metadata_fts5_sync_ad AFTER DELETE ON nodes BEGIN
              INSERT INTO metadata_fts5(metadata_fts5, rowid, metadata)
              VALUES('delete', old.id, old.metadata);
            END;

CREATE TRIGGER nodes_metadata_fts5_sync_au AFTER UPDATE ON nodes BEGIN
              INSERT INTO metadata_fts5(metadata_fts5, rowid, metadata)
              VALUES('delete', old.id, old.metadata);
              INSERT INTO metadata_fts5(rowid, metadata)
              VALUES (new.id, new.metadata);
            END;

CREATE TABLE structures (
	id VARCHAR(32) NOT NULL, 
	structure JSON NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (id)
);

CREATE TABLE assets (
	id INTEGER NOT NULL, 
	data_uri VARCHAR(1023), 
	is_directory BOOLEAN NOT NULL, 
	hash_type VARCHAR(63), 
	hash_content VARCHAR(1023), 
	size BIGINT, 
	time_created DATETIME DEFAULT CURRENT_TIMESTAMP, 
	time_updated DATETIME DEFAULT CURRENT_TIMESTAMP, 
	PRIMARY KEY (id)
);

CREATE UNIQUE INDEX ix_assets_data_uri ON assets (data_uri);

CREATE TABLE namespaces (
	prefix VARCHAR NOT NULL, 
	uri VARCHAR NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (prefix)
);

CREATE TABLE nodes_closure (
	ancestor INTEGER NOT NULL, 
	descendant INTEGER NOT NULL, 
	depth INTEGER NOT NULL, 
	PRIMARY KEY (ancestor, descendant), 
	FOREIGN KEY(ancestor) REFERENCES nodes (id) ON DELETE CASCADE, 
	FOREIGN KEY(descendant) REFERENCES nodes (id) ON DELETE CASCADE
);

CREATE INDEX idx_nodes_closure_descendant ON nodes_closure (descendant);

CREATE INDEX idx_nodes_closure_ancestor ON nodes_closure (ancestor);

CREATE TRIGGER update_closure_table_when_inserting
AFTER INSERT ON nodes
BEGIN
    INSERT INTO nodes_closure(ancestor, descendant, depth)
    SELECT NEW.id, NEW.id, 0;
    INSERT INTO nodes_closure(ancestor, descendant, depth)
    SELECT p.ancestor, c.descendant, p.depth+c.depth+1
    FROM nodes_closure p, nodes_closure c
    WHERE p.descendant=NEW.parent and c.ancestor=NEW.id;
END;

CREATE TABLE node_access_tags_association (
	node_id INTEGER NOT NULL, 
	tag_id INTEGER NOT NULL, 
	parent_id INTEGER, 
	CONSTRAINT node_access_tags_association_pkey PRIMARY KEY (node_id, tag_id), 
	CONSTRAINT fk_node_access_tags_association_node FOREIGN KEY(node_id) REFERENCES nodes (id) ON DELETE CASCADE, 
	CONSTRAINT fk_node_access_tags_association_tag FOREIGN KEY(tag_id) REFERENCES access_tags (id) ON DELETE CASCADE
);

CREATE INDEX ix_node_access_tags_association_parent_id_tag_id_node_id ON node_access_tags_association (parent_id, tag_id, node_id);

CREATE INDEX ix_node_access_tags_association_tag_id_node_id ON node_access_tags_association (tag_id, node_id);

CREATE TRIGGER node_access_tags_set_parent_after_insert
AFTER INSERT ON node_access_tags_association
BEGIN
    UPDATE node_access_tags_association
    SET parent_id = (SELECT parent FROM nodes WHERE id = NEW.node_id)
    WHERE node_id = NEW.node_id AND tag_id = NEW.tag_id;
END;

CREATE TRIGGER node_access_tags_set_parent_after_update
AFTER UPDATE OF node_id ON node_access_tags_association
BEGIN
    UPDATE node_access_tags_association
    SET parent_id = (SELECT parent FROM nodes WHERE id = NEW.node_id)
    WHERE node_id = NEW.node_id AND tag_id = NEW.tag_id;
END;

CREATE TRIGGER node_access_tags_sync_parent_after_node_update
AFTER UPDATE OF parent ON nodes
WHEN NEW.parent IS NOT OLD.parent
BEGIN
    UPDATE node_access_tags_association
    SET parent_id = NEW.parent
    WHERE node_id = NEW.id;
END;

CREATE TABLE access_grants (
	tag_id INTEGER NOT NULL, 
	principal_id INTEGER NOT NULL, 
	scope VARCHAR(16) NOT NULL, 
	CONSTRAINT access_grants_pkey PRIMARY KEY (tag_id, principal_id, scope), 
	CONSTRAINT fk_access_grants_access_tag FOREIGN KEY(tag_id) REFERENCES access_tags (id) ON DELETE CASCADE, 
	CONSTRAINT fk_access_grants_principal FOREIGN KEY(principal_id) REFERENCES access_tags_principals (id) ON DELETE CASCADE, 
	CONSTRAINT scope_name CHECK (scope IN ('read:metadata', 'read:data', 'write:metadata', 'write:data', 'delete:revision', 'delete:node', 'create:node', 'register', 'metrics', 'create:apikeys', 'revoke:apikeys', 'admin:apikeys', 'read:principals', 'write:principals', 'read:webhooks', 'write:webhooks'))
);

CREATE INDEX ix_access_grants_principal_scope ON access_grants (principal_id, scope, tag_id);

CREATE TABLE access_tag_owners_association (
	tag_id INTEGER NOT NULL, 
	principal_id INTEGER NOT NULL, 
	CONSTRAINT access_tag_owners_association_pkey PRIMARY KEY (tag_id, principal_id), 
	CONSTRAINT fk_access_tag_owners_association_access_tag FOREIGN KEY(tag_id) REFERENCES access_tags (id) ON DELETE CASCADE, 
	CONSTRAINT fk_access_tag_owners_association_principal FOREIGN KEY(principal_id) REFERENCES access_tags_principals (id) ON DELETE CASCADE
);

CREATE INDEX ix_access_tag_owners_association_principal_id ON access_tag_owners_association (principal_id);

CREATE TABLE data_sources (
	id INTEGER NOT NULL, 
	node_id INTEGER NOT NULL, 
	structure_id VARCHAR(32), 
	mimetype VARCHAR(255) NOT NULL, 
	parameters JSON, 
	properties JSON, 
	management VARCHAR(9) NOT NULL, 
	structure_family VARCHAR(9) NOT NULL, 
	time_created DATETIME DEFAULT CURRENT_TIMESTAMP, 
	time_updated DATETIME DEFAULT CURRENT_TIMESTAMP, 
	PRIMARY KEY (id), 
	FOREIGN KEY(node_id) REFERENCES nodes (id) ON DELETE CASCADE, 
	FOREIGN KEY(structure_id) REFERENCES structures (id) ON DELETE CASCADE
);

CREATE INDEX idx_data_sources_id_node ON data_sources (id, node_id);

CREATE INDEX ix_data_sources_node_id ON data_sources (node_id);

CREATE TABLE revisions (
	id INTEGER NOT NULL, 
	node_id INTEGER NOT NULL, 
	revision_number INTEGER NOT NULL, 
	metadata JSON NOT NULL, 
	specs JSON NOT NULL, 
	time_created DATETIME DEFAULT CURRENT_TIMESTAMP, 
	time_updated DATETIME DEFAULT CURRENT_TIMESTAMP, 
	PRIMARY KEY (id), 
	CONSTRAINT node_id_revision_number_unique_constraint UNIQUE (node_id, revision_number), 
	FOREIGN KEY(node_id) REFERENCES nodes (id) ON DELETE CASCADE
);

CREATE TABLE webhooks (
	id INTEGER NOT NULL, 
	node_id INTEGER NOT NULL, 
	url VARCHAR(2048) NOT NULL, 
	secret VARCHAR(512), 
	events JSON, 
	active BOOLEAN DEFAULT true NOT NULL, 
	time_created DATETIME DEFAULT CURRENT_TIMESTAMP, 
	time_updated DATETIME DEFAULT CURRENT_TIMESTAMP, 
	PRIMARY KEY (id), 
	FOREIGN KEY(node_id) REFERENCES nodes (id) ON DELETE CASCADE
);

CREATE INDEX ix_webhooks_node_id ON webhooks (node_id);

CREATE TABLE entities (
	id VARCHAR NOT NULL, 
	node_id INTEGER, 
	entity_type VARCHAR NOT NULL, 
	name VARCHAR NOT NULL, 
	uri VARCHAR, 
	properties JSON NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(node_id) REFERENCES nodes (id) ON DELETE CASCADE
);

CREATE INDEX entities_uri_idx ON entities (uri);

CREATE INDEX entities_type_created_idx ON entities (entity_type, created_at);

CREATE INDEX entities_node_id_idx ON entities (node_id);

CREATE TABLE data_source_asset_association (
	data_source_id INTEGER NOT NULL, 
	asset_id INTEGER NOT NULL, 
	parameter VARCHAR(255), 
	num INTEGER, 
	CONSTRAINT data_source_asset_association_pkey PRIMARY KEY (data_source_id, asset_id), 
	CONSTRAINT parameter_num_unique_constraint UNIQUE (data_source_id, parameter, num), 
	FOREIGN KEY(data_source_id) REFERENCES data_sources (id) ON DELETE CASCADE, 
	FOREIGN KEY(asset_id) REFERENCES assets (id) ON DELETE CASCADE
);

CREATE INDEX ix_data_source_asset_association_asset_id ON data_source_asset_association (asset_id);

CREATE TRIGGER cannot_insert_num_null_if_num_exists
BEFORE INSERT ON data_source_asset_association
WHEN NEW.num IS NULL
BEGIN
    SELECT RAISE(ABORT, 'Can only insert num=NULL if no other row exists for the same parameter')
    WHERE EXISTS
    (
        SELECT 1
        FROM data_source_asset_association
        WHERE parameter = NEW.parameter
        AND data_source_id = NEW.data_source_id
    );
END;

CREATE TRIGGER cannot_insert_num_int_if_num_null_exists
BEFORE INSERT ON data_source_asset_association
WHEN NEW.num IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'Can only insert INTEGER num if no NULL row exists for the same parameter')
    WHERE EXISTS
    (
        SELECT 1
        FROM data_source_asset_association
        WHERE parameter = NEW.parameter
        AND num IS NULL
        AND data_source_id = NEW.data_source_id
    );
END;

CREATE TABLE webhook_deliveries (
	id INTEGER NOT NULL, 
	webhook_id INTEGER NOT NULL, 
	event_id VARCHAR(128) NOT NULL, 
	event_type VARCHAR(128) NOT NULL, 
	payload JSON NOT NULL, 
	status_code INTEGER, 
	attempts INTEGER DEFAULT 0 NOT NULL, 
	delivered_at DATETIME, 
	outcome VARCHAR(16) DEFAULT 'pending' NOT NULL, 
	error_detail VARCHAR(4096), 
	time_created DATETIME DEFAULT CURRENT_TIMESTAMP, 
	time_updated DATETIME DEFAULT CURRENT_TIMESTAMP, 
	PRIMARY KEY (id), 
	FOREIGN KEY(webhook_id) REFERENCES webhooks (id) ON DELETE CASCADE
);

CREATE INDEX ix_webhook_deliveries_event_id ON webhook_deliveries (event_id);

CREATE INDEX ix_webhook_deliveries_webhook_id ON webhook_deliveries (webhook_id);

CREATE TABLE links (
	id VARCHAR NOT NULL, 
	subject_id VARCHAR NOT NULL, 
	predicate VARCHAR NOT NULL, 
	object_id VARCHAR NOT NULL, 
	properties JSON NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(subject_id) REFERENCES entities (id) ON DELETE CASCADE, 
	FOREIGN KEY(object_id) REFERENCES entities (id) ON DELETE CASCADE
);

CREATE INDEX links_subject_predicate_idx ON links (subject_id, predicate);

CREATE INDEX links_triple_idx ON links (subject_id, predicate, object_id);

CREATE INDEX links_predicate_object_idx ON links (predicate, object_id);

CREATE TABLE entity_access_tags_association (
	entity_id VARCHAR NOT NULL, 
	tag_id INTEGER NOT NULL, 
	PRIMARY KEY (entity_id, tag_id), 
	CONSTRAINT fk_entity_access_tags_association_entity FOREIGN KEY(entity_id) REFERENCES entities (id) ON DELETE CASCADE, 
	CONSTRAINT fk_entity_access_tags_association_tag FOREIGN KEY(tag_id) REFERENCES access_tags (id) ON DELETE CASCADE
);

CREATE INDEX ix_entity_access_tags_association_tag_id_entity_id ON entity_access_tags_association (tag_id, entity_id);

CREATE TRIGGER entities_node_access_tags_update
BEFORE UPDATE OF node_id ON entities
WHEN (NEW.node_id IS NOT NULL AND EXISTS (
    SELECT 1 FROM entity_access_tags_association WHERE entity_id = NEW.id
))
BEGIN
    SELECT RAISE(ABORT, 'An entity with node_id set must not have its own access tags; access is controlled by the referenced node.');
END;

CREATE TRIGGER entity_access_tags_association_insert_reject_node_backed_entity
BEFORE INSERT ON entity_access_tags_association
WHEN EXISTS (SELECT 1 FROM entities WHERE id = NEW.entity_id AND node_id IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'An entity with node_id set must not have its own access tags; access is controlled by the referenced node.');
END;

CREATE TRIGGER entity_access_tags_association_update_reject_node_backed_entity
BEFORE UPDATE OF entity_id ON entity_access_tags_association
WHEN EXISTS (SELECT 1 FROM entities WHERE id = NEW.entity_id AND node_id IS NOT NULL)
BEGIN
    SELECT RAISE(ABORT, 'An entity with node_id set must not have its own access tags; access is controlled by the referenced node.');
END;

CREATE TABLE link_access_tags_association (
	link_id VARCHAR NOT NULL, 
	tag_id INTEGER NOT NULL, 
	PRIMARY KEY (link_id, tag_id), 
	CONSTRAINT fk_link_access_tags_association_link FOREIGN KEY(link_id) REFERENCES links (id) ON DELETE CASCADE, 
	CONSTRAINT fk_link_access_tags_association_tag FOREIGN KEY(tag_id) REFERENCES access_tags (id) ON DELETE CASCADE
);

CREATE INDEX ix_link_access_tags_association_tag_id_link_id ON link_access_tags_association (tag_id, link_id);

CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);

