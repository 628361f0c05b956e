-- Templates, their owners (for scope filtering), previous versions and the outbox of the template service.
CREATE TABLE templates (
    id          TEXT PRIMARY KEY,
    tenant      TEXT NOT NULL,
    name_key    TEXT NOT NULL,        -- lower-cased name: the sort key
    search_text TEXT NOT NULL,        -- lower-cased name and description, for case-insensitive search
    type        TEXT NOT NULL,
    status      TEXT NOT NULL,        -- draft | published
    body        TEXT NOT NULL,        -- the template document (JSON) without id, version and timestamps
    version     INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX templates_created ON templates (created_at, id);
CREATE INDEX templates_updated ON templates (updated_at, id);
CREATE INDEX templates_name ON templates (name_key, id);
CREATE INDEX templates_status ON templates (status, created_at);
CREATE INDEX templates_tenant ON templates (tenant, created_at);

CREATE TABLE template_owners (
    owner_id    TEXT NOT NULL,
    template_id TEXT NOT NULL,
    PRIMARY KEY (owner_id, template_id)
);
CREATE INDEX template_owners_template ON template_owners (template_id);

CREATE TABLE template_versions (
    template_id TEXT NOT NULL,
    version     INTEGER NOT NULL,
    document    TEXT NOT NULL,        -- the whole template as it was at that version
    PRIMARY KEY (template_id, version)
);

CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at TEXT NOT NULL
);
