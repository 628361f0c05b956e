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
    /// User id → cut-off in unix milliseconds.
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
            Revocation::User { user_id, .. } => {
                let not_before = revocation.not_before_ms().unwrap_or_default();
                let entry = inner.users.entry(user_id.clone()).or_insert(not_before);
                *entry = (*entry).max(not_before);
            }
        }
    }

    /// Whether a token with these claims was revoked: its id, or its user after it was issued (compared in
    /// milliseconds; a token issued at the cut-off itself or later is valid).
    pub fn is_revoked(&self, claims: &Claims) -> bool {
        let Ok(inner) = self.inner.read() else { return true };
        inner.tokens.contains_key(&claims.jti)
            || inner
                .users
                .get(&claims.sub)
                .is_some_and(|not_before| claims.issued_at_ms() < *not_before)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(iat_ms: Option<i64>, iat: i64) -> Claims {
        Claims {
            sub: "u1".into(),
            tenant: "t1".into(),
            username: "a@b.c".into(),
            permissions: vec![],
            roles: vec![],
            jti: "j1".into(),
            iat,
            iat_ms,
            exp: iat + 60,
        }
    }

    #[test]
    fn a_user_cut_off_compares_in_milliseconds() {
        let list = RevocationList::default();
        list.apply(&Revocation::cut_off_ms("u1", 1_700_000_000_500));
        assert!(list.is_revoked(&claims(Some(1_700_000_000_499), 1_700_000_000)));
        assert!(
            !list.is_revoked(&claims(Some(1_700_000_000_500), 1_700_000_000)),
            "issued at the cut-off"
        );
        assert!(!list.is_revoked(&claims(Some(1_700_000_000_501), 1_700_000_000)));
        // A token without the millisecond claim counts as issued at the start of its second.
        assert!(list.is_revoked(&claims(None, 1_700_000_000)));
        assert!(!list.is_revoked(&claims(None, 1_700_000_001)));
    }

    #[test]
    fn a_cut_off_stored_in_seconds_by_an_older_release_still_applies() {
        let list = RevocationList::default();
        list.apply(&Revocation::User {
            user_id: "u1".into(),
            not_before: 1_700_000_001,
        });
        assert!(list.is_revoked(&claims(Some(1_700_000_000_999), 1_700_000_000)));
        assert!(!list.is_revoked(&claims(Some(1_700_000_001_000), 1_700_000_001)));
    }
}
