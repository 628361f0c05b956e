//! What the execution service asks for (internal calls, on behalf of a flow's tenant): whether a flow's nodes may
//! use the secrets they name (the start-time check, which also records the use for 409 on delete), and a secret's
//! value for one step. OAuth2 access tokens are refreshed before they expire (60 s early) and when a step's call
//! was refused with the current token, one refresh at a time per secret: a mutex within this replica and a lease
//! row across replicas. The new tokens are stored before anyone gets them; a refresh that fails fails the step
//! (`credential refresh failed: …`), every caller that waited for it and every caller of the next 5 s, and is never
//! retried in a loop.

use std::{sync::Arc, time::Duration};

use flowmate_domain::{event::types, time, Envelope, Id};
use serde_json::{json, Value};

use super::{
    clients::sha256_hex,
    secrets::{SecretCore, SOURCE},
};
use crate::{
    error::{Result, SecretError},
    model::{SecretRecord, SecretType},
    oauth::Grant,
    values::Plain,
};

/// A token is refreshed when it has less than this left.
pub const EXPIRY_SKEW: chrono::Duration = chrono::Duration::seconds(60);
/// After a failed refresh, callers within this long get its error without asking the token endpoint again (a
/// provider that is down is not asked once per step).
pub const FAILURE_HOLD: chrono::Duration = chrono::Duration::seconds(5);
/// How often a caller waiting for another replica's refresh looks again.
const POLL: Duration = Duration::from_millis(50);

/// One node's use of a secret, as the execution service describes it.
#[derive(Debug, Clone)]
pub struct Use {
    /// The node.
    pub node_id: String,
    /// The secret it names.
    pub secret_id: String,
    /// The types its component can use.
    pub accepted: Vec<String>,
    /// Fields a MIXED payload must have for it.
    pub mixed_fields: Vec<String>,
    /// `componentId.function`.
    pub component: String,
}

/// A secret's value for one step.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Its type.
    pub kind: SecretType,
    /// The value (OAuth2 types: `{accessToken, tokenType}`).
    pub value: Plain,
    /// When the access token expires (unix ms; 0: unknown or no token).
    pub expires_at_ms: i64,
    /// The secret's version.
    pub version: i64,
}

/// What a look at the stored secret says.
enum Settled {
    /// Nothing left to do: this is the answer.
    Done(Result<Resolved>),
    /// Its token must be refreshed.
    Due(Box<(SecretRecord, Plain)>),
}

fn expires_at(plain: &Plain) -> Option<chrono::DateTime<chrono::Utc>> {
    plain.text("expires").and_then(time::parse)
}

/// Whether the stored access token can be handed out: present, not within the skew of its expiry, and not the one
/// the caller says was refused.
fn usable(plain: &Plain, refused: Option<&str>) -> bool {
    let Some(token) = plain.text("accessToken") else {
        return false;
    };
    if refused.is_some_and(|r| r == sha256_hex(token)) {
        return false;
    }
    expires_at(plain).is_none_or(|t| t - time::now() > EXPIRY_SKEW)
}

fn token(s: &SecretRecord, plain: &Plain) -> Resolved {
    let mut value = serde_json::Map::new();
    value.insert(
        "accessToken".into(),
        json!(plain.text("accessToken").unwrap_or_default()),
    );
    value.insert("tokenType".into(), json!("Bearer"));
    Resolved {
        kind: s.kind,
        value: Plain(value),
        expires_at_ms: expires_at(plain).map(|t| t.timestamp_millis()).unwrap_or(0),
        version: s.version,
    }
}

/// Whether a MIXED payload (an object, or a string holding a JSON object) has every field in `fields`; the ones
/// it lacks.
fn missing_fields(plain: &Plain, fields: &[String]) -> Vec<String> {
    let payload = match plain.0.get("payload") {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
        Some(v) => v.clone(),
        None => Value::Null,
    };
    fields
        .iter()
        .filter(|f| payload.get(f.as_str()).is_none_or(Value::is_null))
        .cloned()
        .collect()
}

impl SecretCore {
    /// The secret `id` if it belongs to `tenant`.
    async fn secret_of(&self, id: &str, tenant: &str) -> Result<SecretRecord> {
        Id::parse(id).map_err(|_| SecretError::SecretNotFound)?;
        self.store
            .get_secret(id)
            .await?
            .filter(|s| s.tenant == tenant)
            .ok_or(SecretError::SecretNotFound)
    }

