//! Secrets, auth clients and consent states as stored, the list query, and what the core needs from storage (a
//! port).

use async_trait::async_trait;
use flowmate_domain::Envelope;
use serde_json::{json, Map, Value};

use crate::error::Result;

/// The kinds of secret (API.md §9; OIH's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretType {
    /// `{username, passphrase}`: basic auth.
    Simple,
    /// `{key, headerName?}`: a header (default `Authorization: Bearer <key>`).
    ApiKey,
    /// `{payload}`: free form.
    Mixed,
    /// `{clientId, clientSecret, tokenUrl, scope?}`: tokens from the client-credentials grant.
    Oa2ClientCredentials,
    /// `{authClientId, accessToken, refreshToken, expires, scope?}`: tokens from a user's consent.
    Oa2AuthorizationCode,
}

impl SecretType {
    /// Every type, in the order messages list them.
    pub const ALL: [SecretType; 5] = [
        SecretType::Simple,
        SecretType::ApiKey,
        SecretType::Mixed,
        SecretType::Oa2ClientCredentials,
        SecretType::Oa2AuthorizationCode,
    ];

    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretType::Simple => "SIMPLE",
            SecretType::ApiKey => "API_KEY",
            SecretType::Mixed => "MIXED",
            SecretType::Oa2ClientCredentials => "OA2_CLIENT_CREDENTIALS",
            SecretType::Oa2AuthorizationCode => "OA2_AUTHORIZATION_CODE",
        }
    }

    /// Parses [`SecretType::as_str`].
    pub fn parse(s: &str) -> Option<SecretType> {
        SecretType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Whether its value is an OAuth2 access token that is refreshed.
    pub fn is_oauth(self) -> bool {
        matches!(
            self,
            SecretType::Oa2ClientCredentials | SecretType::Oa2AuthorizationCode
        )
    }
}

/// A token refresh in progress or the last one that failed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RefreshState {
    /// Who holds the refresh lease.
    pub lease_owner: Option<String>,
    /// Until when (RFC 3339).
    pub lease_until: Option<String>,
    /// Why the last refresh failed (no secret in it).
    pub error: Option<String>,
    /// When it failed.
    pub failed_at: Option<String>,
}

/// A stored secret. Its value is sealed; `display` is the value as responses show it (sensitive fields `"***"`).
#[derive(Debug, Clone, PartialEq)]
pub struct SecretRecord {
    /// Secret id.
    pub id: String,
    /// The tenant that owns it.
    pub tenant: String,
    /// The user who created it.
    pub owner_id: String,
    /// Its name.
    pub name: String,
    /// Its type.
    pub kind: SecretType,
    /// The value as shown.
    pub display: Map<String, Value>,
    /// The whole value object as JSON, sealed.
    pub sealed: String,
    /// `OA2_AUTHORIZATION_CODE`: the auth client.
    pub auth_client_id: Option<String>,
    /// +1 on every change of name or value.
    pub version: i64,
    /// Refresh bookkeeping.
    pub refresh: RefreshState,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Last change (RFC 3339).
    pub updated_at: String,
}

fn owners(user: &str, tenant: &str) -> Value {
    json!([{"id": user, "type": "user"}, {"id": tenant, "type": "tenant"}])
}

impl SecretRecord {
    /// The API view (OIH's shape: `_id` too, `currentError` after a failed refresh).
    pub fn to_json(&self) -> Value {
        let mut out = json!({
            "id": self.id, "_id": self.id, "name": self.name, "type": self.kind.as_str(),
            "value": Value::Object(self.display.clone()), "owners": owners(&self.owner_id, &self.tenant),
            "tenant": self.tenant, "createdAt": self.created_at, "updatedAt": self.updated_at,
        });
        if let (Some(message), Some(at)) = (&self.refresh.error, &self.refresh.failed_at) {
            out["currentError"] = json!({"message": message, "at": at});
        }
        out
    }

    /// What events say about it (never its value).
    pub fn event_data(&self, user: &str) -> Value {
        flowmate_domain::event::payload::Payload::to_data(&flowmate_domain::event::payload::SecretChanged {
            secret_id: self.id.clone(),
            tenant: self.tenant.clone(),
            user: user.to_owned(),
            name: Some(self.name.clone()),
            kind: Some(self.kind.as_str().to_owned()),
        })
    }
}

/// A stored OAuth2 app. `display` is the document without its client secret.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthClientRecord {
    /// Auth client id.
    pub id: String,
    /// The tenant that owns it.
    pub tenant: String,
    /// The user who created it.
    pub owner_id: String,
    /// `name`, `type`, `clientId`, `endpoints`, `redirectUri`, `predefinedScope`.
    pub display: Map<String, Value>,
    /// The client secret, sealed.
    pub sealed_secret: String,
    /// +1 on every change.
    pub version: i64,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Last change (RFC 3339).
    pub updated_at: String,
}

impl AuthClientRecord {
    /// A text field of the document.
    pub fn text(&self, key: &str) -> &str {
        self.display.get(key).and_then(Value::as_str).unwrap_or_default()
    }

