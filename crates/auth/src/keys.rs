//! EdDSA (Ed25519) key handling: identity signs, every service verifies locally with the published public key.

use std::{collections::HashMap, sync::RwLock};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ring::{
    rand::SystemRandom,
    signature::{Ed25519KeyPair, KeyPair},
};

use crate::{AuthError, Claims, Principal, RevocationList};

/// The JWT algorithm FlowMate signs with.
pub const ALGORITHM: &str = "EdDSA";

/// A public verification key, as identity publishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// Key id (JWT `kid`).
    pub kid: String,
    /// Always `EdDSA`.
    pub algorithm: String,
    /// The raw 32-byte Ed25519 public key.
    pub key: Vec<u8>,
}

/// Signs tokens with an Ed25519 private key.
pub struct Signer {
    kid: String,
    encoding: EncodingKey,
    public: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// A key could not be generated or loaded.
#[derive(Debug, thiserror::Error)]
#[error("signing key: {0}")]
pub struct KeyError(String);

impl Signer {
    /// Generates a new key; returns the signer and its PKCS#8 document to persist.
    pub fn generate(kid: &str) -> Result<(Signer, Vec<u8>), KeyError> {
        let pkcs8 =
            Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|e| KeyError(e.to_string()))?;
        let der = pkcs8.as_ref().to_vec();
        Ok((Signer::from_pkcs8(kid, &der)?, der))
    }

    /// Loads a persisted PKCS#8 Ed25519 key.
    pub fn from_pkcs8(kid: &str, der: &[u8]) -> Result<Signer, KeyError> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der).map_err(|e| KeyError(e.to_string()))?;
        Ok(Signer {
            kid: kid.to_owned(),
            encoding: EncodingKey::from_ed_der(der),
            public: pair.public_key().as_ref().to_vec(),
        })
    }

    /// Signs `claims` into a compact JWT.
    pub fn sign(&self, claims: &Claims) -> Result<String, KeyError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|e| KeyError(e.to_string()))
    }

    /// The key to publish to verifiers.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            kid: self.kid.clone(),
            algorithm: ALGORITHM.into(),
            key: self.public.clone(),
        }
    }
}

/// Verifies tokens locally: signature with a known key, expiry, and the revocation list.
#[derive(Default)]
pub struct Verifier {
    keys: RwLock<HashMap<String, DecodingKey>>,
    revocations: RevocationList,
    /// Tokens whose signature was verified, with their claims: a client sends the same token many times, and an
    /// Ed25519 verification costs far more than the rest of a cheap request. Expiry and revocation are still
    /// checked on every use; a key change empties it.
    verified: RwLock<HashMap<String, Claims>>,
}

/// The most verified tokens remembered (then it starts over).
const VERIFIED_CACHE: usize = 4096;
/// Clock leeway on `exp`, seconds.
const LEEWAY: i64 = 5;

impl Verifier {
    /// A verifier that knows no key yet (every token is invalid until [`Verifier::set_keys`]).
    pub fn new() -> Self {
        Verifier::default()
    }

    /// Replaces the trusted public keys.
    pub fn set_keys(&self, keys: &[PublicKey]) {
        if let Ok(mut verified) = self.verified.write() {
            verified.clear();
        }
        let map = keys
            .iter()
            .filter(|k| k.algorithm == ALGORITHM)
            .map(|k| (k.kid.clone(), DecodingKey::from_ed_der(&k.key)))
            .collect();
        if let Ok(mut guard) = self.keys.write() {
            *guard = map;
        }
    }

    /// Whether any key is known (readiness).
    pub fn has_keys(&self) -> bool {
        self.keys.read().map(|k| !k.is_empty()).unwrap_or(false)
    }

    /// The revocation list this verifier consults.
    pub fn revocations(&self) -> &RevocationList {
        &self.revocations
    }

