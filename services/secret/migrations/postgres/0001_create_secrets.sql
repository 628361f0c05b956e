-- Secrets, OAuth2 apps (auth clients), consent states, which active flows use which secret, and the outbox of the
-- secret service. Sensitive values are sealed (enc:v2:<kid>:…); key_id names the key, so a rotation finds the
-- rows still sealed with an older one.
CREATE TABLE secrets (
    id                TEXT PRIMARY KEY,
    tenant            TEXT NOT NULL,
    owner_id          TEXT NOT NULL,        -- the user who created it
    name              TEXT NOT NULL,
    name_key          TEXT COLLATE "C" NOT NULL, -- lower-cased name: the sort and search key
    type              TEXT NOT NULL,
    public_json       TEXT NOT NULL,        -- the value's non-sensitive fields (headerName, tokenUrl, …), shown as is
    value             TEXT NOT NULL,        -- the whole value object as JSON, sealed
    key_id            TEXT NOT NULL,
    auth_client_id    TEXT,                 -- OA2_AUTHORIZATION_CODE: its app
    version           BIGINT NOT NULL,      -- +1 on every change of name or value (also token refreshes)
    lease_owner       TEXT,                 -- a token refresh in progress: who holds it, until when
    lease_until       TEXT,
    refresh_error     TEXT,                 -- the last failed refresh (no secret in it) and when
    refresh_failed_at TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX secrets_tenant ON secrets (tenant, created_at, id);
CREATE INDEX secrets_key ON secrets (key_id, id);
CREATE INDEX secrets_auth_client ON secrets (auth_client_id);

CREATE TABLE auth_clients (
    id            TEXT PRIMARY KEY,
    tenant        TEXT NOT NULL,
    owner_id      TEXT NOT NULL,
    name          TEXT NOT NULL,
    name_key      TEXT COLLATE "C" NOT NULL,
    public_json   TEXT NOT NULL,            -- the document without clientSecret
    client_secret TEXT NOT NULL,            -- sealed
    key_id        TEXT NOT NULL,
    version       BIGINT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX auth_clients_tenant ON auth_clients (tenant, created_at, id);
CREATE INDEX auth_clients_key ON auth_clients (key_id, id);

-- A consent round trip in progress. Only the SHA-256 of the state is kept; used_at makes it single-use.
CREATE TABLE oauth_states (
    state_hash     TEXT PRIMARY KEY,
    auth_client_id TEXT NOT NULL,
    tenant         TEXT NOT NULL,
    user_id        TEXT NOT NULL,
    secret_name    TEXT NOT NULL,
    scope          TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    used_at        TEXT,
    created_at     TEXT NOT NULL
);
CREATE INDEX oauth_states_created ON oauth_states (created_at);

-- Which started flows name which secret (recorded by the start-time check, cleared by flow.stopping/deleted).
CREATE TABLE secret_usages (
    secret_id TEXT NOT NULL,
    flow_id   TEXT NOT NULL,
    PRIMARY KEY (secret_id, flow_id)
);
CREATE INDEX secret_usages_flow ON secret_usages (flow_id);
-- The time of the last flow event applied per flow, so an older event cannot undo a newer one.
CREATE TABLE flow_marks (
    flow_id    TEXT PRIMARY KEY,
    changed_at TEXT NOT NULL
);

CREATE TABLE outbox (
    seq        BIGSERIAL PRIMARY KEY,
    id         TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at TEXT NOT NULL
);
