-- Child executions (`flow.call`): the calling execution, its node that waits for the result (NULL: fire and
-- forget), and how deep the chain of calls is (0: nobody called it).
ALTER TABLE executions ADD COLUMN parent_id TEXT;
ALTER TABLE executions ADD COLUMN parent_node TEXT;
ALTER TABLE executions ADD COLUMN depth BIGINT NOT NULL DEFAULT 0;
CREATE INDEX executions_parent ON executions (parent_id, started_at) WHERE parent_id IS NOT NULL;

-- Resumes not applied yet: a `wait.event` resume call (key: its token) or a child execution's result (key: the
-- child's id). The engine deletes a row in the checkpoint that applies it; the timers claim a parked execution
-- that has one.
CREATE TABLE execution_resumes (
    execution_id TEXT NOT NULL,
    node_id TEXT NOT NULL,
    resume_key TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (execution_id, node_id, resume_key)
);

-- `dedupe.check`: the keys a flow has seen, each until it expires (purged in batches). `claimant` is the step
-- that claimed it (execution id and step number), so a redelivered step finds its own claim and passes again.
CREATE TABLE dedupe_keys (
    flow_id TEXT NOT NULL,
    dedupe_key TEXT NOT NULL,
    claimant TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    PRIMARY KEY (flow_id, dedupe_key)
);
CREATE INDEX dedupe_keys_expires ON dedupe_keys (expires_at);
