//! Revoked tokens and users, kept in memory by every verifier and fed by identity (gRPC on start, events after).

use std::{collections::HashMap, sync::RwLock};

use flowmate_domain::identity::Revocation;

use crate::Claims;

/// Revoked token ids (until they expire) and per-user cut-off times.
#[derive(Debug, Default)]
pub struct RevocationList {
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    tokens: HashMap<String, i64>,
    users: HashMap<String, i64>,
}

impl RevocationList {
    /// Records a revocation. Expired token entries are pruned as new ones arrive.
    pub fn apply(&self, revocation: &Revocation) {
        let Ok(mut inner) = self.inner.write() else { return };
        match revocation {
            Revocation::Token { jti, expires_at } => {
                let now = chrono::Utc::now().timestamp();
                inner.tokens.retain(|_, exp| *exp + 60 > now);
                inner.tokens.insert(jti.clone(), *expires_at);
            }
            Revocation::User { user_id, not_before } => {
                let entry = inner.users.entry(user_id.clone()).or_insert(*not_before);
                *entry = (*entry).max(*not_before);
            }
        }
    }

    /// Whether a token with these claims was revoked: its id, or its user after it was issued.
    pub fn is_revoked(&self, claims: &Claims) -> bool {
        let Ok(inner) = self.inner.read() else { return true };
        inner.tokens.contains_key(&claims.jti)
            || inner
                .users
                .get(&claims.sub)
                .is_some_and(|not_before| claims.iat < *not_before)
    }
}
