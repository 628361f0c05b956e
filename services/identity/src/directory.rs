//! Tenant and role rules.

use flowmate_auth::Principal;
use flowmate_domain::permissions;
use flowmate_domain::{
    identity::{validate_role_permissions, Role, Status, Tenant},
    time, Id,
};

use crate::{
    core::{require, IdentityCore},
    error::{IdentityError, Result},
};

/// Fields of a new role.
#[derive(Debug, Clone, Default)]
pub struct NewRole {
    /// Name, unique within its tenant (or among global roles).
    pub name: String,
    /// Permissions, validated against the vocabulary.
    pub permissions: Vec<String>,
    /// Free text.
    pub description: Option<String>,
    /// Visible to every tenant; only global admins may create such roles.
    pub is_global: bool,
}

impl IdentityCore {
    /// Every tenant for admins (`all` or `iam.tenant.read`), else the caller's own.
    pub async fn list_tenants(&self, caller: &Principal) -> Result<Vec<Tenant>> {
        let only = (!caller.can(permissions::IAM_TENANT_READ)).then(|| caller.tenant().to_owned());
        self.store.list_tenants(only.as_deref()).await
    }

    /// Creates a tenant (`all` or `iam.tenant.create`); names are unique.
    pub async fn create_tenant(
        &self,
        caller: &Principal,
        name: &str,
        status: Option<&str>,
    ) -> Result<Tenant> {
        require(caller, &[permissions::IAM_TENANT_CREATE])?;
        let name = name.trim();
        let mut problems = Vec::new();
        if name.is_empty() {
            problems.push(crate::error::input_problem("/name", "name is required"));
        }
        let status = match status {
            None => Status::Active,
            Some(s) => Status::parse(s).unwrap_or_else(|| {
                problems.push(crate::error::input_problem(
                    "/status",
                    "status must be one of ACTIVE, PENDING, DISABLED",
                ));
                Status::Active
            }),
        };
        if !problems.is_empty() {
            return Err(IdentityError::InputInvalid(problems));
        }
        let now = time::now_string();
        let tenant = Tenant {
            id: Id::new().into_string(),
            name: name.to_owned(),
            status,
            created_at: now.clone(),
            updated_at: now,
        };
        self.store.insert_tenant(&tenant).await?;
        Ok(tenant)
    }

    /// Global roles and the caller's tenant's (admins: every role).
    pub async fn list_roles(&self, caller: &Principal) -> Result<Vec<Role>> {
        let tenant = (!caller.is_admin()).then(|| caller.tenant().to_owned());
        self.store.list_roles(tenant.as_deref()).await
    }

    /// Creates a role. Global roles need `all`; tenant roles need `tenant.all` or `tenant.roles.create`, live in
    /// the caller's tenant, and carry only permissions the caller holds itself (unless it is a global admin).
    pub async fn create_role(&self, caller: &Principal, input: NewRole) -> Result<Role> {
        if input.is_global && !caller.is_admin() {
            return Err(IdentityError::Forbidden(
                "only global admins may create global roles",
            ));
        }
        require(caller, &["tenant.roles.create"])?;
        let mut problems = Vec::new();
        if input.name.trim().is_empty() {
            problems.push(crate::error::input_problem("/name", "name is required"));
        }
        if let Err(fault) = validate_role_permissions(&input.permissions) {
            if let IdentityError::InputInvalid(more) = IdentityError::input_invalid(fault) {
                problems.extend(more);
            }
        }
        if !problems.is_empty() {
            return Err(IdentityError::InputInvalid(problems));
        }
        // Nobody but a global admin hands out rights it does not hold itself.
        if !caller.is_admin() && input.permissions.iter().any(|p| !caller.can(p)) {
            return Err(IdentityError::Forbidden("Restricted permission used"));
        }
        let now = time::now_string();
        let role = Role {
            id: Id::new().into_string(),
            name: input.name.trim().to_owned(),
            permissions: input.permissions,
            scope: String::new(),
            created_at: now.clone(),
            updated_at: now,
            is_global: input.is_global,
            description: input.description.unwrap_or_default(),
            tenant: (!input.is_global).then(|| caller.tenant().to_owned()),
        };
        self.store.insert_role(&role).await?;
        Ok(role)
    }
}
