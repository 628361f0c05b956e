//! The last-admin guard: no change to a user or a role may leave an installation without an active global admin
//! (a user holding `all`, directly or through a role) — API.md §11.

use flowmate_domain::{
    identity::{Role, Status},
    permissions,
};

use crate::{
    core::IdentityCore,
    error::{IdentityError, Result},
    model::{UserQuery, UserRecord},
};

/// A change whose effect on the set of global admins is checked before it is made.
pub enum Change<'a> {
    /// A user as it will be stored.
    User(&'a UserRecord),
    /// A user about to be deleted.
    DeleteUser(&'a str),
    /// A role as it will be stored.
    Role(&'a Role),
    /// A role about to be deleted.
    DeleteRole(&'a str),
}

/// Why the guard refuses.
pub const LAST_ADMIN: &str = "the last global admin cannot lose `all`, be disabled or be deleted";

impl IdentityCore {
    /// Fails with `403 FORBIDDEN` when `change` would leave no active user holding `all` (while one does now).
    pub(crate) async fn keep_an_admin(&self, change: Change<'_>) -> Result<()> {
        let (mut users, _) = self.store.list_users(&UserQuery::default()).await?;
        let mut roles = self.store.list_roles(None).await?;
        if count_admins(&users, &roles) == 0 {
            return Ok(());
        }
        match change {
            Change::User(record) => match users.iter_mut().find(|u| u.id == record.id) {
                Some(u) => *u = record.clone(),
                None => users.push(record.clone()),
            },
            Change::DeleteUser(id) => users.retain(|u| u.id != id),
            Change::Role(role) => match roles.iter_mut().find(|r| r.id == role.id) {
                Some(r) => *r = role.clone(),
                None => roles.push(role.clone()),
            },
            Change::DeleteRole(id) => roles.retain(|r| r.id != id),
        }
        if count_admins(&users, &roles) == 0 {
            return Err(IdentityError::Forbidden(LAST_ADMIN));
        }
        Ok(())
    }
}

/// Active users holding `all` directly or through one of `roles`.
fn count_admins(users: &[UserRecord], roles: &[Role]) -> usize {
    users
        .iter()
        .filter(|u| u.status == Status::Active)
        .filter(|u| {
            u.to_user(roles)
                .effective_permissions()
                .iter()
                .any(|p| p == permissions::ALL)
        })
        .count()
}
