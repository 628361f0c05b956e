//! The permission vocabulary and the check every service applies (`all`, `tenant.all`, explicit grants).

/// Global admin: passes every check and sees every tenant.
pub const ALL: &str = "all";
/// Tenant admin: passes `tenant.*` checks within its own tenant.
pub const TENANT_ALL: &str = "tenant.all";

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
            || (required == "executions.read" && g == "icenter.read")
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
