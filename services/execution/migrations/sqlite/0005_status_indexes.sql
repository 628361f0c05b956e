-- Listing by status (`filter[status]`, the console's status filter) pages and counts from an index instead of
-- walking every execution of the tenant (or of the installation, for a global admin): with 100,000 executions
-- the console's `?status=succeeded` page went from ~270 ms to a few ms on SQLite.
CREATE INDEX executions_status_started ON executions (status, started_at, id);
CREATE INDEX executions_tenant_status_started ON executions (tenant, status, started_at, id);
