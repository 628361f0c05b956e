//! The permission vocabulary and the check every service applies (`all`, `tenant.all`, explicit grants).

/// Global admin: passes every check and sees every tenant.
pub const ALL: &str = "all";
/// Tenant admin: passes `tenant.*` checks within its own tenant.
pub const TENANT_ALL: &str = "tenant.all";

/// Read flows.
pub const FLOWS_READ: &str = "flows.read";
/// Create, change and delete flows.
pub const FLOWS_WRITE: &str = "flows.write";
/// Start and stop flows, run them by hand, retry and cancel executions.
pub const FLOWS_CONTROL: &str = "flows.control";
/// Bulk flow operations (creating several, `PATCH /flows/bulk`).
pub const FLOWS_BULK: &str = "flows.bulk";
/// Read templates.
pub const TEMPLATES_READ: &str = "templates.read";
/// Create, change and delete templates.
pub const TEMPLATES_WRITE: &str = "templates.write";
/// Read executions.
pub const EXECUTIONS_READ: &str = "executions.read";
/// FlowMate's name for reading executions, accepted for [`EXECUTIONS_READ`].
pub const ICENTER_READ: &str = "icenter.read";
/// Call webhooks that require a bearer token.
pub const WEBHOOKS_EXECUTE: &str = "webhooks.execute";
/// Read secrets and auth clients (names, types and non-sensitive fields; values are never shown).
pub const SECRETS_READ: &str = "secrets.read";
/// Create, change and delete secrets and auth clients, and start a consent.
pub const SECRETS_WRITE: &str = "secrets.write";
/// Read users of one's tenant.
pub const TENANT_ACCOUNT_READ: &str = "tenant.account.read";
/// Create users in one's tenant.
pub const TENANT_ACCOUNT_CREATE: &str = "tenant.account.create";
/// Change users of one's tenant.
pub const TENANT_ACCOUNT_UPDATE: &str = "tenant.account.update";
/// Delete users of one's tenant.
pub const TENANT_ACCOUNT_DELETE: &str = "tenant.account.delete";
/// Read users of every tenant.
pub const IAM_ACCOUNT_READ: &str = "iam.account.read";
/// Create users in any tenant.
pub const IAM_ACCOUNT_CREATE: &str = "iam.account.create";
/// Change users of any tenant.
pub const IAM_ACCOUNT_UPDATE: &str = "iam.account.update";
/// Delete users of any tenant.
pub const IAM_ACCOUNT_DELETE: &str = "iam.account.delete";
/// Read every tenant.
pub const IAM_TENANT_READ: &str = "iam.tenant.read";
/// Create tenants.
pub const IAM_TENANT_CREATE: &str = "iam.tenant.create";

/// Permissions only a global admin may grant (on users or in roles).
pub const RESTRICTED: &[&str] = &[
    "all",
    "iam.tenant.create",
    "iam.tenant.read",
    "iam.tenant.update",
    "iam.tenant.delete",
    "iam.secret.create",
    "iam.secret.read",
    "iam.key.create",
    "iam.key.read",
    "iam.key.delete",
    "iam.account.create",
    "iam.account.read",
    "iam.account.update",
    "iam.account.delete",
    "iam.token.create",
    "iam.token.update",
    "iam.token.delete",
    "iam.token.introspect",
    "secrets.secret.deleteAny",
    "secrets.authClient.deleteAny",
];

/// Permissions a tenant admin may hand out (OIH's "common" list).
pub const COMMON: &[&str] = &[
    "tenant.all",
    "tenant.account.read",
    "tenant.account.create",
    "tenant.account.update",
    "tenant.account.delete",
    "tenant.membership.create",
    "tenant.membership.update",
    "tenant.membership.delete",
    "tenant.profile.read",
    "tenant.profile.update",
    "tenant.profile.delete",
    "tenant.roles.read",
    "tenant.roles.create",
    "tenant.roles.update",
    "tenant.roles.delete",
    "tenant.flows.read",
    "tenant.flows.create",
    "tenant.flows.update",
    "tenant.flows.delete",
    "metadata.domains.crud",
    "secrets.secret.readRaw",
    "secrets.authClient.readRaw",
];

/// Service permissions checked by FlowMate's own endpoints; grantable by tenant admins.
pub const SERVICE: &[&str] = &[
    "flows.read",
    "flows.write",
    "flows.update",
    "flows.delete",
    "flows.control",
    "flows.bulk",
    "templates.read",
    "templates.write",
    "templates.control",
    "executions.read",
    "icenter.read",
    "icenter.write",
    "icenter.control",
    "webhooks.execute",
    "components.read",
    "components.write",
    "secrets.create",
    "secrets.read",
    "secrets.write",
    "secrets.delete",
    "tagging.read",
    "tagging.write",
    "logs.read",
];

/// Whether a permission name belongs to the vocabulary roles are validated against.
pub fn is_known(p: &str) -> bool {
    RESTRICTED.contains(&p) || COMMON.contains(&p) || SERVICE.contains(&p)
}

/// Whether only a global admin may grant this permission.
pub fn is_restricted(p: &str) -> bool {
    RESTRICTED.contains(&p) || p.starts_with("iam.")
}

/// Whether a holder of `granted` passes a check for `required`.
///
/// `all` passes everything; `tenant.all` passes `tenant.*` permissions (scoping to the tenant is the caller's job);
/// otherwise the exact permission must be held. `icenter.read` is accepted for `executions.read`.
pub fn allows(granted: &[String], required: &str) -> bool {
    granted.iter().any(|g| {
        g == ALL
            || g == required
            || (g == TENANT_ALL && required.starts_with("tenant."))
            || (required == EXECUTIONS_READ && g == ICENTER_READ)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn all_passes_every_check() {
        assert!(allows(&v(&["all"]), "flows.read"));
        assert!(allows(&v(&["all"]), "iam.tenant.create"));
    }

    #[test]
    fn tenant_admin_passes_only_tenant_checks() {
        assert!(allows(&v(&["tenant.all"]), "tenant.account.create"));
        assert!(!allows(&v(&["tenant.all"]), "flows.read"));
    }

    #[test]
    fn icenter_read_is_a_synonym_of_executions_read() {
        assert!(allows(&v(&["icenter.read"]), "executions.read"));
        assert!(!allows(&v(&["icenter.read"]), "flows.read"));
    }

    #[test]
    fn iam_permissions_are_restricted() {
        assert!(is_restricted("iam.anything"));
        assert!(is_restricted("all"));
        assert!(!is_restricted("flows.read"));
    }
}
