//! Identity resources: login, users, tenants, roles.

pub use crate::quota::{TenantQuota, TenantUsage};
use flowmate_domain::identity as dom;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /login` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// The account's e-mail.
    #[serde(default)]
    pub username: Option<String>,
    /// The password.
    #[serde(default)]
    pub password: Option<String>,
}

/// `POST /login` answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoginResponse {
    /// The bearer token (JWT).
    pub token: String,
    /// The token's id.
    pub id: String,
    /// When it expires (RFC 3339).
    pub expires_at: String,
}

/// A role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    /// Role id.
    pub id: String,
    /// The same id under OIH's name (OIH clients read `_id`).
    #[serde(rename = "_id", default)]
    pub oid: String,
    /// Name.
    pub name: String,
    /// Granted permissions.
    pub permissions: Vec<String>,
    /// OIH scope string.
    pub scope: String,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Last change (RFC 3339).
    pub updated_at: String,
    /// Visible to every tenant.
    pub is_global: bool,
    /// Free text.
    pub description: String,
    /// Owning tenant (absent for global roles).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tenant: Option<String>,
}

impl From<dom::Role> for Role {
    fn from(r: dom::Role) -> Self {
        Role {
            oid: r.id.clone(),
            id: r.id,
            name: r.name,
            permissions: r.permissions,
            scope: r.scope,
            created_at: r.created_at,
            updated_at: r.updated_at,
            is_global: r.is_global,
            description: r.description,
            tenant: r.tenant,
        }
    }
}

/// A user (never any password material).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// User id.
    pub id: String,
    /// The same id under OIH's name (OIH clients read `_id`).
    #[serde(rename = "_id", default)]
    pub oid: String,
    /// Lower-cased e-mail.
    pub username: String,
    /// First name.
    pub firstname: String,
    /// Last name.
    pub lastname: String,
    /// `ACTIVE`, `PENDING` or `DISABLED`.
    pub status: String,
    /// Tenant id.
    pub tenant: String,
    /// Roles, expanded.
    pub roles: Vec<Role>,
    /// Directly granted permissions.
    pub permissions: Vec<String>,
    /// Confirmed e-mail.
    pub confirmed: bool,
    /// Avatar URL.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub img: Option<String>,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Last change (RFC 3339).
    pub updated_at: String,
}

impl From<dom::User> for User {
    fn from(u: dom::User) -> Self {
        User {
            oid: u.id.clone(),
            id: u.id,
            username: u.username,
            firstname: u.firstname,
            lastname: u.lastname,
            status: u.status.as_str().to_owned(),
            tenant: u.tenant,
            roles: u.roles.into_iter().map(Into::into).collect(),
            permissions: u.permissions,
            confirmed: u.confirmed,
            img: u.img,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// `POST /api/users` body. `username`, `password` (≥ 8 characters), `firstname` and `lastname` are required.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CreateUser {
    /// E-mail, unique case-insensitively.
    pub username: Option<String>,
    /// Password (stored as Argon2id).
    pub password: Option<String>,
    /// First name.
    pub firstname: Option<String>,
    /// Last name.
    pub lastname: Option<String>,
    /// `ACTIVE` (default), `PENDING` or `DISABLED`.
    pub status: Option<String>,
    /// Tenant id (forced to the caller's unless it holds `iam.account.create`).
    pub tenant: Option<String>,
    /// Role ids, or `{"id"}` objects (OIH's web UI sends those).
    #[serde(default, deserialize_with = "role_ids")]
    #[schema(value_type = Vec<RoleRef>)]
    pub roles: Vec<String>,
    /// Permissions.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Confirmed (default true).
    pub confirmed: Option<bool>,
    /// Avatar URL.
    pub img: Option<String>,
}

/// `PATCH /api/users/{id}` body; absent fields stay unchanged.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateUser {
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
    /// New role ids, or `{"id"}` objects.
    #[serde(default, deserialize_with = "some_role_ids")]
    #[schema(value_type = Option<Vec<RoleRef>>)]
    pub roles: Option<Vec<String>>,
    /// New permissions.
    pub permissions: Option<Vec<String>>,
    /// New confirmed flag.
    pub confirmed: Option<bool>,
    /// New avatar URL.
    pub img: Option<String>,
}

/// A tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    /// Tenant id.
    pub id: String,
    /// The same id under OIH's name (OIH clients read `_id`).
    #[serde(rename = "_id", default)]
    pub oid: String,
    /// Unique name.
    pub name: String,
    /// `ACTIVE`, `PENDING` or `DISABLED`.
    pub status: String,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Last change (RFC 3339).
    pub updated_at: String,
    /// Its limits (API.md §12); on `GET|PATCH /api/tenants/{id}`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub quota: Option<TenantQuota>,
    /// What it uses now; on `GET|PATCH /api/tenants/{id}`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub usage: Option<TenantUsage>,
}

/// `Some(None)` for an explicit `null`, `Some(Some(v))` for a value (absent: `None`, by `default`).
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

impl From<dom::Tenant> for Tenant {
    fn from(t: dom::Tenant) -> Self {
        Tenant {
            oid: t.id.clone(),
            id: t.id,
            name: t.name,
            status: t.status.as_str().to_owned(),
            created_at: t.created_at,
            updated_at: t.updated_at,
            quota: None,
            usage: None,
        }
    }
}

/// `POST /api/tenants` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CreateTenant {
    /// Unique name.
    pub name: Option<String>,
    /// `ACTIVE` (default), `PENDING` or `DISABLED`.
    pub status: Option<String>,
}

/// `POST /api/roles` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateRole {
    /// Name, unique in its tenant (or among global roles).
    pub name: Option<String>,
    /// Permissions from the vocabulary.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Free text.
    pub description: Option<String>,
    /// Global role (only `all` may create one).
    pub is_global: Option<bool>,
}

/// A role given by id: the id itself or a role object carrying it (`{"id"}`, or OIH's `{"_id"}`; a whole role
/// object as OIH's web UI sends it back has both).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum RoleRef {
    /// The role id.
    Id(String),
    /// A role object; only its id is read.
    Object {
        /// The role id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// The role id under OIH's name.
        #[serde(rename = "_id", default, skip_serializing_if = "Option::is_none")]
        oid: Option<String>,
    },
}

impl RoleRef {
    fn into_id<E: serde::de::Error>(self) -> Result<String, E> {
        match self {
            RoleRef::Id(id) => Ok(id),
            RoleRef::Object { id, oid } => id.or(oid).ok_or_else(|| E::custom("a role object needs an id")),
        }
    }
}

/// An integer, also written with a zero fraction (`1.0`); `null` is none.
pub(crate) fn integral<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    if let Some(i) = n.as_i64() {
        return Ok(Some(i));
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
        _ => Err(serde::de::Error::custom(format!(
            "expected an integer, found {n}"
        ))),
    }
}

fn role_ids<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let refs = Vec::<RoleRef>::deserialize(d)?;
    refs.into_iter().map(RoleRef::into_id).collect()
}

fn some_role_ids<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    let refs = Option::<Vec<RoleRef>>::deserialize(d)?;
    refs.map(|r| r.into_iter().map(RoleRef::into_id).collect())
        .transpose()
}

/// A user as `GET /api/users` lists it: like [`User`], with `roles` as role ids (as OIH lists them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListedUser {
    /// User id.
    pub id: String,
    /// The same id under OIH's name.
    #[serde(rename = "_id", default)]
    pub oid: String,
    /// Lower-cased e-mail.
    pub username: String,
    /// First name.
    pub firstname: String,
    /// Last name.
    pub lastname: String,
    /// `ACTIVE`, `PENDING` or `DISABLED`.
    pub status: String,
    /// Tenant id.
    pub tenant: String,
    /// Role ids.
    pub roles: Vec<String>,
    /// Directly granted permissions.
    pub permissions: Vec<String>,
    /// Confirmed e-mail.
    pub confirmed: bool,
    /// Avatar URL.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub img: Option<String>,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Last change (RFC 3339).
    pub updated_at: String,
}

impl From<User> for ListedUser {
    fn from(u: User) -> Self {
        ListedUser {
            oid: u.id.clone(),
            id: u.id,
            username: u.username,
            firstname: u.firstname,
            lastname: u.lastname,
            status: u.status,
            tenant: u.tenant,
            roles: u.roles.into_iter().map(|r| r.id).collect(),
            permissions: u.permissions,
            confirmed: u.confirmed,
            img: u.img,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// `PATCH|PUT /api/tenants/{id}` body; absent fields stay unchanged.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateTenant {
    /// New unique name.
    pub name: Option<String>,
    /// `ACTIVE`, `PENDING` or `DISABLED`.
    pub status: Option<String>,
    /// The tenant's quota, replacing the whole of it (a limit left out is no limit; `null` removes every limit).
    /// Global admins only.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<TenantQuota>, nullable)]
    pub quota: Option<Option<TenantQuota>>,
}

/// `PATCH /api/roles/{id}` body; absent fields stay unchanged.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct UpdateRole {
    /// New name.
    pub name: Option<String>,
    /// New permissions from the vocabulary (the holders' tokens are revoked when they change).
    pub permissions: Option<Vec<String>>,
    /// New description.
    pub description: Option<String>,
}

/// `POST /api/tokens/introspect` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct IntrospectRequest {
    /// The token to look at.
    pub token: Option<String>,
}

/// `POST /api/tokens` body: a token for a (service) account.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateToken {
    /// The account the token stands for.
    pub account_id: Option<String>,
    /// Lifetime in seconds; `-1` = no expiry. Default: 3 hours. An integral number (`3600.0` too, as JSON Schema
    /// counts it an integer).
    #[serde(default, deserialize_with = "integral")]
    pub expires_in: Option<i64>,
}

/// `POST /api/tokens` answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    /// The bearer token (JWT).
    pub token: String,
    /// The token's id (for `DELETE /api/tokens/{id}`).
    pub id: String,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn token_lifetimes_are_integers_also_with_a_zero_fraction() {
        let t: CreateToken = serde_json::from_str(r#"{"accountId":"a","expiresIn":3600.0}"#).unwrap();
        assert_eq!(t.expires_in, Some(3600));
        assert!(serde_json::from_str::<CreateToken>(r#"{"expiresIn":1.5}"#).is_err());
        let none: CreateToken = serde_json::from_str(r#"{"expiresIn":null}"#).unwrap();
        assert_eq!(none.expires_in, None);
    }
}
