//! What the identity core needs from storage (a port), and the stored shape of a user.

use async_trait::async_trait;
use flowmate_domain::{
    identity::{Revocation, Role, Status, Tenant, User},
    Envelope,
};

use crate::error::Result;

/// A user as stored: the API fields plus password hash, role ids and login throttling state.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    /// User id.
    pub id: String,
    /// Lower-cased e-mail.
    pub username: String,
    /// First name.
    pub firstname: String,
    /// Last name.
    pub lastname: String,
    /// Status.
    pub status: Status,
    /// Tenant id.
    pub tenant: String,
    /// Role ids.
    pub roles: Vec<String>,
    /// Directly granted permissions.
    pub permissions: Vec<String>,
    /// Confirmed e-mail.
    pub confirmed: bool,
    /// Avatar URL.
    pub img: Option<String>,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Failed logins in the current window.
    pub failed_logins: i64,
    /// Start of the current failure window (unix seconds).
    pub first_failed_at: i64,
    /// Locked until (unix seconds); 0 when not locked.
    pub locked_until: i64,
    /// Bumped on every change; updates apply only to the revision they read.
    pub revision: i64,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

impl UserRecord {
    /// The API view, with the given roles expanded.
    pub fn to_user(&self, roles: &[Role]) -> User {
        User {
            id: self.id.clone(),
            username: self.username.clone(),
            firstname: self.firstname.clone(),
            lastname: self.lastname.clone(),
            status: self.status,
            tenant: self.tenant.clone(),
            roles: self
                .roles
                .iter()
                .filter_map(|id| roles.iter().find(|r| &r.id == id).cloned())
                .collect(),
            permissions: self.permissions.clone(),
            confirmed: self.confirmed,
            img: self.img.clone(),
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
        }
    }
}

/// Which users to list.
#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    /// Only this tenant (`None`: every tenant).
    pub tenant: Option<String>,
    /// Only these usernames (exact, lower-cased).
    pub usernames: Vec<String>,
    /// Only these ids.
    pub ids: Vec<String>,
    /// Page size (`None`: no paging).
    pub limit: Option<i64>,
    /// Rows to skip.
    pub offset: i64,
}

/// Persistence for the identity core. Every change that others must hear of carries its events, which the
/// implementation writes to the outbox in the same transaction.
#[async_trait]
pub trait IdentityStore: Send + Sync + 'static {
    /// Number of users (first-start detection).
    async fn count_users(&self) -> Result<i64>;
    /// A tenant by id.
    async fn get_tenant(&self, id: &str) -> Result<Option<Tenant>>;
    /// A tenant by name.
    async fn tenant_by_name(&self, name: &str) -> Result<Option<Tenant>>;
    /// Tenants, all or just one.
    async fn list_tenants(&self, only: Option<&str>) -> Result<Vec<Tenant>>;
    /// Inserts a tenant; a taken name is `DuplicateKey`.
    async fn insert_tenant(&self, tenant: &Tenant) -> Result<()>;
    /// Replaces a tenant's name and status; `false` when there is none; a taken name is `DuplicateKey`.
    async fn update_tenant(&self, tenant: &Tenant) -> Result<bool>;
    /// Deletes a tenant and its own roles; `false` when there is none.
    async fn delete_tenant(&self, id: &str) -> Result<bool>;
    /// Replaces a role's name, permissions and description with the revocations of its holders' tokens and the
    /// events; `false` when there is none.
    async fn update_role(&self, role: &Role, revocations: &[Revocation], events: &[Envelope])
        -> Result<bool>;
    /// Deletes a role with the revocations of its holders' tokens and the events; `false` when there is none.
    async fn delete_role(&self, id: &str, revocations: &[Revocation], events: &[Envelope]) -> Result<bool>;
    /// Global roles plus the roles of `tenant` (`None`: every role).
    async fn list_roles(&self, tenant: Option<&str>) -> Result<Vec<Role>>;
    /// Roles by id (unknown ids are left out).
    async fn roles_by_ids(&self, ids: &[String]) -> Result<Vec<Role>>;
    /// Inserts a role; a taken name in its scope is `DuplicateKey`.
    async fn insert_role(&self, role: &Role) -> Result<()>;
    /// Inserts a role unless one with its name exists in its scope (first-start seeding by several replicas).
    async fn ensure_role(&self, role: &Role) -> Result<()>;
    /// Users matching the query and the total without paging.
    async fn list_users(&self, query: &UserQuery) -> Result<(Vec<UserRecord>, u64)>;
    /// A user by id.
    async fn get_user(&self, id: &str) -> Result<Option<UserRecord>>;
    /// A user by (lower-cased) username.
    async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>>;
    /// Inserts a user; a taken username is `DuplicateKey`.
    async fn insert_user(&self, user: &UserRecord, events: &[Envelope]) -> Result<()>;
    /// Replaces a user's fields if it is still at `user.revision - 1`, records the revocation if any, and writes
    /// the events; `false` when another change came first (or the user is gone).
    async fn update_user(
        &self,
        user: &UserRecord,
        revocation: Option<&Revocation>,
        events: &[Envelope],
    ) -> Result<bool>;
    /// Deletes a user, records the revocation and writes the events; `false` when there was no such user.
    async fn delete_user(&self, id: &str, revocation: &Revocation, events: &[Envelope]) -> Result<bool>;
    /// Counts a failed login atomically (concurrent guesses all count): a failure older than `window_start`
    /// starts a new window; at `max` failures the account is locked until `locked_until`. Returns whether it locked.
    async fn record_login_failure(
        &self,
        id: &str,
        now: i64,
        window_start: i64,
        max: i64,
        locked_until: i64,
    ) -> Result<bool>;
    /// Clears the login throttling state after a successful login.
    async fn clear_login_failures(&self, id: &str) -> Result<()>;
    /// Records a revocation and writes its event.
    async fn insert_revocation(&self, revocation: &Revocation, events: &[Envelope]) -> Result<()>;
    /// Revocations still in force at `now` (unix seconds).
    async fn list_revocations(&self, now: i64) -> Result<Vec<Revocation>>;
    /// The signing key (kid, PKCS#8), if one was created.
    async fn signing_key(&self) -> Result<Option<(String, Vec<u8>)>>;
    /// Stores a signing key unless one exists; the stored key wins a race between replicas.
    async fn ensure_signing_key(&self, kid: &str, pkcs8: &[u8]) -> Result<()>;
}
