-- An unfiltered flow list counts from counters instead of stepping through every flow in scope on each page: a
-- member's the flows its tenant owns and its own flows the tenant does not own, an admin's every tenant's flows
-- (crates/store ListSql::count_owned_from, count_all_from); the counters are kept by triggers, so every write
-- path keeps them exact. Indexes carry owned_by_tenant, so the scope check of a page (and the walk past earlier
-- pages) and a filtered count of the flows the tenant does not own read the index alone.
-- No flow is written between the counters' initial fill and their triggers (another replica may be running).
LOCK TABLE flows, flow_owners IN SHARE ROW EXCLUSIVE MODE;

-- A writer touches a tenant's counter rows only under the tenant's transaction lock, the locks of a tenant move
-- taken in one order: two writers of the same tenant never wait on each other's counter rows in opposite orders
-- (each store write changes one flow, so no writer holds a tenant's lock while it waits for a flow row).
CREATE FUNCTION flow_counts_lock(a TEXT, b TEXT) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    x INTEGER := hashtext(COALESCE(a, b));
    y INTEGER := hashtext(COALESCE(b, a));
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('flowmate.flow_counts'), LEAST(x, y));
    IF x <> y THEN
        PERFORM pg_advisory_xact_lock(hashtext('flowmate.flow_counts'), GREATEST(x, y));
    END IF;
END
$$;

CREATE TABLE flow_tenant_counts (
    tenant TEXT PRIMARY KEY,
    owned  BIGINT NOT NULL,     -- the tenant's flows whose owners name it
    total  BIGINT NOT NULL      -- all the tenant's flows (an admin's unfiltered list adds them up)
);
INSERT INTO flow_tenant_counts (tenant, owned, total)
    SELECT tenant, SUM(owned_by_tenant), COUNT(*) FROM flows GROUP BY tenant;

-- And how many flows of each tenant that the tenant does not own list each owner (a member's own private flows):
-- a pair (flow, owner) counts while both rows exist and the flow's owned_by_tenant is 0, whatever order a write
-- changes them in.
CREATE TABLE flow_private_counts (
    owner_id TEXT NOT NULL,
    tenant   TEXT NOT NULL,
    n        BIGINT NOT NULL,
    PRIMARY KEY (owner_id, tenant)
);
INSERT INTO flow_private_counts (owner_id, tenant, n)
    SELECT o.owner_id, f.tenant, COUNT(*) FROM flow_owners o JOIN flows f ON f.id = o.flow_id
    WHERE f.owned_by_tenant = 0 GROUP BY o.owner_id, f.tenant;

-- One function keeps both counters for a change of a flow row.
CREATE FUNCTION flows_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM flow_counts_lock(NEW.tenant, NULL);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM flow_counts_lock(OLD.tenant, NULL);
    ELSE
        PERFORM flow_counts_lock(OLD.tenant, NEW.tenant);
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE flow_tenant_counts SET owned = owned - OLD.owned_by_tenant, total = total - 1
            WHERE tenant = OLD.tenant;
        IF OLD.owned_by_tenant = 0 THEN
            UPDATE flow_private_counts SET n = n - 1
                WHERE tenant = OLD.tenant AND owner_id IN (SELECT owner_id FROM flow_owners WHERE flow_id = OLD.id);
        END IF;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO flow_tenant_counts (tenant, owned, total) VALUES (NEW.tenant, NEW.owned_by_tenant, 1)
            ON CONFLICT (tenant) DO UPDATE
            SET owned = flow_tenant_counts.owned + EXCLUDED.owned, total = flow_tenant_counts.total + 1;
        IF NEW.owned_by_tenant = 0 THEN
            INSERT INTO flow_private_counts (owner_id, tenant, n)
                SELECT owner_id, NEW.tenant, 1 FROM flow_owners WHERE flow_id = NEW.id
                ON CONFLICT (owner_id, tenant) DO UPDATE SET n = flow_private_counts.n + 1;
        END IF;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER flows_count_insert_delete AFTER INSERT OR DELETE ON flows
    FOR EACH ROW EXECUTE FUNCTION flows_count();
CREATE TRIGGER flows_count_update AFTER UPDATE OF tenant, owned_by_tenant ON flows
    FOR EACH ROW
    WHEN (OLD.tenant IS DISTINCT FROM NEW.tenant OR OLD.owned_by_tenant IS DISTINCT FROM NEW.owned_by_tenant)
    EXECUTE FUNCTION flows_count();

CREATE FUNCTION flow_owners_count_private() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    t TEXT;
BEGIN
    IF TG_OP = 'DELETE' THEN
        SELECT tenant INTO t FROM flows WHERE id = OLD.flow_id AND owned_by_tenant = 0;
    ELSE
        SELECT tenant INTO t FROM flows WHERE id = NEW.flow_id AND owned_by_tenant = 0;
    END IF;
    IF t IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM flow_counts_lock(t, NULL);
    IF TG_OP = 'DELETE' THEN
        UPDATE flow_private_counts SET n = n - 1 WHERE owner_id = OLD.owner_id AND tenant = t;
    ELSE
        INSERT INTO flow_private_counts (owner_id, tenant, n) VALUES (NEW.owner_id, t, 1)
            ON CONFLICT (owner_id, tenant) DO UPDATE SET n = flow_private_counts.n + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER flow_owners_private AFTER INSERT OR DELETE ON flow_owners
    FOR EACH ROW EXECUTE FUNCTION flow_owners_count_private();

DROP INDEX flows_tenant_created;
DROP INDEX flows_tenant_updated;
DROP INDEX flows_tenant_name;
DROP INDEX flows_tenant_owned;
CREATE INDEX flows_tenant_created ON flows (tenant, created_at, id, owned_by_tenant);
CREATE INDEX flows_tenant_updated ON flows (tenant, updated_at, id, owned_by_tenant);
CREATE INDEX flows_tenant_name ON flows (tenant, name_key, id, owned_by_tenant);
CREATE INDEX flows_tenant_owned ON flows (tenant, owned_by_tenant, id);
