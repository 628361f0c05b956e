//! OAuth2 apps ("auth clients", API.md §9) and the consent round trip: `start` hands out the provider's consent URL
//! with a random `state` (single-use, bound to the user and tenant, expiring, stored only as its SHA-256);
//! `complete` takes the state once, exchanges the code at the token endpoint and creates the secret for that user.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use flowmate_auth::{secrets::MASK, Principal};
use flowmate_domain::{error::Problems, event::types, permissions, time, Envelope, Id};
use ring::{
    digest,
    rand::{SecureRandom, SystemRandom},
};
use serde_json::{json, Map, Value};

use super::secrets::{document, name_of, require, tenant_scope, SecretCore, SOURCE};
use crate::{
    error::{Result, SecretError, StateProblem},
    model::{AuthClientRecord, ConsentState, ListQuery, SecretRecord, SecretType, Taken},
    oauth::Grant,
    values::{is_http_url, Plain},
};

/// How long a consent state is accepted.
pub const STATE_LIFETIME: chrono::Duration = chrono::Duration::minutes(10);
const TYPE: &str = "OA2_AUTHORIZATION_CODE";

/// SHA-256 of `text`, hex.
pub fn sha256_hex(text: &str) -> String {
    digest::digest(&digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The checked document of an auth client (without its secret) and the client secret, from a create body or a
/// merged update.
fn client_fields(
    doc: &Map<String, Value>,
    at: &str,
    creating: bool,
    p: &mut Problems,
) -> (Map<String, Value>, Option<String>) {
    let mut out = Map::new();
    let name = name_of(doc, at, "Auth clients", p);
    out.insert("name".into(), Value::String(name));
    match doc.get("type").and_then(Value::as_str) {
        None | Some(TYPE) => {}
        Some(other) => p.add(
            &format!("{at}/type"),
            format!("Unknown auth client type \"{other}\"; only {TYPE} is supported."),
        ),
    }
    out.insert("type".into(), Value::String(TYPE.into()));
    let text = |k: &str| doc.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    match text("clientId") {
        Some(id) => {
            out.insert("clientId".into(), Value::String(id.to_owned()));
        }
        None => p.add(&format!("{at}/clientId"), "Auth clients require a clientId."),
    }
    let secret = match text("clientSecret") {
        Some(MASK) if creating => {
            p.add(
                &format!("{at}/clientSecret"),
                "\"***\" keeps a stored value; send the client secret itself.",
            );
            None
        }
        Some(MASK) => None,
        Some(s) => Some(s.to_owned()),
        None if creating => {
            p.add(
                &format!("{at}/clientSecret"),
                "Auth clients require a clientSecret.",
            );
            None
        }
        None => None,
    };
    let endpoints = doc.get("endpoints").cloned().unwrap_or(Value::Null);
    for which in ["auth", "token"] {
        match endpoints.get(which).and_then(Value::as_str) {
            Some(url) if is_http_url(url) => {}
            _ => p.add(
                &format!("{at}/endpoints/{which}"),
                format!("endpoints.{which} must be an http or https URL."),
            ),
        }
    }
    out.insert(
        "endpoints".into(),
        json!({"auth": endpoints.get("auth"), "token": endpoints.get("token")}),
    );
    match text("redirectUri") {
        Some(url) if is_http_url(url) => {
            out.insert("redirectUri".into(), Value::String(url.to_owned()));
        }
        _ => p.add(
            &format!("{at}/redirectUri"),
            "redirectUri must be an http or https URL.",
        ),
    }
    match doc.get("predefinedScope") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            out.insert("predefinedScope".into(), Value::String(s.clone()));
        }
        Some(_) => p.add(
            &format!("{at}/predefinedScope"),
            "predefinedScope must be a string.",
        ),
    }
    (out, secret)
}

impl SecretCore {
    /// A page of auth clients in the caller's scope.
    pub async fn list_clients(
        &self,
        caller: &Principal,
        query: ListQuery,
    ) -> Result<(Vec<AuthClientRecord>, u64)> {
        require(caller, permissions::SECRETS_READ)?;
        self.store.list_auth_clients(tenant_scope(caller), &query).await
    }

