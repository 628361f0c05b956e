//! User rules: who may list, read, create, change and delete which users, and what they may grant.

use flowmate_auth::Principal;
use flowmate_domain::permissions;
use flowmate_domain::{
    event::types,
    identity::{normalize_username, Revocation, Role, Status, User, UserFields},
    time, Envelope, Id,
};

/// How often an update is retried when another change to the same user came first.
const UPDATE_ATTEMPTS: usize = 3;

use crate::{
    core::{require, revocation_event, IdentityCore, SOURCE},
    error::{input_problem, IdentityError, Result},
    guard::Change,
    model::{UserQuery, UserRecord},
    passwords,
};

/// Writes the fields `patch` sets (with its parsed `status` and the new password's hash) into `record`, as a new
/// revision.
fn apply(record: &mut UserRecord, patch: &UserPatch, status: Option<Status>, password_hash: Option<&str>) {
    if let Some(u) = &patch.username {
        record.username = normalize_username(u);
    }
    if let Some(f) = &patch.firstname {
        record.firstname = f.trim().to_owned();
    }
    if let Some(l) = &patch.lastname {
        record.lastname = l.trim().to_owned();
    }
    if let Some(s) = status {
        record.status = s;
    }
    if let Some(r) = &patch.roles {
        record.roles = r.clone();
    }
    if let Some(p) = &patch.permissions {
        record.permissions = p.clone();
    }
    if let Some(c) = patch.confirmed {
        record.confirmed = c;
    }
    if patch.img.is_some() {
        record.img = patch.img.clone();
    }
    if let Some(hash) = password_hash {
        hash.clone_into(&mut record.password_hash);
    }
    record.updated_at = time::now_string();
    record.revision += 1;
}

/// Fields of a new user.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    /// E-mail (required).
    pub username: Option<String>,
    /// Password, at least 8 characters (required).
    pub password: Option<String>,
    /// First name (required).
    pub firstname: Option<String>,
    /// Last name (required).
    pub lastname: Option<String>,
    /// `ACTIVE` (default), `PENDING` or `DISABLED`.
    pub status: Option<String>,
    /// Tenant; only callers with `iam.account.create` may choose another than their own.
    pub tenant: Option<String>,
    /// Role ids.
    pub roles: Vec<String>,
    /// Directly granted permissions.
    pub permissions: Vec<String>,
    /// Confirmed (default true).
    pub confirmed: Option<bool>,
    /// Avatar URL.
    pub img: Option<String>,
}

/// Changes to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    /// New e-mail.
    pub username: Option<String>,
    /// New password.
    pub password: Option<String>,
    /// New first name.
    pub firstname: Option<String>,
    /// New last name.
    pub lastname: Option<String>,
    /// New status.
    pub status: Option<String>,
    /// New role ids.
    pub roles: Option<Vec<String>>,
    /// New permissions.
    pub permissions: Option<Vec<String>>,
    /// New confirmed flag.
    pub confirmed: Option<bool>,
    /// New avatar URL.
    pub img: Option<String>,
}

impl IdentityCore {
    /// Users visible to the caller (every tenant for admins, else the caller's own), of `query.tenant` if set.
    pub async fn list_users(&self, caller: &Principal, mut query: UserQuery) -> Result<(Vec<User>, u64)> {
        require(
            caller,
            &[permissions::TENANT_ACCOUNT_READ, permissions::IAM_ACCOUNT_READ],
        )?;
        if !caller.can(permissions::IAM_ACCOUNT_READ) {
            if query.tenant.as_deref().is_some_and(|t| t != caller.tenant()) {
                return Err(IdentityError::NotFound { kind: "tenant" });
            }
            query.tenant = Some(caller.tenant().to_owned());
        }
        query.usernames = query.usernames.iter().map(|u| normalize_username(u)).collect();
        let (records, total) = self.store.list_users(&query).await?;
        let mut role_ids: Vec<String> = records.iter().flat_map(|r| r.roles.iter().cloned()).collect();
        role_ids.sort_unstable();
        role_ids.dedup();
        let roles = self.store.roles_by_ids(&role_ids).await?;
        Ok((records.iter().map(|r| r.to_user(&roles)).collect(), total))
    }

    /// One user; the caller itself always, others with `tenant.account.read` within scope.
    pub async fn get_user(&self, caller: &Principal, id: &str) -> Result<User> {
        if id != caller.user_id() {
            require(
                caller,
                &[permissions::TENANT_ACCOUNT_READ, permissions::IAM_ACCOUNT_READ],
            )?;
        }
        let record = self
            .visible_user(caller, id, permissions::IAM_ACCOUNT_READ)
            .await?;
        self.expand(&record).await
    }

