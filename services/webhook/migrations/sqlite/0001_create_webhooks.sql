-- The webhook service's own data: Idempotency-Key records (24 hours). Active flows live in memory, fed by events.

-- One row per (flow, Idempotency-Key): the request id of the first request and, once answered, its response.
CREATE TABLE idempotency_keys (
    flow_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_id TEXT NOT NULL,
    status BIGINT,
    response TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (flow_id, idempotency_key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