    /// One auth client in the caller's scope.
    pub async fn get_client(&self, caller: &Principal, id: &str) -> Result<AuthClientRecord> {
        require(caller, permissions::SECRETS_READ)?;
        self.visible_client(caller, id).await
    }

    async fn visible_client(&self, caller: &Principal, id: &str) -> Result<AuthClientRecord> {
        Id::parse(id).map_err(|_| SecretError::InvalidId)?;
        let c = self
            .store
            .get_auth_client(id)
            .await?
            .ok_or(SecretError::AuthClientNotFound)?;
        if caller.is_admin() || c.tenant == caller.tenant() {
            Ok(c)
        } else {
            Err(SecretError::AuthClientNotFound)
        }
    }

    /// Creates an auth client in the caller's tenant.
    pub async fn create_client(&self, caller: &Principal, body: Value) -> Result<AuthClientRecord> {
        require(caller, permissions::SECRETS_WRITE)?;
        let (doc, at) = document(&body)?;
        let mut p = Problems::default();
        let (display, secret) = client_fields(doc, at, true, &mut p);
        p.finish().map_err(SecretError::Invalid)?;
        let now = time::now_string();
        let c = AuthClientRecord {
            id: Id::new().into_string(),
            tenant: caller.tenant().to_owned(),
            owner_id: caller.user_id().to_owned(),
            display,
            sealed_secret: self.keys.seal(secret.as_deref().unwrap_or_default())?,
            version: 1,
            created_at: now.clone(),
            updated_at: now,
        };
        self.store.insert_auth_client(&c).await?;
        Ok(c)
    }

    /// Shallow-merges `body` into an auth client (`clientSecret: "***"` or absent keeps it).
    pub async fn update_client(&self, caller: &Principal, id: &str, body: Value) -> Result<AuthClientRecord> {
        require(caller, permissions::SECRETS_WRITE)?;
        let (doc, at) = document(&body)?;
        for _ in 0..3 {
            let current = self.visible_client(caller, id).await?;
            let mut merged = current.display.clone();
            for (k, v) in doc {
                merged.insert(k.clone(), v.clone());
            }
            let mut p = Problems::default();
            let (display, secret) = client_fields(&merged, at, false, &mut p);
            p.finish().map_err(SecretError::Invalid)?;
            let sealed_secret = match secret {
                Some(s) => self.keys.seal(&s)?,
                None => current.sealed_secret.clone(),
            };
            let c = AuthClientRecord {
                display,
                sealed_secret,
                version: current.version + 1,
                updated_at: time::now_string(),
                ..current.clone()
            };
            if self.store.update_auth_client(&c, current.version).await? {
                return Ok(c);
            }
        }
        Err(SecretError::Conflict)
    }

    /// Deletes an auth client; `409` while secrets were made from it, unless `force`.
    pub async fn delete_client(&self, caller: &Principal, id: &str, force: bool) -> Result<()> {
        require(caller, permissions::SECRETS_WRITE)?;
        self.visible_client(caller, id).await?;
        let secrets = self.store.secrets_of_auth_client(id).await?;
        if !secrets.is_empty() && !force {
            return Err(SecretError::ClientInUse {
                secrets: secrets.join(", "),
            });
        }
        if self.store.delete_auth_client(id).await? {
            Ok(())
        } else {
            Err(SecretError::AuthClientNotFound)
        }
    }