    /// The start-time check of a flow of `tenant`: one line per node that names a missing secret, another tenant's,
    /// or one of a type its component cannot use. When there is none, the flow's uses are recorded (as of the
    /// flow event at `changed_at`).
    pub async fn check(
        &self,
        flow_id: &str,
        tenant: &str,
        changed_at: &str,
        uses: &[Use],
    ) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        let mut ids = Vec::new();
        for u in uses {
            let s = match self.secret_of(&u.secret_id, tenant).await {
                Ok(s) => s,
                Err(SecretError::SecretNotFound) => {
                    problems.push(format!(
                        "node {}: secret {} does not exist or belongs to another tenant",
                        u.node_id, u.secret_id
                    ));
                    continue;
                }
                Err(e) => return Err(e),
            };
            if !u.accepted.iter().any(|t| t == s.kind.as_str()) {
                problems.push(format!(
                    "node {}: {} cannot use the {} secret {} (it takes {})",
                    u.node_id,
                    u.component,
                    s.kind.as_str(),
                    s.id,
                    if u.accepted.is_empty() {
                        "no secret".to_owned()
                    } else {
                        u.accepted.join(", ")
                    }
                ));
                continue;
            }
            if s.kind == SecretType::Mixed && !u.mixed_fields.is_empty() {
                let missing = missing_fields(&self.open(&s)?, &u.mixed_fields);
                if !missing.is_empty() {
                    problems.push(format!(
                        "node {}: the MIXED secret {} has no {} in its payload, which {} needs",
                        u.node_id,
                        s.id,
                        missing.join(", "),
                        u.component
                    ));
                    continue;
                }
            }
            ids.push(s.id);
        }
        if problems.is_empty() {
            self.store.record_usage(flow_id, changed_at, &ids).await?;
        } else {
            self.store.clear_usage(flow_id, changed_at).await?;
        }
        Ok(problems)
    }

    /// A secret's value for a step of a flow of `tenant`. OAuth2 tokens are refreshed when due, or when `refresh`
    /// says the token whose SHA-256 is `refused` was refused (unless another caller replaced it already).
    pub async fn resolve(&self, id: &str, tenant: &str, refresh: bool, refused: &str) -> Result<Resolved> {
        let s = self.secret_of(id, tenant).await?;
        let plain = self.open(&s)?;
        if !s.kind.is_oauth() {
            return Ok(Resolved {
                kind: s.kind,
                value: plain,
                expires_at_ms: 0,
                version: s.version,
            });
        }
        let refused = (refresh && !refused.is_empty()).then_some(refused);
        if usable(&plain, refused) {
            return Ok(token(&s, &plain));
        }
        // Taken before waiting: a refresh that fails while this caller waits fails this caller too.
        let waiting_since = time::now_string();
        let lock = self.local_lock(id);
        let result = {
            let _one_at_a_time = lock.lock().await;
            self.refresh_once(id, tenant, refused, &waiting_since).await
        };
        self.forget_lock(id, lock);
        result
    }

    fn local_lock(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.local.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(id.to_owned()).or_default().clone()
    }

    fn forget_lock(&self, id: &str, lock: Arc<tokio::sync::Mutex<()>>) {
        let mut locks = self.local.lock().unwrap_or_else(|p| p.into_inner());
        // The map's reference and ours: nobody else waits for it.
        if Arc::strong_count(&lock) <= 2 {
            locks.remove(id);
        }
    }

    /// With this replica's lock held: hands out the token if someone refreshed it meanwhile, else takes the lease
    /// and refreshes, or waits for the replica that holds it.
    async fn refresh_once(
        &self,
        id: &str,
        tenant: &str,
        refused: Option<&str>,
        waiting_since: &str,
    ) -> Result<Resolved> {
        let deadline = tokio::time::Instant::now() + self.tokens.timeout() + Duration::from_secs(10);
        loop {
            if let Settled::Done(result) = self.settled(id, tenant, refused, waiting_since).await? {
                return result;
            }
            let now = time::now();
            let lease = chrono::Duration::from_std(self.tokens.timeout() + Duration::from_secs(5))
                .unwrap_or(chrono::Duration::seconds(30));
            let taken = self
                .store
                .try_lease(id, &self.replica, &time::format(now + lease), &time::format(now))
                .await?;
            if taken {
                // Another replica may have finished (refreshed, or failed) between the read above and the lease.
                return match self.settled(id, tenant, refused, waiting_since).await? {
                    Settled::Done(result) => {
                        self.store.release_lease(id, &self.replica).await?;
                        result
                    }
                    Settled::Due(due) => {
                        let (s, plain) = *due;
                        self.refresh_holding(s, plain).await
                    }
                };
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(SecretError::RefreshFailed(
                    "another replica's refresh of this secret did not finish in time".into(),
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Whether the secret still needs a refresh: `Done` with the token someone stored meanwhile, or with the error
    /// of a refresh that failed while this caller waited (or within [`FAILURE_HOLD`]).
    async fn settled(
        &self,
        id: &str,
        tenant: &str,
        refused: Option<&str>,
        waiting_since: &str,
    ) -> Result<Settled> {
        let s = self.secret_of(id, tenant).await?;
        let plain = self.open(&s)?;
        if usable(&plain, refused) {
            return Ok(Settled::Done(Ok(token(&s, &plain))));
        }
        if let (Some(error), Some(at)) = (&s.refresh.error, &s.refresh.failed_at) {
            let recent = time::format(time::now() - FAILURE_HOLD);
            if at.as_str() >= waiting_since || at.as_str() > recent.as_str() {
                return Ok(Settled::Done(Err(SecretError::RefreshFailed(error.clone()))));
            }
        }
        Ok(Settled::Due(Box::new((s, plain))))
    }

    /// Holding the lease: asks the token endpoint, stores the new tokens, releases the lease.
    async fn refresh_holding(&self, s: SecretRecord, plain: Plain) -> Result<Resolved> {
        let outcome = self.ask_token_endpoint(&s, &plain).await;
        let now = time::now();
        let tokens = match outcome {
            Ok(t) => t,
            Err(message) => {
                metrics::counter!("flowmate_secret_refreshes_total", "outcome" => "failed").increment(1);
                tracing::warn!(secret_id = %s.id, reason = %message, "credential refresh failed");
                self.store
                    .fail_refresh(&s.id, &self.replica, &message, &time::format(now))
                    .await?;
                return Err(SecretError::RefreshFailed(message));
            }
        };
        let mut value = plain.0.clone();
        value.insert("accessToken".into(), Value::String(tokens.access_token));
        match tokens.expires_in {
            Some(secs) => value.insert(
                "expires".into(),
                Value::String(time::format(now + chrono::Duration::seconds(secs))),
            ),
            None => value.remove("expires"),
        };
        if let Some(r) = tokens
            .refresh_token
            .filter(|_| s.kind == SecretType::Oa2AuthorizationCode)
        {
            value.insert("refreshToken".into(), Value::String(r));
        }
        if let Some(scope) = tokens.scope {
            value.insert("scope".into(), Value::String(scope));
        }
        let plain = Plain(value);
        let next = SecretRecord {
            display: plain.display(s.kind),
            sealed: self.seal(&plain)?,
            version: s.version + 1,
            updated_at: time::format(now),
            ..s.clone()
        };
        let event =
            Envelope::new(types::SECRET_MODIFIED, SOURCE, next.event_data("")).with_tenant(&next.tenant);
        if !self
            .store
            .finish_refresh(&next, s.version, &self.replica, &[event])
            .await?
        {
            self.store.release_lease(&s.id, &self.replica).await?;
            return Err(SecretError::RefreshFailed(
                "the secret was changed while its token was refreshed; run the step again".into(),
            ));
        }
        metrics::counter!("flowmate_secret_refreshes_total", "outcome" => "refreshed").increment(1);
        tracing::info!(secret_id = %s.id, "credential refreshed");
        Ok(token(&next, &plain))
    }

    async fn ask_token_endpoint(
        &self,
        s: &SecretRecord,
        plain: &Plain,
    ) -> std::result::Result<crate::oauth::Tokens, String> {
        let text = |k: &str| plain.text(k).unwrap_or_default();
        match s.kind {
            SecretType::Oa2ClientCredentials => {
                let grant = Grant::ClientCredentials {
                    client_id: text("clientId"),
                    client_secret: text("clientSecret"),
                    scope: text("scope"),
                };
                self.tokens
                    .request(text("tokenUrl"), grant, &[text("clientSecret")])
                    .await
            }
            SecretType::Oa2AuthorizationCode => {
                let Some(refresh_token) = plain.text("refreshToken") else {
                    return Err("the secret has no refresh token; renew the consent".into());
                };
                let client = match self.store.get_auth_client(text("authClientId")).await {
                    Ok(Some(c)) if c.tenant == s.tenant => c,
                    Ok(_) => return Err("its auth client no longer exists".into()),
                    Err(e) => {
                        tracing::error!(error = %e, "reading an auth client failed");
                        return Err("its auth client could not be read".into());
                    }
                };
                let client_secret = self.keys.open(&client.sealed_secret).map_err(|_| {
                    "its auth client's secret cannot be opened with the configured keys".to_owned()
                })?;
                let grant = Grant::RefreshToken {
                    client_id: client.text("clientId"),
                    client_secret: &client_secret,
                    refresh_token,
                };
                self.tokens
                    .request(client.endpoint("token"), grant, &[&client_secret, refresh_token])
                    .await
            }
            _ => Err("this secret has no token to refresh".into()),
        }
    }
}