    /// Creates a user (API.md §2 `POST /api/users`).
    pub async fn create_user(&self, caller: &Principal, input: NewUser) -> Result<User> {
        require(
            caller,
            &[
                permissions::TENANT_ACCOUNT_CREATE,
                permissions::IAM_ACCOUNT_CREATE,
            ],
        )?;
        let mut missing = Vec::new();
        for (field, value) in [
            ("/username", &input.username),
            ("/password", &input.password),
            ("/firstname", &input.firstname),
            ("/lastname", &input.lastname),
        ] {
            if value.is_none() {
                missing.push(input_problem(field, &format!("{} is required", &field[1..])));
            }
        }
        // Missing fields and invalid ones are reported together.
        let invalid = UserFields {
            username: input.username.as_deref(),
            firstname: input.firstname.as_deref(),
            lastname: input.lastname.as_deref(),
            password: input.password.as_deref(),
            status: input.status.as_deref(),
        }
        .validate();
        if let Err(fault) = invalid {
            if let IdentityError::InputInvalid(problems) = IdentityError::input_invalid(fault) {
                missing.extend(problems);
            }
        }
        if !missing.is_empty() {
            return Err(IdentityError::InputInvalid(missing));
        }
        let tenant = match (&input.tenant, caller.can(permissions::IAM_ACCOUNT_CREATE)) {
            (Some(t), true) if t != caller.tenant() => {
                self.store
                    .get_tenant(t)
                    .await?
                    .ok_or(IdentityError::invalid_field("/tenant", "unknown tenant"))?;
                t.clone()
            }
            _ => caller.tenant().to_owned(),
        };
        self.check_grants(caller, &tenant, &input.roles, &input.permissions)
            .await?;
        let now = time::now_string();
        let record = UserRecord {
            id: Id::new().into_string(),
            username: normalize_username(input.username.as_deref().unwrap_or_default()),
            firstname: input.firstname.unwrap_or_default().trim().to_owned(),
            lastname: input.lastname.unwrap_or_default().trim().to_owned(),
            status: input
                .status
                .as_deref()
                .and_then(Status::parse)
                .unwrap_or(Status::Active),
            tenant,
            roles: input.roles,
            permissions: input.permissions,
            confirmed: input.confirmed.unwrap_or(true),
            img: input.img,
            password_hash: passwords::hash(input.password.unwrap_or_default()).await?,
            failed_logins: 0,
            first_failed_at: 0,
            locked_until: 0,
            revision: 0,
            created_at: now.clone(),
            updated_at: now,
        };
        let user = self.expand(&record).await?;
        let event = user_event(types::USER_CREATED, &user)?;
        self.store.insert_user(&record, &[event]).await?;
        Ok(user)
    }

    /// Changes a user. Anyone may change their own names, password and picture; everything else needs
    /// `tenant.account.update` within scope, on users with no more rights than the caller. Nobody but a global
    /// admin changes its own roles or permissions, and nobody disables itself. A change of status, roles,
    /// permissions or password revokes the user's tokens.
    pub async fn update_user(&self, caller: &Principal, id: &str, patch: UserPatch) -> Result<User> {
        let own = id == caller.user_id();
        let privileged = patch.username.is_some()
            || patch.status.is_some()
            || patch.roles.is_some()
            || patch.permissions.is_some()
            || patch.confirmed.is_some();
        if !own || privileged {
            require(
                caller,
                &[
                    permissions::TENANT_ACCOUNT_UPDATE,
                    permissions::IAM_ACCOUNT_UPDATE,
                ],
            )?;
        }
        if own && !caller.is_admin() && (patch.roles.is_some() || patch.permissions.is_some()) {
            return Err(IdentityError::Forbidden(
                "a user cannot change its own roles or permissions",
            ));
        }
        UserFields {
            username: patch.username.as_deref(),
            firstname: patch.firstname.as_deref(),
            lastname: patch.lastname.as_deref(),
            password: patch.password.as_deref(),
            status: patch.status.as_deref(),
        }
        .validate()
        .map_err(IdentityError::input_invalid)?;
        let status = patch.status.as_deref().and_then(Status::parse);
        if own && status.is_some_and(|s| s != Status::Active) {
            return Err(IdentityError::Forbidden("a user cannot disable itself"));
        }
        let password_hash = match &patch.password {
            Some(pw) => Some(passwords::hash(pw.clone()).await?),
            None => None,
        };
        for _ in 0..UPDATE_ATTEMPTS {
            let mut record = self
                .visible_user(caller, id, permissions::IAM_ACCOUNT_UPDATE)
                .await?;
            if !own {
                self.check_target(caller, &record).await?;
            }
            let roles = patch.roles.clone().unwrap_or_default();
            let perms = patch.permissions.clone().unwrap_or_default();
            self.check_grants(caller, &record.tenant, &roles, &perms).await?;

            let was_active = record.status == Status::Active;
            let rights_changed = patch.roles.as_ref().is_some_and(|r| !same_set(r, &record.roles))
                || patch
                    .permissions
                    .as_ref()
                    .is_some_and(|p| !same_set(p, &record.permissions));
            apply(&mut record, &patch, status, password_hash.as_deref());
            let user = self.expand(&record).await?;
            let mut events = vec![user_event(types::USER_MODIFIED, &user)?];
            let disabled = was_active && record.status != Status::Active;
            if disabled || rights_changed {
                self.keep_an_admin(Change::User(&record)).await?;
            }
            let revocation =
                (disabled || rights_changed || password_hash.is_some()).then(|| cut_off(&record.id));
            if let Some(r) = &revocation {
                events.push(revocation_event(r, &record.tenant)?);
            }
            if self
                .store
                .update_user(&record, revocation.as_ref(), &events)
                .await?
            {
                if let Some(r) = &revocation {
                    self.verifier().revocations().apply(r);
                }
                return Ok(user);
            }
        }
        Err(IdentityError::Conflict)
    }

