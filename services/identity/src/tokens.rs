//! OIH's token endpoints (API.md §11): introspection of a token, service-account tokens and their revocation.

use flowmate_auth::{Claims, Principal};
use flowmate_domain::{
    identity::{Revocation, Status, User},
    time, Id,
};

use crate::{
    core::{require, IdentityCore},
    error::{IdentityError, Result},
};

/// A token that never expires (`expiresIn: -1`) is valid for this long (100 years).
const NO_EXPIRY_SECS: i64 = 100 * 365 * 24 * 3600;

/// A token issued by [`IdentityCore::create_token`].
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The signed JWT.
    pub token: String,
    /// Its id (`jti`), what `DELETE /api/tokens/{id}` takes.
    pub id: String,
}

impl IdentityCore {
    /// The account a token stands for, as OIH answers introspection: roles expanded and `permissions` = the
    /// user's own ∪ its roles'. Unknown, malformed, expired, revoked tokens and disabled or deleted users are
    /// `404` (`iam.token.introspect`).
    pub async fn introspect(&self, caller: &Principal, token: &str) -> Result<User> {
        require(caller, &["iam.token.introspect"])?;
        let not_found = IdentityError::NotFound { kind: "token" };
        let Ok(principal) = self.verifier().verify(token) else {
            return Err(not_found);
        };
        let Some(record) = self.store.get_user(principal.user_id()).await? else {
            return Err(not_found);
        };
        if record.status != Status::Active {
            return Err(not_found);
        }
        let mut user = self.expand(&record).await?;
        user.permissions = user.effective_permissions();
        Ok(user)
    }

    /// Issues a token for `account_id` valid `expires_in` seconds (`-1`: no expiry) — a service account's token
    /// (`iam.token.create`). The account must exist and be active.
    pub async fn create_token(
        &self,
        caller: &Principal,
        account_id: &str,
        expires_in: i64,
    ) -> Result<IssuedToken> {
        require(caller, &["iam.token.create"])?;
        if expires_in == 0 || expires_in < -1 {
            return Err(IdentityError::invalid_field(
                "/expiresIn",
                "expiresIn must be a positive number of seconds or -1 (no expiry)",
            ));
        }
        let record = self
            .store
            .get_user(account_id)
            .await?
            .ok_or(IdentityError::UserNotFound)?;
        if record.status != Status::Active {
            return Err(IdentityError::EntityDisabled);
        }
        let issued = time::now();
        let now = issued.timestamp();
        let ttl = if expires_in == -1 {
            NO_EXPIRY_SECS
        } else {
            expires_in.min(NO_EXPIRY_SECS)
        };
        let user = self.expand(&record).await?;
        let claims = Claims {
            sub: record.id.clone(),
            tenant: record.tenant.clone(),
            username: record.username.clone(),
            permissions: user.effective_permissions(),
            roles: user.roles.iter().map(|r| r.name.clone()).collect(),
            jti: Id::new().into_string(),
            iat: now,
            iat_ms: Some(issued.timestamp_millis()),
            exp: now + ttl,
        };
        let token = self.sign(&claims)?;
        Ok(IssuedToken {
            token,
            id: claims.jti,
        })
    }

    /// Revokes a token by its id (`iam.token.delete`); it is rejected from then on. The token's expiry is not
    /// known here, so the revocation is kept as long as the longest token lives.
    pub async fn revoke_token(&self, caller: &Principal, id: &str) -> Result<()> {
        require(caller, &["iam.token.delete"])?;
        let revocation = Revocation::Token {
            jti: id.to_owned(),
            expires_at: time::now().timestamp() + NO_EXPIRY_SECS,
        };
        self.revoke(revocation, caller.tenant()).await
    }
}
