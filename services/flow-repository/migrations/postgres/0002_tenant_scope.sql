-- Listing for tenant members (crates/store ListSql::tenant_scope): whether a flow's tenant is among its owners, so
-- the owners table is probed only for the flows it does not own, and indexes that answer the tenant's pages and
-- counts in order.
ALTER TABLE flows ADD COLUMN owned_by_tenant BIGINT NOT NULL DEFAULT 0;
UPDATE flows SET owned_by_tenant = 1
    WHERE EXISTS (SELECT 1 FROM flow_owners o WHERE o.flow_id = flows.id AND o.owner_id = flows.tenant);
DROP INDEX flows_tenant;
CREATE INDEX flows_tenant_created ON flows (tenant, created_at, id);
CREATE INDEX flows_tenant_updated ON flows (tenant, updated_at, id);
CREATE INDEX flows_tenant_name ON flows (tenant, name_key, id);
CREATE INDEX flows_tenant_owned ON flows (tenant, owned_by_tenant);
