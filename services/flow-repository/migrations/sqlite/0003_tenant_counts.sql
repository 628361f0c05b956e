-- An unfiltered flow list counts from counters instead of stepping through every flow in scope on each page: a
-- member's the flows its tenant owns and its own flows the tenant does not own, an admin's every tenant's flows
-- (crates/store ListSql::count_owned_from, count_all_from); the counters are kept by triggers, so every write
-- path keeps them exact. Indexes carry owned_by_tenant, so the scope check of a page (and the walk past earlier
-- pages) and a filtered count of the flows the tenant does not own read the index alone.
CREATE TABLE flow_tenant_counts (
    tenant TEXT PRIMARY KEY,
    owned  INTEGER NOT NULL,    -- the tenant's flows whose owners name it
    total  INTEGER NOT NULL     -- all the tenant's flows (an admin's unfiltered list adds them up)
);
INSERT INTO flow_tenant_counts (tenant, owned, total)
    SELECT tenant, SUM(owned_by_tenant), COUNT(*) FROM flows GROUP BY tenant;

-- And how many flows of each tenant that the tenant does not own list each owner (a member's own private flows):
-- a pair (flow, owner) counts while both rows exist and the flow's owned_by_tenant is 0, whatever order a write
-- changes them in.
CREATE TABLE flow_private_counts (
    owner_id TEXT NOT NULL,
    tenant   TEXT NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (owner_id, tenant)
);
INSERT INTO flow_private_counts (owner_id, tenant, n)
    SELECT o.owner_id, f.tenant, COUNT(*) FROM flow_owners o JOIN flows f ON f.id = o.flow_id
    WHERE f.owned_by_tenant = 0 GROUP BY o.owner_id, f.tenant;

-- The flow row's triggers keep both counters.
CREATE TRIGGER flows_count_insert AFTER INSERT ON flows
BEGIN
    INSERT INTO flow_tenant_counts (tenant, owned, total) VALUES (NEW.tenant, NEW.owned_by_tenant, 1)
        ON CONFLICT (tenant) DO UPDATE SET owned = owned + excluded.owned, total = total + 1;
    INSERT INTO flow_private_counts (owner_id, tenant, n)
        SELECT owner_id, NEW.tenant, 1 FROM flow_owners WHERE flow_id = NEW.id AND NEW.owned_by_tenant = 0
        ON CONFLICT (owner_id, tenant) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER flows_count_delete AFTER DELETE ON flows
BEGIN
    UPDATE flow_tenant_counts SET owned = owned - OLD.owned_by_tenant, total = total - 1 WHERE tenant = OLD.tenant;
    UPDATE flow_private_counts SET n = n - 1
        WHERE OLD.owned_by_tenant = 0 AND tenant = OLD.tenant
          AND owner_id IN (SELECT owner_id FROM flow_owners WHERE flow_id = OLD.id);
END;

CREATE TRIGGER flows_count_update AFTER UPDATE OF tenant, owned_by_tenant ON flows
    WHEN OLD.tenant IS NOT NEW.tenant OR OLD.owned_by_tenant IS NOT NEW.owned_by_tenant
BEGIN
    UPDATE flow_tenant_counts SET owned = owned - OLD.owned_by_tenant, total = total - 1 WHERE tenant = OLD.tenant;
    INSERT INTO flow_tenant_counts (tenant, owned, total) VALUES (NEW.tenant, NEW.owned_by_tenant, 1)
        ON CONFLICT (tenant) DO UPDATE SET owned = owned + excluded.owned, total = total + 1;
    UPDATE flow_private_counts SET n = n - 1
        WHERE OLD.owned_by_tenant = 0 AND tenant = OLD.tenant
          AND owner_id IN (SELECT owner_id FROM flow_owners WHERE flow_id = OLD.id);
    INSERT INTO flow_private_counts (owner_id, tenant, n)
        SELECT owner_id, NEW.tenant, 1 FROM flow_owners WHERE flow_id = NEW.id AND NEW.owned_by_tenant = 0
        ON CONFLICT (owner_id, tenant) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER flow_owners_private_insert AFTER INSERT ON flow_owners
BEGIN
    INSERT INTO flow_private_counts (owner_id, tenant, n)
        SELECT NEW.owner_id, tenant, 1 FROM flows WHERE id = NEW.flow_id AND owned_by_tenant = 0
        ON CONFLICT (owner_id, tenant) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER flow_owners_private_delete AFTER DELETE ON flow_owners
BEGIN
    UPDATE flow_private_counts SET n = n - 1
        WHERE owner_id = OLD.owner_id
          AND tenant = (SELECT tenant FROM flows WHERE id = OLD.flow_id AND owned_by_tenant = 0);
END;

DROP INDEX flows_tenant_created;
DROP INDEX flows_tenant_updated;
DROP INDEX flows_tenant_name;
DROP INDEX flows_tenant_owned;
CREATE INDEX flows_tenant_created ON flows (tenant, created_at, id, owned_by_tenant);
CREATE INDEX flows_tenant_updated ON flows (tenant, updated_at, id, owned_by_tenant);
CREATE INDEX flows_tenant_name ON flows (tenant, name_key, id, owned_by_tenant);
CREATE INDEX flows_tenant_owned ON flows (tenant, owned_by_tenant, id);
