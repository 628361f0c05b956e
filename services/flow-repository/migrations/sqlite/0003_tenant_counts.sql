-- A tenant member's unfiltered flow list counts the flows its tenant owns from a counter instead of stepping
-- through every one of them on each page (crates/store ListSql::count_owned_from); the counter is kept by triggers,
-- so every write path keeps it exact. Indexes carry owned_by_tenant, so the scope check of a page (and the walk
-- past earlier pages) and the count of the flows the tenant does not own read the index alone.
CREATE TABLE flow_tenant_counts (
    tenant TEXT PRIMARY KEY,
    owned  INTEGER NOT NULL
);
INSERT INTO flow_tenant_counts (tenant, owned)
    SELECT tenant, COUNT(*) FROM flows WHERE owned_by_tenant = 1 GROUP BY tenant;

CREATE TRIGGER flows_count_insert AFTER INSERT ON flows WHEN NEW.owned_by_tenant = 1
BEGIN
    INSERT INTO flow_tenant_counts (tenant, owned) VALUES (NEW.tenant, 1)
        ON CONFLICT (tenant) DO UPDATE SET owned = owned + 1;
END;

CREATE TRIGGER flows_count_delete AFTER DELETE ON flows WHEN OLD.owned_by_tenant = 1
BEGIN
    UPDATE flow_tenant_counts SET owned = owned - 1 WHERE tenant = OLD.tenant;
END;

CREATE TRIGGER flows_count_update AFTER UPDATE OF tenant, owned_by_tenant ON flows
    WHEN OLD.tenant IS NOT NEW.tenant OR OLD.owned_by_tenant IS NOT NEW.owned_by_tenant
BEGIN
    UPDATE flow_tenant_counts SET owned = owned - 1 WHERE tenant = OLD.tenant AND OLD.owned_by_tenant = 1;
    INSERT INTO flow_tenant_counts (tenant, owned) SELECT NEW.tenant, 1 WHERE NEW.owned_by_tenant = 1
        ON CONFLICT (tenant) DO UPDATE SET owned = owned + 1;
END;

DROP INDEX flows_tenant_created;
DROP INDEX flows_tenant_updated;
DROP INDEX flows_tenant_name;
DROP INDEX flows_tenant_owned;
CREATE INDEX flows_tenant_created ON flows (tenant, created_at, id, owned_by_tenant);
CREATE INDEX flows_tenant_updated ON flows (tenant, updated_at, id, owned_by_tenant);
CREATE INDEX flows_tenant_name ON flows (tenant, name_key, id, owned_by_tenant);
CREATE INDEX flows_tenant_owned ON flows (tenant, owned_by_tenant, id);
