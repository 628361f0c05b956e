-- Tenant quotas (API.md §12), kept where executions are admitted. A row exists only for a tenant with a quota;
-- admitting an execution of that tenant holds its row (the rate window below changes with every admission), so
-- concurrent admissions never exceed a limit. The rate is a sliding minute: the count of the current minute plus
-- the previous minute's, weighted by how much of it is still inside the window.
CREATE TABLE tenant_quotas (
    tenant TEXT PRIMARY KEY,
    executions_per_minute INTEGER,
    max_queued INTEGER,
    max_stored INTEGER,
    window_minute INTEGER NOT NULL DEFAULT 0,
    window_count INTEGER NOT NULL DEFAULT 0,
    previous_count INTEGER NOT NULL DEFAULT 0
);
