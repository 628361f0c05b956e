//! The token claims and the principal a request acts as.

use flowmate_domain::permissions;
use serde::{Deserialize, Serialize};

/// JWT claims FlowMate issues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: String,
    /// Tenant id.
    pub tenant: String,
    /// Username (e-mail).
    pub username: String,
    /// Effective permissions (the user's own plus its roles').
    pub permissions: Vec<String>,
    /// Role names.
    pub roles: Vec<String>,
    /// Token id (revocation key).
    pub jti: String,
    /// Issued at (unix seconds).
    pub iat: i64,
    /// Issued at in unix milliseconds (FlowMate's own claim), so a change to a user that revokes its earlier
    /// tokens does not also revoke a token issued a few milliseconds after it. Tokens without it count as
    /// issued at the start of their `iat` second.
    #[serde(default, rename = "iatMs", skip_serializing_if = "Option::is_none")]
    pub iat_ms: Option<i64>,
    /// Expires at (unix seconds).
    pub exp: i64,
}

impl Claims {
    /// When the token was issued, in unix milliseconds.
    pub fn issued_at_ms(&self) -> i64 {
        self.iat_ms.unwrap_or(self.iat.saturating_mul(1000))
    }
}

/// Who is calling, as proven by a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The verified claims.
    pub claims: Claims,
    /// The raw token, forwarded to other services in gRPC metadata.
    pub token: String,
}

impl Principal {
    /// User id.
    pub fn user_id(&self) -> &str {
        &self.claims.sub
    }

    /// Tenant id.
    pub fn tenant(&self) -> &str {
        &self.claims.tenant
    }

    /// Global admin (`all`).
    pub fn is_admin(&self) -> bool {
        self.claims.permissions.iter().any(|p| p == permissions::ALL)
    }

    /// Tenant admin (`tenant.all`) or global admin.
    pub fn is_tenant_admin(&self) -> bool {
        self.is_admin()
            || self
                .claims
                .permissions
                .iter()
                .any(|p| p == permissions::TENANT_ALL)
    }

    /// Whether the principal passes a check for `permission`.
    pub fn can(&self, permission: &str) -> bool {
        permissions::allows(&self.claims.permissions, permission)
    }
}