    /// An endpoint (`auth` or `token`).
    pub fn endpoint(&self, which: &str) -> &str {
        self.display
            .get("endpoints")
            .and_then(|e| e.get(which))
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The API view: the document with `clientSecret` masked.
    pub fn to_json(&self) -> Value {
        let mut out = self.display.clone();
        out.insert("id".into(), Value::String(self.id.clone()));
        out.insert("_id".into(), Value::String(self.id.clone()));
        out.insert(
            "clientSecret".into(),
            Value::String(flowmate_auth::secrets::MASK.into()),
        );
        out.insert("owners".into(), owners(&self.owner_id, &self.tenant));
        out.insert("tenant".into(), Value::String(self.tenant.clone()));
        out.insert("createdAt".into(), Value::String(self.created_at.clone()));
        out.insert("updatedAt".into(), Value::String(self.updated_at.clone()));
        Value::Object(out)
    }
}

/// A consent round trip in progress.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsentState {
    /// SHA-256 (hex) of the state sent to the provider.
    pub state_hash: String,
    /// The app consented to.
    pub auth_client_id: String,
    /// The tenant of the user who started it.
    pub tenant: String,
    /// That user: the secret is created for them.
    pub user_id: String,
    /// The name of the secret to create.
    pub secret_name: String,
    /// The scopes asked for.
    pub scope: String,
    /// When it stops being accepted (RFC 3339).
    pub expires_at: String,
    /// When it was used, if it was.
    pub used_at: Option<String>,
    /// Created (RFC 3339).
    pub created_at: String,
}

/// Taking a state for the callback.
#[derive(Debug, Clone, PartialEq)]
pub enum Taken {
    /// This call used it (it may still have expired).
    Fresh(Box<ConsentState>),
    /// Used before.
    Used,
    /// Never issued.
    Unknown,
}

/// A validated list query.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// Page size, 1..=1000.
    pub page_size: u32,
    /// 1-based page.
    pub page_number: u32,
    /// Only this type.
    pub kind: Option<String>,
    /// Case-insensitive literal substring of the name.
    pub search: Option<String>,
}

/// Persistence for the secret core; events go to the outbox in the same transaction as the change.
#[async_trait]
pub trait SecretStore: Send + Sync + 'static {
    /// A page of secrets (of `tenant`, or all) and the total matching.
    async fn list_secrets(&self, tenant: Option<&str>, query: &ListQuery)
        -> Result<(Vec<SecretRecord>, u64)>;
    /// A secret by id.
    async fn get_secret(&self, id: &str) -> Result<Option<SecretRecord>>;
    /// Inserts a secret with its events.
    async fn insert_secret(&self, secret: &SecretRecord, events: &[Envelope]) -> Result<()>;
    /// Replaces the secret if it is still at `previous_version`; `false` when another change came first.
    async fn update_secret(
        &self,
        secret: &SecretRecord,
        previous_version: i64,
        events: &[Envelope],
    ) -> Result<bool>;
    /// Deletes a secret and its usage rows; `false` when it was not there.
    async fn delete_secret(&self, id: &str, events: &[Envelope]) -> Result<bool>;
    /// The flows recorded as using the secret.
    async fn secret_users(&self, secret_id: &str) -> Result<Vec<String>>;
    /// The secrets made from an auth client.
    async fn secrets_of_auth_client(&self, auth_client_id: &str) -> Result<Vec<String>>;

    /// Takes the refresh lease of a secret for `owner` until `until` if nobody holds an unexpired one at `now`.
    async fn try_lease(&self, id: &str, owner: &str, until: &str, now: &str) -> Result<bool>;
    /// Stores refreshed tokens (the secret as given, version +1) and releases the lease, if `owner` still holds
    /// it and the secret is still at `previous_version`; `false` otherwise (nothing is written).
    async fn finish_refresh(
        &self,
        secret: &SecretRecord,
        previous_version: i64,
        owner: &str,
        events: &[Envelope],
    ) -> Result<bool>;
    /// Records a failed refresh and releases `owner`'s lease.
    async fn fail_refresh(&self, id: &str, owner: &str, error: &str, at: &str) -> Result<()>;
    /// Releases `owner`'s lease without a change.
    async fn release_lease(&self, id: &str, owner: &str) -> Result<()>;

    /// A page of auth clients (of `tenant`, or all) and the total.
    async fn list_auth_clients(
        &self,
        tenant: Option<&str>,
        query: &ListQuery,
    ) -> Result<(Vec<AuthClientRecord>, u64)>;
    /// An auth client by id.
    async fn get_auth_client(&self, id: &str) -> Result<Option<AuthClientRecord>>;
    /// Inserts an auth client.
    async fn insert_auth_client(&self, client: &AuthClientRecord) -> Result<()>;
    /// Replaces it if still at `previous_version`.
    async fn update_auth_client(&self, client: &AuthClientRecord, previous_version: i64) -> Result<bool>;
    /// Deletes it; `false` when it was not there.
    async fn delete_auth_client(&self, id: &str) -> Result<bool>;

    /// Stores a new consent state (and forgets states that expired before `prune_before`).
    async fn insert_state(&self, state: &ConsentState, prune_before: &str) -> Result<()>;
    /// Marks the state used at `now` and returns it, once.
    async fn take_state(&self, state_hash: &str, now: &str) -> Result<Taken>;

    /// Records that `flow_id` (as of the flow event at `changed_at`) uses `secret_ids`, replacing what it used
    /// before; ignored when a later flow event was applied already.
    async fn record_usage(&self, flow_id: &str, changed_at: &str, secret_ids: &[String]) -> Result<()>;
    /// Forgets what `flow_id` uses (it stopped or was deleted at `changed_at`), unless a later event was applied.
    async fn clear_usage(&self, flow_id: &str, changed_at: &str) -> Result<()>;
}
