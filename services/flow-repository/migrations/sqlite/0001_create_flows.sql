-- Flows, their owners (for scope filtering), versions, processed events and the outbox of the flow repository.
CREATE TABLE flows (
    id                TEXT PRIMARY KEY,
    tenant            TEXT NOT NULL,
    name              TEXT NOT NULL,
    name_key          TEXT NOT NULL,      -- lower-cased name: the sort key, ordered by code point on both databases
    search_text       TEXT NOT NULL,      -- lower-cased name and description, for case-insensitive search
    type              TEXT NOT NULL,
    status            TEXT NOT NULL,
    status_reason     TEXT,
    from_template     TEXT,
    body              TEXT NOT NULL,      -- the user-editable document (JSON)
    version           INTEGER NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX flows_created ON flows (created_at, id);
CREATE INDEX flows_updated ON flows (updated_at, id);
CREATE INDEX flows_name ON flows (name_key, id);
CREATE INDEX flows_status ON flows (status, created_at);
CREATE INDEX flows_tenant ON flows (tenant, created_at);
CREATE INDEX flows_type ON flows (type, created_at);
CREATE INDEX flows_from_template ON flows (from_template);

CREATE TABLE flow_owners (
    owner_id TEXT NOT NULL,
    flow_id  TEXT NOT NULL,
    PRIMARY KEY (owner_id, flow_id)
);
CREATE INDEX flow_owners_flow ON flow_owners (flow_id);

CREATE TABLE flow_versions (
    flow_id    TEXT NOT NULL,
    version    INTEGER NOT NULL,
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (flow_id, version)
);

CREATE TABLE processed_events (
    id           TEXT PRIMARY KEY,
    processed_at TEXT NOT NULL
);

CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at TEXT NOT NULL
);
