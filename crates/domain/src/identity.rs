//! Identity entities (tenants, users, roles) and their validation rules.

use serde::{Deserialize, Serialize};

use crate::{error::Problems, permissions, Fault};

/// Account status; only `ACTIVE` accounts may log in or use their tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// May log in.
    Active,
    /// Created but not yet confirmed.
    Pending,
    /// Locked out; existing tokens stop working.
    Disabled,
}

impl Status {
    /// The wire and storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "ACTIVE",
            Status::Pending => "PENDING",
            Status::Disabled => "DISABLED",
        }
    }

    /// Parses the wire spelling (exact, upper case).
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "ACTIVE" => Some(Status::Active),
            "PENDING" => Some(Status::Pending),
            "DISABLED" => Some(Status::Disabled),
            _ => None,
        }
    }
}

/// A tenant: the unit of isolation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    /// Tenant id.
    pub id: String,
    /// Unique name.
    pub name: String,
    /// `ACTIVE`, `PENDING` or `DISABLED`.
    pub status: Status,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// Last change (RFC 3339).
    pub updated_at: String,
}

/// A named set of permissions; global roles are visible to every tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    /// Role id.
    pub id: String,
    /// Name, unique within its tenant (or among global roles).
    pub name: String,
    /// Granted permissions (validated against the vocabulary).
    pub permissions: Vec<String>,
    /// OIH's free-form scope string.
    pub scope: String,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
    /// Visible to every tenant.
    pub is_global: bool,
    /// Free text.
    pub description: String,
    /// Owning tenant; `None` for global roles.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tenant: Option<String>,
}

/// A user account, as the API shows it (never any password material).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// User id.
    pub id: String,
    /// Lower-cased e-mail, unique.
    pub username: String,
    /// First name.
    pub firstname: String,
    /// Last name.
    pub lastname: String,
    /// Account status.
    pub status: Status,
    /// Tenant id.
    pub tenant: String,
    /// Roles, expanded.
    pub roles: Vec<Role>,
    /// Permissions granted directly.
    pub permissions: Vec<String>,
    /// Whether the e-mail was confirmed.
    pub confirmed: bool,
    /// Avatar URL.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub img: Option<String>,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

impl User {
    /// Effective permissions: the user's own plus every role's, without duplicates, in a stable order.
    pub fn effective_permissions(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for p in self
            .permissions
            .iter()
            .chain(self.roles.iter().flat_map(|r| r.permissions.iter()))
        {
            if !out.contains(p) {
                out.push(p.clone());
            }
        }
        out
    }
}

/// What revoking tokens means to verifiers: one token by id, or every token of a user issued before a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Revocation {
    /// One token (logout). Verifiers may forget it after `expires_at` (unix seconds).
    #[serde(rename_all = "camelCase")]
    Token {
        /// The token's `jti`.
        jti: String,
        /// The token's `exp`.
        expires_at: i64,
    },
    /// Every token of the user issued before `not_before` (unix milliseconds): disabled, deleted or changed
    /// users. Values below [`SECONDS_LIMIT`] were written in unix seconds by older releases and are read as such.
    #[serde(rename_all = "camelCase")]
    User {
        /// The user id.
        user_id: String,
        /// Tokens issued strictly before this time (unix milliseconds) are invalid.
        not_before: i64,
    },
}

/// A user cut-off below this was written in unix seconds (it would be 1973 in milliseconds; year 5138 in seconds).
pub const SECONDS_LIMIT: i64 = 100_000_000_000;

impl Revocation {
    /// Revokes every token of `user_id` issued before `now_ms` (unix milliseconds). A token issued at `now_ms` or
    /// later is valid, so a login right after the change works (tokens carry their issue time in milliseconds).
    pub fn cut_off_ms(user_id: &str, now_ms: i64) -> Revocation {
        Revocation::User {
            user_id: user_id.to_owned(),
            not_before: now_ms,
        }
    }

    /// Revokes every token of `user_id` issued before now.
    pub fn cut_off_now(user_id: &str) -> Revocation {
        Self::cut_off_ms(user_id, crate::time::now().timestamp_millis())
    }

    /// A user cut-off in unix milliseconds (`None` for a token revocation).
    pub fn not_before_ms(&self) -> Option<i64> {
        match self {
            Revocation::Token { .. } => None,
            Revocation::User { not_before, .. } if *not_before < SECONDS_LIMIT => {
                Some(not_before.saturating_mul(1000))
            }
            Revocation::User { not_before, .. } => Some(*not_before),
        }
    }
}

/// Normalises a username (trim, lower-case).
pub fn normalize_username(s: &str) -> String {
    s.trim().to_lowercase()
}

/// A deliberately simple e-mail check: one `@`, a non-empty local part, a dotted domain, no spaces.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(char::is_whitespace)
        && s.len() <= 254
}

/// The minimum password length.
pub const MIN_PASSWORD_LEN: usize = 8;

/// Validates the fields of a new or changed user; `None` fields are not being set.
pub struct UserFields<'a> {
    /// New username, if set.
    pub username: Option<&'a str>,
    /// New first name, if set.
    pub firstname: Option<&'a str>,
    /// New last name, if set.
    pub lastname: Option<&'a str>,
    /// New password, if set.
    pub password: Option<&'a str>,
    /// New status, if set (unparsed).
    pub status: Option<&'a str>,
}

impl UserFields<'_> {
    /// Checks every set field and reports every problem at once.
    pub fn validate(&self) -> Result<(), Fault> {
        let mut p = Problems::default();
        if let Some(u) = self.username {
            if !is_email(&normalize_username(u)) {
                p.add("/username", "username must be an e-mail address");
            }
        }
        if let Some(f) = self.firstname {
            if f.trim().is_empty() {
                p.add("/firstname", "firstname must not be empty");
            }
        }
        if let Some(l) = self.lastname {
            if l.trim().is_empty() {
                p.add("/lastname", "lastname must not be empty");
            }
        }
        if let Some(pw) = self.password {
            if pw.chars().count() < MIN_PASSWORD_LEN {
                p.add(
                    "/password",
                    format!(
                        "password must have at least {MIN_PASSWORD_LEN} characters (a deliberate minimum: FlowMate \
                         accepts shorter passwords from no client, OIH's included)"
                    ),
                );
            }
        }
        if let Some(s) = self.status {
            if Status::parse(s).is_none() {
                p.add("/status", "status must be one of ACTIVE, PENDING, DISABLED");
            }
        }
        p.finish()
    }
}

/// Validates role permissions against the vocabulary, listing each unknown one.
pub fn validate_role_permissions(perms: &[String]) -> Result<(), Fault> {
    let mut p = Problems::default();
    for (i, perm) in perms.iter().enumerate() {
        if !permissions::is_known(perm) {
            p.add(
                &format!("/permissions/{i}"),
                format!("unknown permission: {perm}"),
            );
        }
    }
    p.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_loosely_but_sanely() {
        assert!(is_email("jane@example.com"));
        for bad in [
            "jane",
            "@example.com",
            "jane@",
            "jane@example",
            "ja ne@example.com",
            "a@b@c.d",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn every_field_problem_is_reported() {
        let f = UserFields {
            username: Some("nope"),
            firstname: Some(" "),
            lastname: Some(""),
            password: Some("short"),
            status: Some("active"),
        };
        let err = f.validate().unwrap_err();
        let fields: Vec<_> = err.problems.iter().filter_map(|p| p.field.clone()).collect();
        assert_eq!(
            fields,
            ["/username", "/firstname", "/lastname", "/password", "/status"]
        );
    }
}
