-- Tenants, roles, users, revocations, signing keys and the outbox of the identity service.
CREATE TABLE tenants (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    status     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE roles (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    tenant      TEXT,
    scope_key   TEXT NOT NULL,        -- the tenant id, or '' for global roles: (scope_key, name) is unique
    permissions TEXT NOT NULL,        -- JSON array
    description TEXT NOT NULL,
    scope       TEXT NOT NULL,
    is_global   BIGINT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (scope_key, name)
);

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE, -- stored lower-cased, so unique case-insensitively
    firstname       TEXT NOT NULL,
    lastname        TEXT NOT NULL,
    status          TEXT NOT NULL,
    tenant          TEXT NOT NULL,
    roles           TEXT NOT NULL,        -- JSON array of role ids
    permissions     TEXT NOT NULL,        -- JSON array
    confirmed       BIGINT NOT NULL,
    img             TEXT,
    password_hash   TEXT NOT NULL,
    failed_logins   BIGINT NOT NULL DEFAULT 0,
    first_failed_at BIGINT NOT NULL DEFAULT 0, -- unix seconds of the first failure in the current window
    locked_until    BIGINT NOT NULL DEFAULT 0, -- unix seconds
    revision        BIGINT NOT NULL DEFAULT 0, -- bumped on every change (optimistic concurrency)
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX users_tenant_created ON users (tenant, created_at);

CREATE TABLE revocations (
    key     TEXT PRIMARY KEY,  -- 'token:<jti>' or 'user:<id>'
    kind    TEXT NOT NULL,     -- 'token' | 'user'
    subject TEXT NOT NULL,     -- the jti or the user id
    at      BIGINT NOT NULL   -- token: expires_at; user: not_before (unix seconds)
);

CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    private_key TEXT NOT NULL, -- base64 PKCS#8
    created_at  TEXT NOT NULL
);

CREATE TABLE outbox (
    seq        BIGSERIAL PRIMARY KEY,
    id         TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at TEXT NOT NULL
);
