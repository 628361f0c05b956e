-- A tenant member's unfiltered flow list counts the flows its tenant owns from a counter instead of stepping
-- through every one of them on each page (crates/store ListSql::count_owned_from); the counter is kept by triggers,
-- so every write path keeps it exact. Indexes carry owned_by_tenant, so the scope check of a page (and the walk
-- past earlier pages) and the count of the flows the tenant does not own read the index alone.
CREATE TABLE flow_tenant_counts (
    tenant TEXT PRIMARY KEY,
    owned  BIGINT NOT NULL
);
INSERT INTO flow_tenant_counts (tenant, owned)
    SELECT tenant, COUNT(*) FROM flows WHERE owned_by_tenant = 1 GROUP BY tenant;

CREATE FUNCTION flows_count_tenant_owned() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.owned_by_tenant = 1 THEN
        UPDATE flow_tenant_counts SET owned = owned - 1 WHERE tenant = OLD.tenant;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.owned_by_tenant = 1 THEN
        INSERT INTO flow_tenant_counts (tenant, owned) VALUES (NEW.tenant, 1)
            ON CONFLICT (tenant) DO UPDATE SET owned = flow_tenant_counts.owned + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER flows_count_insert_delete AFTER INSERT OR DELETE ON flows
    FOR EACH ROW EXECUTE FUNCTION flows_count_tenant_owned();
CREATE TRIGGER flows_count_update AFTER UPDATE OF tenant, owned_by_tenant ON flows
    FOR EACH ROW
    WHEN (OLD.tenant IS DISTINCT FROM NEW.tenant OR OLD.owned_by_tenant IS DISTINCT FROM NEW.owned_by_tenant)
    EXECUTE FUNCTION flows_count_tenant_owned();

DROP INDEX flows_tenant_created;
DROP INDEX flows_tenant_updated;
DROP INDEX flows_tenant_name;
DROP INDEX flows_tenant_owned;
CREATE INDEX flows_tenant_created ON flows (tenant, created_at, id, owned_by_tenant);
CREATE INDEX flows_tenant_updated ON flows (tenant, updated_at, id, owned_by_tenant);
CREATE INDEX flows_tenant_name ON flows (tenant, name_key, id, owned_by_tenant);
CREATE INDEX flows_tenant_owned ON flows (tenant, owned_by_tenant, id);
