-- `flowSettings.concurrency` (API.md §12): one row per flow that limits how many of its executions are in
-- progress. Deciding whether an execution may start takes the flow's row (PostgreSQL: `FOR UPDATE`; SQLite: its
-- single writer), so replicas deciding at once cannot both take the last slot. Executions past the limit wait as
-- `queued` with a `waiting_until` (holding no worker and no message); a finishing one wakes the oldest.
CREATE TABLE flow_slots (
    flow_id TEXT PRIMARY KEY
);

-- Counting a flow's running executions, and finding its oldest waiting one, from a small index.
CREATE INDEX executions_flow_active ON executions (flow_id, status, started_at) WHERE status IN ('queued', 'running');