    /// Verifies a compact JWT into a principal.
    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let cached = self.verified.read().ok().and_then(|v| v.get(token).cloned());
        if let Some(claims) = cached {
            if claims.exp + LEEWAY < chrono::Utc::now().timestamp() || self.revocations.is_revoked(&claims) {
                return Err(AuthError::Invalid);
            }
            return Ok(Principal {
                claims,
                token: token.to_owned(),
            });
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Invalid)?;
        if header.alg != Algorithm::EdDSA {
            return Err(AuthError::Invalid);
        }
        let kid = header.kid.ok_or(AuthError::Invalid)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.leeway = LEEWAY as u64;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        let claims = {
            let keys = self.keys.read().map_err(|_| AuthError::Invalid)?;
            let key = keys.get(&kid).ok_or(AuthError::Invalid)?;
            jsonwebtoken::decode::<Claims>(token, key, &validation)
                .map_err(|_| AuthError::Invalid)?
                .claims
        };
        if self.revocations.is_revoked(&claims) {
            return Err(AuthError::Invalid);
        }
        if let Ok(mut verified) = self.verified.write() {
            if verified.len() >= VERIFIED_CACHE {
                verified.clear();
            }
            verified.insert(token.to_owned(), claims.clone());
        }
        Ok(Principal {
            claims,
            token: token.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp_in: i64) -> Claims {
        let now = chrono::Utc::now().timestamp();
        Claims {
            sub: "u1".into(),
            tenant: "t1".into(),
            username: "a@b.c".into(),
            permissions: vec!["flows.read".into()],
            roles: vec![],
            jti: "j1".into(),
            iat: now,
            iat_ms: None,
            exp: now + exp_in,
        }
    }

    #[test]
    fn a_signed_token_verifies_with_the_published_key() {
        let (signer, der) = Signer::generate("k1").unwrap();
        let reloaded = Signer::from_pkcs8("k1", &der).unwrap();
        let verifier = Verifier::new();
        verifier.set_keys(&[reloaded.public_key()]);
        let expected = claims(60);
        let token = signer.sign(&expected).unwrap();
        assert_eq!(verifier.verify(&token).unwrap().claims, expected);
    }

    #[test]
    fn expired_forged_and_unknown_key_tokens_are_invalid() {
        let (signer, _) = Signer::generate("k1").unwrap();
        let (other, _) = Signer::generate("k1").unwrap();
        let verifier = Verifier::new();
        verifier.set_keys(&[signer.public_key()]);
        assert_eq!(
            verifier.verify(&signer.sign(&claims(-60)).unwrap()),
            Err(AuthError::Invalid)
        );
        assert_eq!(
            verifier.verify(&other.sign(&claims(60)).unwrap()),
            Err(AuthError::Invalid)
        );
        assert_eq!(verifier.verify("not.a.jwt"), Err(AuthError::Invalid));
        let mut tampered = signer.sign(&claims(60)).unwrap();
        tampered.push('x');
        assert_eq!(verifier.verify(&tampered), Err(AuthError::Invalid));
    }

    #[test]
    fn a_remembered_token_is_still_checked_for_revocation_and_a_key_change_forgets_it() {
        let (signer, _) = Signer::generate("k1").unwrap();
        let verifier = Verifier::new();
        verifier.set_keys(&[signer.public_key()]);
        let token = signer.sign(&claims(60)).unwrap();
        assert!(verifier.verify(&token).is_ok());
        assert!(
            verifier.verify(&token).is_ok(),
            "the second use comes from the cache"
        );
        verifier
            .revocations()
            .apply(&flowmate_domain::identity::Revocation::Token {
                jti: "j1".into(),
                expires_at: chrono::Utc::now().timestamp() + 60,
            });
        assert_eq!(
            verifier.verify(&token),
            Err(AuthError::Invalid),
            "revoked after it was remembered"
        );

        let other = Verifier::new();
        other.set_keys(&[signer.public_key()]);
        let token = signer
            .sign(&Claims {
                jti: "j2".into(),
                ..claims(60)
            })
            .unwrap();
        assert!(other.verify(&token).is_ok());
        let (rotated, _) = Signer::generate("k2").unwrap();
        other.set_keys(&[rotated.public_key()]);
        assert_eq!(
            other.verify(&token),
            Err(AuthError::Invalid),
            "k1 is no longer trusted"
        );
    }
}