    /// The provider's consent URL for `auth_client_id`; the secret `secret_name` is created for the caller when
    /// the provider sends the user back to the callback.
    pub async fn start_consent(
        &self,
        caller: &Principal,
        auth_client_id: &str,
        secret_name: &str,
        scope: &str,
    ) -> Result<String> {
        require(caller, permissions::SECRETS_WRITE)?;
        let client = self.visible_client(caller, auth_client_id).await?;
        let mut p = Problems::default();
        if secret_name.trim().is_empty() || secret_name.chars().count() > 200 {
            p.add("/secretName", "secretName is required (at most 200 characters).");
        }
        p.finish().map_err(SecretError::Invalid)?;
        let scope = if scope.is_empty() {
            client.text("predefinedScope")
        } else {
            scope
        };
        let mut raw = [0u8; 32];
        SystemRandom::new()
            .fill(&mut raw)
            .map_err(|_| SecretError::Internal("no randomness".into()))?;
        let state = URL_SAFE_NO_PAD.encode(raw);
        let now = time::now();
        let record = ConsentState {
            state_hash: sha256_hex(&state),
            auth_client_id: client.id.clone(),
            tenant: caller.tenant().to_owned(),
            user_id: caller.user_id().to_owned(),
            secret_name: secret_name.trim().to_owned(),
            scope: scope.to_owned(),
            expires_at: time::format(now + STATE_LIFETIME),
            used_at: None,
            created_at: time::format(now),
        };
        self.store
            .insert_state(&record, &time::format(now - chrono::Duration::days(1)))
            .await?;
        let mut url = reqwest::Url::parse(client.endpoint("auth"))
            .map_err(|_| SecretError::Internal("stored auth endpoint does not parse".into()))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", client.text("clientId"))
                .append_pair("redirect_uri", client.text("redirectUri"))
                .append_pair("state", &state);
            if !scope.is_empty() {
                q.append_pair("scope", scope);
            }
        }
        Ok(url.to_string())
    }

    /// The callback: takes the state once, exchanges the code and creates the secret for the user who started.
    pub async fn complete_consent(&self, state: &str, code: &str, error: &str) -> Result<SecretRecord> {
        let taken = if state.is_empty() {
            Taken::Unknown
        } else {
            self.store
                .take_state(&sha256_hex(state), &time::now_string())
                .await?
        };
        let s = match taken {
            Taken::Unknown => return Err(SecretError::State(StateProblem::Unknown)),
            Taken::Used => return Err(SecretError::State(StateProblem::Used)),
            Taken::Fresh(s) if s.expires_at.as_str() < time::now_string().as_str() => {
                return Err(SecretError::State(StateProblem::Expired))
            }
            Taken::Fresh(s) => s,
        };
        if !error.is_empty() {
            let shown: String = error
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || "_.-".contains(*c))
                .take(64)
                .collect();
            return Err(SecretError::ConsentRefused(shown));
        }
        if code.is_empty() {
            let mut p = Problems::default();
            p.add("/code", "code is required.");
            p.finish().map_err(SecretError::Invalid)?;
        }
        let client = self
            .store
            .get_auth_client(&s.auth_client_id)
            .await?
            .filter(|c| c.tenant == s.tenant)
            .ok_or(SecretError::AuthClientNotFound)?;
        let client_secret = self.keys.open(&client.sealed_secret)?;
        let grant = Grant::AuthorizationCode {
            client_id: client.text("clientId"),
            client_secret: &client_secret,
            code,
            redirect_uri: client.text("redirectUri"),
        };
        let tokens = self
            .tokens
            .request(client.endpoint("token"), grant, &[&client_secret, code])
            .await
            .map_err(SecretError::ExchangeFailed)?;
        let mut value = Map::new();
        value.insert("authClientId".into(), Value::String(client.id.clone()));
        value.insert("accessToken".into(), Value::String(tokens.access_token));
        if let Some(r) = tokens.refresh_token {
            value.insert("refreshToken".into(), Value::String(r));
        }
        if let Some(secs) = tokens.expires_in {
            value.insert(
                "expires".into(),
                Value::String(time::format(time::now() + chrono::Duration::seconds(secs))),
            );
        }
        let scope = tokens.scope.unwrap_or(s.scope.clone());
        if !scope.is_empty() {
            value.insert("scope".into(), Value::String(scope));
        }
        let kind = SecretType::Oa2AuthorizationCode;
        let secret = self.record(&s.tenant, &s.user_id, s.secret_name.clone(), kind, &Plain(value))?;
        let event = Envelope::new(types::SECRET_CREATED, SOURCE, secret.event_data(&s.user_id))
            .with_tenant(&s.tenant);
        self.store.insert_secret(&secret, &[event]).await?;
        tracing::info!(secret_id = %secret.id, "secret created from a consent");
        Ok(secret)
    }
}
