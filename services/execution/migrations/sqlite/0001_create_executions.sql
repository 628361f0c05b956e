-- The execution service's own data: the flows it runs (a copy fed by flow.starting / flow.stopping), their
-- schedules, and every execution with its steps.

CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- One row per flow this service was told about; active = 0 is a stopped flow kept so late events stay ordered.
CREATE TABLE running_flows (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    started_by TEXT NOT NULL,
    version BIGINT NOT NULL,
    document TEXT NOT NULL,
    active BIGINT NOT NULL,
    changed_at TEXT NOT NULL
);

-- Cron flows and their next due time (RFC 3339 text sorts by time).
CREATE TABLE schedules (
    flow_id TEXT PRIMARY KEY,
    cron TEXT NOT NULL,
    next_due TEXT NOT NULL
);
CREATE INDEX schedules_next_due ON schedules (next_due);

CREATE TABLE executions (
    id TEXT PRIMARY KEY,
    flow_id TEXT NOT NULL,
    flow_version BIGINT NOT NULL,
    tenant TEXT NOT NULL,
    user_id TEXT NOT NULL,
    status TEXT NOT NULL,
    trigger TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    duration_ms BIGINT,
    counters TEXT NOT NULL,
    error TEXT,
    response TEXT,
    message TEXT NOT NULL,
    -- The checkpoint a redelivered or resumed execution continues from; cleared when it finishes.
    state TEXT,
    -- Parked (delay, retry backoff) until this time; the resumer claims due rows.
    waiting_until TEXT,
    -- The id of the message (trigger or resume) that currently runs it; NULL while parked. A redelivery of that
    -- message takes the execution over; any other message for it is a duplicate and is dropped.
    owner TEXT,
    -- Fencing token: bumped on every takeover and resume claim; a checkpoint of an older holder writes nothing.
    generation BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX executions_tenant_started ON executions (tenant, started_at);
CREATE INDEX executions_flow_started ON executions (flow_id, started_at);
CREATE INDEX executions_started ON executions (started_at);
CREATE INDEX executions_finished ON executions (finished_at);
CREATE INDEX executions_waiting ON executions (waiting_until) WHERE waiting_until IS NOT NULL;

CREATE TABLE execution_steps (
    execution_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    step_id TEXT NOT NULL,
    component_id TEXT NOT NULL,
    function TEXT NOT NULL,
    status TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    input TEXT,
    output TEXT,
    error TEXT,
    PRIMARY KEY (execution_id, seq)
);
