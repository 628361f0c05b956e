-- Triggers accepted while the broker could not confirm them (ARCHITECTURE.md "How a webhook becomes an execution"):
-- the webhook answered 200 from this row's commit, and the spool relay publishes the rows in `seq` order once the
-- broker confirms again, deleting each row after its confirm. `payload` is the whole `flow.execute` envelope.
CREATE TABLE trigger_spool (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL
);
