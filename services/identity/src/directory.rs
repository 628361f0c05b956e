//! Tenant and role rules: list, create, and (API.md §11) read, change and delete by id.

use flowmate_auth::Principal;
use flowmate_domain::permissions;
use flowmate_domain::{
    identity::{validate_role_permissions, Revocation, Role, Status, Tenant},
    time, Envelope, Id,
};

use crate::{
    core::{require, revocation_event, IdentityCore},
    error::{IdentityError, Result},
    guard::Change,
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

/// Changes to a tenant; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TenantPatch {
    /// New unique name.
    pub name: Option<String>,
    /// New status.
    pub status: Option<String>,
}

/// Changes to a role; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct RolePatch {
    /// New name.
    pub name: Option<String>,
    /// New permissions (validated against the vocabulary).
    pub permissions: Option<Vec<String>>,
    /// New description.
    pub description: Option<String>,
}

impl IdentityCore {
    /// A tenant: the caller's own, or any with `iam.tenant.read`; else `404 tenant not found`.
    pub async fn get_tenant(&self, caller: &Principal, id: &str) -> Result<Tenant> {
        if id != caller.tenant() && !caller.can(permissions::IAM_TENANT_READ) {
            return Err(IdentityError::NotFound { kind: "tenant" });
        }
        self.store
            .get_tenant(id)
            .await?
            .ok_or(IdentityError::NotFound { kind: "tenant" })
    }

    /// Changes a tenant's name or status (`all` or `iam.tenant.update`).
    pub async fn update_tenant(&self, caller: &Principal, id: &str, patch: TenantPatch) -> Result<Tenant> {
        require(caller, &["iam.tenant.update"])?;
        let mut tenant = self.get_tenant(caller, id).await?;
        let mut problems = Vec::new();
        if let Some(name) = &patch.name {
            if name.trim().is_empty() {
                problems.push(crate::error::input_problem("/name", "name must not be empty"));
            }
            tenant.name = name.trim().to_owned();
        }
        if let Some(s) = &patch.status {
            match Status::parse(s) {
                Some(s) => tenant.status = s,
                None => problems.push(crate::error::input_problem(
                    "/status",
                    "status must be one of ACTIVE, PENDING, DISABLED",
                )),
            }
        }
        if !problems.is_empty() {
            return Err(IdentityError::InputInvalid(problems));
        }
        tenant.updated_at = time::now_string();
        if !self.store.update_tenant(&tenant).await? {
            return Err(IdentityError::NotFound { kind: "tenant" });
        }
        Ok(tenant)
    }

    /// Deletes a tenant without users, with its own roles (`all` or `iam.tenant.delete`).
    pub async fn delete_tenant(&self, caller: &Principal, id: &str) -> Result<()> {
        require(caller, &["iam.tenant.delete"])?;
        self.get_tenant(caller, id).await?;
        let query = crate::model::UserQuery {
            tenant: Some(id.to_owned()),
            limit: Some(1),
            ..Default::default()
        };
        if self.store.list_users(&query).await?.1 > 0 {
            return Err(IdentityError::Forbidden(
                "a tenant with users cannot be deleted; delete its users first",
            ));
        }
        if !self.store.delete_tenant(id).await? {
            return Err(IdentityError::NotFound { kind: "tenant" });
        }
        Ok(())
    }

    /// A role the caller sees (global, its tenant's, or any for admins); else `404 role not found`.
    pub async fn get_role(&self, caller: &Principal, id: &str) -> Result<Role> {
        let role = self
            .store
            .roles_by_ids(&[id.to_owned()])
            .await?
            .pop()
            .ok_or(IdentityError::NotFound { kind: "role" })?;
        if role.is_global || caller.is_admin() || role.tenant.as_deref() == Some(caller.tenant()) {
            Ok(role)
        } else {
            Err(IdentityError::NotFound { kind: "role" })
        }
    }

    /// Whether the caller may change or delete `role`: global roles need `all`; tenant roles `permission` in
    /// their own tenant.
    fn may_manage(caller: &Principal, role: &Role, permission: &str) -> Result<()> {
        if role.is_global && !caller.is_admin() {
            return Err(IdentityError::Forbidden(
                "only global admins may change global roles",
            ));
        }
        require(caller, &[permission])
    }

    /// Changes a role; holders' tokens are revoked when its permissions change.
    pub async fn update_role(&self, caller: &Principal, id: &str, patch: RolePatch) -> Result<Role> {
        let mut role = self.get_role(caller, id).await?;
        Self::may_manage(caller, &role, "tenant.roles.update")?;
        let mut problems = Vec::new();
        if let Some(name) = &patch.name {
            if name.trim().is_empty() {
                problems.push(crate::error::input_problem("/name", "name must not be empty"));
            }
            role.name = name.trim().to_owned();
        }
        if let Some(perms) = &patch.permissions {
            if let Err(fault) = validate_role_permissions(perms) {
                if let IdentityError::InputInvalid(more) = IdentityError::input_invalid(fault) {
                    problems.extend(more);
                }
            }
            if !caller.is_admin() && perms.iter().any(|p| !caller.can(p)) {
                return Err(IdentityError::Forbidden("Restricted permission used"));
            }
        }
        if !problems.is_empty() {
            return Err(IdentityError::InputInvalid(problems));
        }
        if let Some(d) = patch.description {
            role.description = d;
        }
        let changed = patch.permissions.as_ref().is_some_and(|p| *p != role.permissions);
        if let Some(p) = patch.permissions {
            role.permissions = p;
        }
        role.updated_at = time::now_string();
        if changed {
            self.keep_an_admin(Change::Role(&role)).await?;
        }
        let revocations = if changed {
            self.holders_cut_off(id).await?
        } else {
            vec![]
        };
        let events = self.revocation_events(&revocations, &role)?;
        if !self.store.update_role(&role, &revocations, &events).await? {
            return Err(IdentityError::NotFound { kind: "role" });
        }
        self.apply_all(&revocations);
        Ok(role)
    }

    /// Deletes a role; its holders lose its rights and their tokens are revoked.
    pub async fn delete_role(&self, caller: &Principal, id: &str) -> Result<()> {
        let role = self.get_role(caller, id).await?;
        Self::may_manage(caller, &role, "tenant.roles.delete")?;
        self.keep_an_admin(Change::DeleteRole(id)).await?;
        let revocations = self.holders_cut_off(id).await?;
        let events = self.revocation_events(&revocations, &role)?;
        if !self.store.delete_role(id, &revocations, &events).await? {
            return Err(IdentityError::NotFound { kind: "role" });
        }
        self.apply_all(&revocations);
        Ok(())
    }

    /// Cut-offs for every user holding role `id`.
    async fn holders_cut_off(&self, id: &str) -> Result<Vec<Revocation>> {
        let (users, _) = self.store.list_users(&crate::model::UserQuery::default()).await?;
        Ok(users
            .iter()
            .filter(|u| u.roles.iter().any(|r| r == id))
            .map(|u| Revocation::cut_off_now(&u.id))
            .collect())
    }

    fn revocation_events(&self, revocations: &[Revocation], role: &Role) -> Result<Vec<Envelope>> {
        let tenant = role.tenant.clone().unwrap_or_default();
        revocations.iter().map(|r| revocation_event(r, &tenant)).collect()
    }

    fn apply_all(&self, revocations: &[Revocation]) {
        for r in revocations {
            self.verifier().revocations().apply(r);
        }
    }
}
