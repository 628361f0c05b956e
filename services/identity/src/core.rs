//! The identity core: login, logout, keys and revocations, and the caller checks every operation starts with.
//! User, tenant and role rules live in `users.rs` and `directory.rs`; first-start seeding in `bootstrap.rs`.

use std::sync::Arc;

use flowmate_auth::{Claims, Principal, PublicKey, Signer, Verifier};
use flowmate_domain::{event::types, identity::Revocation, time, Envelope, Id};

use crate::{
    error::{input_problem, IdentityError, Result},
    model::IdentityStore,
    passwords,
};

/// The event source name of this service.
pub const SOURCE: &str = "flowmate/identity";

/// Tunables of the identity core.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Token lifetime in seconds.
    pub token_ttl_secs: i64,
    /// Failed logins before the account is locked.
    pub max_failures: i64,
    /// Failure window and lock duration in seconds.
    pub lockout_secs: i64,
}

/// A successful login.
#[derive(Debug, Clone)]
pub struct LoginResult {
    /// The signed JWT.
    pub token: String,
    /// Its id (`jti`).
    pub id: String,
    /// When it expires (RFC 3339).
    pub expires_at: String,
}

/// Business rules of the identity context, over an [`IdentityStore`].
pub struct IdentityCore {
    pub(crate) store: Arc<dyn IdentityStore>,
    signer: Signer,
    verifier: Arc<Verifier>,
    pub(crate) policy: Policy,
}

impl IdentityCore {
    /// Loads (or creates, on first start) the signing key and the revocations in force.
    pub async fn new(store: Arc<dyn IdentityStore>, policy: Policy) -> Result<IdentityCore> {
        if store.signing_key().await?.is_none() {
            let kid = Id::new().into_string();
            let (_, der) = Signer::generate(&kid).map_err(|e| IdentityError::Internal(e.to_string()))?;
            store.ensure_signing_key(&kid, &der).await?;
        }
        let (kid, der) = store
            .signing_key()
            .await?
            .ok_or(IdentityError::Internal("no signing key".into()))?;
        let signer = Signer::from_pkcs8(&kid, &der).map_err(|e| IdentityError::Internal(e.to_string()))?;
        let verifier = Arc::new(Verifier::new());
        verifier.set_keys(&[signer.public_key()]);
        for r in store.list_revocations(time::now().timestamp()).await? {
            verifier.revocations().apply(&r);
        }
        Ok(IdentityCore {
            store,
            signer,
            verifier,
            policy,
        })
    }

    /// The verifier holding this service's key and revocations.
    pub fn verifier(&self) -> &Arc<Verifier> {
        &self.verifier
    }

    /// Verifies a caller's token.
    pub fn authenticate(&self, token: &str) -> Result<Principal> {
        Ok(self.verifier.verify(token)?)
    }

    /// The keys other services verify tokens with.
    pub fn public_keys(&self) -> Vec<PublicKey> {
        vec![self.signer.public_key()]
    }

    /// Revocations still in force (for verifiers starting up).
    pub async fn revocations(&self) -> Result<Vec<Revocation>> {
        self.store.list_revocations(time::now().timestamp()).await
    }

    /// Checks a username and password and issues a token.
    ///
    /// Failures are counted per account; after `max_failures` within `lockout_secs` the account is locked for
    /// `lockout_secs` (429). An unknown user costs as much time as a wrong password.
    pub async fn login(&self, username: &str, password: &str) -> Result<LoginResult> {
        let mut missing = Vec::new();
        if username.trim().is_empty() {
            missing.push(input_problem("/username", "username is required"));
        }
        if password.is_empty() {
            missing.push(input_problem("/password", "password is required"));
        }
        if !missing.is_empty() {
            return Err(IdentityError::InputInvalid(missing));
        }
        let username = flowmate_domain::identity::normalize_username(username);
        // The issue time is taken before the user is read: a token carrying rights read before a change is
        // always older than that change's cut-off.
        let issued = time::now();
        let user = self.store.user_by_username(&username).await?;
        let now = issued.timestamp();
        if let Some(u) = &user {
            if u.locked_until > now {
                return Err(IdentityError::TooManyAttempts {
                    retry_after: (u.locked_until - now) as u64,
                });
            }
        }
        let ok = passwords::verify(
            password.to_owned(),
            user.as_ref().map(|u| u.password_hash.clone()),
        )
        .await?;
        let Some(user) = user else {
            return Err(IdentityError::UnknownLogin);
        };
        if !ok {
            let window_start = now - self.policy.lockout_secs;
            let lock_until = now + self.policy.lockout_secs;
            let max = self.policy.max_failures;
            if self
                .store
                .record_login_failure(&user.id, now, window_start, max, lock_until)
                .await?
            {
                tracing::warn!(user_id = %user.id, "account locked after repeated failed logins");
            }
            return Err(IdentityError::PasswordIncorrect);
        }
        if user.status != flowmate_domain::identity::Status::Active {
            return Err(IdentityError::EntityDisabled);
        }
        if user.failed_logins > 0 || user.locked_until > 0 {
            self.store.clear_login_failures(&user.id).await?;
        }
        let roles = self.store.roles_by_ids(&user.roles).await?;
        let claims = Claims {
            sub: user.id.clone(),
            tenant: user.tenant.clone(),
            username: user.username.clone(),
            permissions: user.to_user(&roles).effective_permissions(),
            roles: roles.iter().map(|r| r.name.clone()).collect(),
            jti: Id::new().into_string(),
            iat: now,
            iat_ms: Some(issued.timestamp_millis()),
            exp: now + self.policy.token_ttl_secs,
        };
        let token = self.sign(&claims)?;
        let expires_at = chrono::DateTime::from_timestamp(claims.exp, 0)
            .map(time::format)
            .unwrap_or_default();
        Ok(LoginResult {
            token,
            id: claims.jti,
            expires_at,
        })
    }

    /// Signs claims with this service's key.
    pub(crate) fn sign(&self, claims: &Claims) -> Result<String> {
        self.signer
            .sign(claims)
            .map_err(|e| IdentityError::Internal(e.to_string()))
    }

    /// Revokes the caller's token.
    pub async fn logout(&self, caller: &Principal) -> Result<()> {
        let revocation = Revocation::Token {
            jti: caller.claims.jti.clone(),
            expires_at: caller.claims.exp,
        };
        self.revoke(revocation, caller.tenant()).await
    }

    /// Records a revocation, applies it here at once, and announces it.
    pub(crate) async fn revoke(&self, revocation: Revocation, tenant: &str) -> Result<()> {
        let event = revocation_event(&revocation, tenant)?;
        self.store.insert_revocation(&revocation, &[event]).await?;
        self.verifier.revocations().apply(&revocation);
        Ok(())
    }
}

/// The `iam.token.revoked` event for a revocation.
pub(crate) fn revocation_event(revocation: &Revocation, tenant: &str) -> Result<Envelope> {
    let data = serde_json::to_value(revocation).map_err(|e| IdentityError::Internal(e.to_string()))?;
    Ok(Envelope::new(types::TOKEN_REVOKED, SOURCE, data).with_tenant(tenant))
}

/// Fails with `MISSING_PERMISSION` unless the caller holds one of `permissions`.
pub(crate) fn require(caller: &Principal, permissions: &[&str]) -> Result<()> {
    if permissions.iter().any(|p| caller.can(p)) {
        Ok(())
    } else {
        Err(IdentityError::MissingPermission)
    }
}