    /// Deletes a user and revokes its tokens. Nobody may delete themselves.
    pub async fn delete_user(&self, caller: &Principal, id: &str) -> Result<()> {
        require(
            caller,
            &[
                permissions::TENANT_ACCOUNT_DELETE,
                permissions::IAM_ACCOUNT_DELETE,
            ],
        )?;
        if id == caller.user_id() {
            return Err(IdentityError::Forbidden("a user cannot delete itself"));
        }
        let record = self
            .visible_user(caller, id, permissions::IAM_ACCOUNT_DELETE)
            .await?;
        self.check_target(caller, &record).await?;
        self.keep_an_admin(Change::DeleteUser(&record.id)).await?;
        let revocation = cut_off(&record.id);
        let data = serde_json::json!({"id": record.id, "tenant": record.tenant, "username": record.username});
        let events = vec![
            Envelope::new(types::USER_DELETED, SOURCE, data).with_tenant(&record.tenant),
            revocation_event(&revocation, &record.tenant)?,
        ];
        if !self.store.delete_user(&record.id, &revocation, &events).await? {
            return Err(IdentityError::UserNotFound);
        }
        self.verifier().revocations().apply(&revocation);
        Ok(())
    }

    /// A user the caller may see: its own tenant's, or any with `all` / the cross-tenant permission.
    async fn visible_user(&self, caller: &Principal, id: &str, cross_tenant: &str) -> Result<UserRecord> {
        let record = self
            .store
            .get_user(id)
            .await?
            .ok_or(IdentityError::UserNotFound)?;
        if record.tenant != caller.tenant() && !caller.can(cross_tenant) && id != caller.user_id() {
            return Err(IdentityError::UserNotFound);
        }
        Ok(record)
    }

    /// The API view of a stored user with its roles expanded.
    pub(crate) async fn expand(&self, record: &UserRecord) -> Result<User> {
        let roles = self.store.roles_by_ids(&record.roles).await?;
        Ok(record.to_user(&roles))
    }

    /// A caller other than a global admin may manage only users whose rights it holds itself: a tenant admin
    /// cannot take over a global admin who happens to live in its tenant.
    async fn check_target(&self, caller: &Principal, target: &UserRecord) -> Result<()> {
        if caller.is_admin() {
            return Ok(());
        }
        let rights = self.expand(target).await?.effective_permissions();
        if rights.iter().all(|p| caller.can(p)) {
            Ok(())
        } else {
            Err(IdentityError::Forbidden(
                "a user cannot manage a user with more rights than itself",
            ))
        }
    }

    /// What a caller may grant in `tenant`: existing roles that are global or the tenant's, and — unless the
    /// caller is a global admin — only permissions it holds itself, directly or through roles it could grant.
    async fn check_grants(
        &self,
        caller: &Principal,
        tenant: &str,
        role_ids: &[String],
        perms: &[String],
    ) -> Result<()> {
        let roles: Vec<Role> = self.store.roles_by_ids(role_ids).await?;
        let mut problems = Vec::new();
        for (i, id) in role_ids.iter().enumerate() {
            match roles.iter().find(|r| &r.id == id) {
                None => problems.push(input_problem(&format!("/roles/{i}"), "unknown role")),
                Some(r) if !r.is_global && r.tenant.as_deref() != Some(tenant) => {
                    if caller.is_admin() {
                        problems.push(input_problem(
                            &format!("/roles/{i}"),
                            "role belongs to another tenant",
                        ));
                    } else {
                        return Err(IdentityError::Forbidden("Restricted role used"));
                    }
                }
                Some(_) => {}
            }
        }
        if !problems.is_empty() {
            return Err(IdentityError::InputInvalid(problems));
        }
        if caller.is_admin() {
            return Ok(());
        }
        if roles.iter().any(|r| r.permissions.iter().any(|p| !caller.can(p))) {
            return Err(IdentityError::Forbidden("Restricted role used"));
        }
        if perms.iter().any(|p| !caller.can(p)) {
            return Err(IdentityError::Forbidden("Restricted permission used"));
        }
        Ok(())
    }
}

/// Invalidates every token of a user issued before now (milliseconds; a login after the change is valid).
fn cut_off(user_id: &str) -> Revocation {
    Revocation::cut_off_now(user_id)
}

/// Whether two lists hold the same values, whatever their order.
fn same_set(a: &[String], b: &[String]) -> bool {
    a.iter().all(|x| b.contains(x)) && b.iter().all(|x| a.contains(x))
}

pub(crate) fn user_event(kind: &str, user: &User) -> Result<Envelope> {
    let data = serde_json::to_value(user).map_err(|e| IdentityError::Internal(e.to_string()))?;
    Ok(Envelope::new(kind, SOURCE, data).with_tenant(&user.tenant))
}
