//! Row decoding: database rows into domain types.

use flowmate_domain::identity::{Revocation, Role, Status, Tenant};
use flowmate_store::{AnyRow, Row, StoreError};

use crate::model::UserRecord;

fn text(row: &AnyRow, col: &str) -> Result<String, StoreError> {
    Ok(row.try_get::<String, _>(col)?)
}

fn json_list(row: &AnyRow, col: &str) -> Result<Vec<String>, StoreError> {
    Ok(serde_json::from_str(&text(row, col)?)?)
}

fn status(row: &AnyRow) -> Result<Status, StoreError> {
    let s = text(row, "status")?;
    Status::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("status {s}")))
}

/// Columns of `tenants` in the order [`tenant`] reads them.
pub const TENANT_COLUMNS: &str = "id, name, status, created_at, updated_at";

/// Decodes a tenant row.
pub fn tenant(row: &AnyRow) -> Result<Tenant, StoreError> {
    Ok(Tenant {
        id: text(row, "id")?,
        name: text(row, "name")?,
        status: status(row)?,
        created_at: text(row, "created_at")?,
        updated_at: text(row, "updated_at")?,
    })
}

/// Columns of `roles`.
pub const ROLE_COLUMNS: &str =
    "id, name, tenant, permissions, description, scope, is_global, created_at, updated_at";

/// Decodes a role row.
pub fn role(row: &AnyRow) -> Result<Role, StoreError> {
    Ok(Role {
        id: text(row, "id")?,
        name: text(row, "name")?,
        permissions: json_list(row, "permissions")?,
        scope: text(row, "scope")?,
        created_at: text(row, "created_at")?,
        updated_at: text(row, "updated_at")?,
        is_global: row.try_get::<i64, _>("is_global")? != 0,
        description: text(row, "description")?,
        tenant: row.try_get::<Option<String>, _>("tenant")?,
    })
}

/// Columns of `users`.
pub const USER_COLUMNS: &str = "id, username, firstname, lastname, status, tenant, roles, permissions, confirmed, img, \
                                password_hash, failed_logins, first_failed_at, locked_until, created_at, updated_at, revision";

/// Decodes a user row.
pub fn user(row: &AnyRow) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        id: text(row, "id")?,
        username: text(row, "username")?,
        firstname: text(row, "firstname")?,
        lastname: text(row, "lastname")?,
        status: status(row)?,
        tenant: text(row, "tenant")?,
        roles: json_list(row, "roles")?,
        permissions: json_list(row, "permissions")?,
        confirmed: row.try_get::<i64, _>("confirmed")? != 0,
        img: row.try_get::<Option<String>, _>("img")?,
        password_hash: text(row, "password_hash")?,
        failed_logins: row.try_get("failed_logins")?,
        first_failed_at: row.try_get("first_failed_at")?,
        locked_until: row.try_get("locked_until")?,
        revision: row.try_get("revision")?,
        created_at: text(row, "created_at")?,
        updated_at: text(row, "updated_at")?,
    })
}

/// Decodes a revocation row.
pub fn revocation(row: &AnyRow) -> Result<Revocation, StoreError> {
    let subject = text(row, "subject")?;
    let at: i64 = row.try_get("at")?;
    match text(row, "kind")?.as_str() {
        "token" => Ok(Revocation::Token {
            jti: subject,
            expires_at: at,
        }),
        "user" => Ok(Revocation::User {
            user_id: subject,
            not_before: at,
        }),
        other => Err(StoreError::Corrupt(format!("revocation kind {other}"))),
    }
}

/// The key, kind, subject and time a revocation is stored under.
pub fn revocation_key(r: &Revocation) -> (String, &'static str, &str, i64) {
    match r {
        Revocation::Token { jti, expires_at } => (format!("token:{jti}"), "token", jti, *expires_at),
        Revocation::User { user_id, not_before } => (format!("user:{user_id}"), "user", user_id, *not_before),
    }
}
