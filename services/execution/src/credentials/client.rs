//! The secret service's client with a per-replica cache. An entry lives at most [`CACHE_TTL`] and, for an OAuth2
//! token, until 60 s before it expires; `secret.modified` and `secret.deleted` (a per-replica copy of the events)
//! drop it at once, the TTL covering a lost event. A hit costs a read lock and a map lookup.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, RwLock,
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use flowmate_bus::{Delivery, Handler, HandlerError};
use flowmate_domain::ErrorCode;
use flowmate_proto::{
    secrets::v1::{secrets_client::SecretsClient, CheckCredentialsRequest, CredentialUse, ResolveRequest},
    transport::{self, Transport},
};
use serde_json::Value;
use tonic::metadata::{Ascii, MetadataValue};

use super::apply::Credential;
use crate::model::StepError;

/// How long a resolved secret is used without asking again (a safety net behind the change events).
pub const CACHE_TTL: Duration = Duration::from_secs(30);
/// An OAuth2 token is not used within this long of its expiry (the secret service refreshes it then).
const EXPIRY_SKEW: Duration = Duration::from_secs(60);
/// The most entries kept; beyond it the cache starts over.
const MAX_ENTRIES: usize = 10_000;
/// The metadata key of the service credential.
const SERVICE_TOKEN_HEADER: &str = "x-flowmate-service-token";

/// Who a step acts for: the secret its node names and the flow's tenant and owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepCredential {
    /// The node's `credentials_id`.
    pub secret_id: String,
    /// The flow's tenant.
    pub tenant: String,
    /// The user who started the flow.
    pub user: String,
}

struct Entry {
    /// What an `http` step applies (`Err`: why this secret cannot be applied to a request).
    credential: Result<Arc<Credential>, String>,
    /// The type and value, for steps that read its fields (`sql`, `email`, `amqp`).
    secret: Arc<SecretValue>,
    until: Instant,
}

/// A resolved secret's type and value, for the connector steps that read its fields. `Debug` shows the type only.
pub struct SecretValue {
    /// `SIMPLE`, `MIXED`, …
    pub kind: String,
    /// The value as the secret service resolved it.
    pub value: Value,
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretValue")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl SecretValue {
    /// A text field of the value (`username`, `passphrase`, …).
    pub fn text(&self, name: &str) -> Option<&str> {
        self.value.get(name).and_then(Value::as_str)
    }

    /// A MIXED secret's payload as JSON (a string payload is parsed; `Null` when it is not JSON).
    pub fn payload(&self) -> Value {
        match self.value.get("payload") {
            Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
            Some(other) => other.clone(),
            None => Value::Null,
        }
    }
}

/// The secret service, for steps.
pub struct Credentials {
    client: SecretsClient<Transport>,
    timeout: Duration,
    service_token: Option<MetadataValue<Ascii>>,
    cache: RwLock<HashMap<String, Entry>>,
    epoch: AtomicU64,
}

fn unavailable(e: &tonic::Status) -> StepError {
    tracing::warn!(grpc_code = ?e.code(), cause = %e.message(), "the secret service failed");
    StepError::new("CredentialError", "the secret service could not be reached")
}

impl Credentials {
    /// A client of the secret service at `url` (calls wait at most `timeout`), presenting `service_token` on its
    /// internal calls when given.
    pub fn new(url: &str, timeout: Duration, service_token: Option<&str>) -> anyhow::Result<Credentials> {
        let service_token = match service_token {
            Some(t) => {
                let mut v: MetadataValue<Ascii> = t.parse()?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        Ok(Credentials {
            client: SecretsClient::new(transport::connect(url, None)?)
                .max_decoding_message_size(flowmate_proto::MAX_MESSAGE_BYTES),
            timeout,
            service_token,
            cache: RwLock::new(HashMap::new()),
            epoch: AtomicU64::new(0),
        })
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut r = flowmate_telemetry::propagation::inject_grpc(tonic::Request::new(message));
        r.set_timeout(self.timeout);
        if let Some(t) = &self.service_token {
            r.metadata_mut().insert(SERVICE_TOKEN_HEADER, t.clone());
        }
        r
    }

    /// The credential for `step`, from the cache when it holds a current one.
    pub async fn get(&self, step: &StepCredential) -> Result<Arc<Credential>, StepError> {
        let now = Instant::now();
        if let Ok(cache) = self.cache.read() {
            if let Some(e) = cache.get(&step.secret_id).filter(|e| e.until > now) {
                return applied(step, &e.credential);
            }
        }
        let (credential, _) = self.resolve(step, None).await?;
        applied(step, &credential)
    }

    /// The type and value of the secret `step` names, from the cache when it holds a current one.
    pub async fn secret(&self, step: &StepCredential) -> Result<Arc<SecretValue>, StepError> {
        let now = Instant::now();
        if let Ok(cache) = self.cache.read() {
            if let Some(e) = cache.get(&step.secret_id).filter(|e| e.until > now) {
                return Ok(e.secret.clone());
            }
        }
        Ok(self.resolve(step, None).await?.1)
    }

    /// A new credential after `refused` was refused (`401`): the secret service refreshes the token unless another
    /// caller already replaced it.
    pub async fn after_refusal(
        &self,
        step: &StepCredential,
        refused: &Credential,
    ) -> Result<Arc<Credential>, StepError> {
        let (credential, _) = self
            .resolve(step, Some(refused.token_sha256().unwrap_or_default()))
            .await?;
        applied(step, &credential)
    }

    async fn resolve(
        &self,
        step: &StepCredential,
        refused: Option<&str>,
    ) -> Result<(Result<Arc<Credential>, String>, Arc<SecretValue>), StepError> {
        let epoch = self.epoch.load(Ordering::Acquire);
        let message = ResolveRequest {
            secret_id: step.secret_id.clone(),
            tenant: step.tenant.clone(),
            user: step.user.clone(),
            refresh: refused.is_some(),
            refused_token_sha256: refused.unwrap_or_default().to_owned(),
        };
        let reply = self
            .client
            .clone()
            .resolve_credential(self.request(message))
            .await;
        let reply = match reply {
            Ok(r) => r.into_inner(),
            Err(status) => {
                let fault = flowmate_proto::fault_from_status(&status);
                return Err(match fault.code {
                    ErrorCode::NotFound => StepError::new(
                        "CredentialError",
                        format!(
                            "secret {} does not exist or belongs to another tenant",
                            step.secret_id
                        ),
                    ),
                    // `credential refresh failed: …`, worded by the secret service without any secret in it.
                    ErrorCode::FailedPrecondition => StepError::new("CredentialError", fault.message()),
                    _ => unavailable(&status),
                });
            }
        };
        let value: Value = serde_json::from_str(&reply.value_json)
            .map_err(|_| StepError::new("CredentialError", "the secret service sent an unreadable value"))?;
        let credential = Credential::from_value(&reply.r#type, &value).map(Arc::new);
        let secret = Arc::new(SecretValue {
            kind: reply.r#type.clone(),
            value,
        });
        let mut until = Instant::now() + CACHE_TTL;
        if reply.expires_at_ms > 0 {
            let left = reply.expires_at_ms - chrono::Utc::now().timestamp_millis();
            let left = Duration::from_millis(left.max(0) as u64).saturating_sub(EXPIRY_SKEW);
            until = until.min(Instant::now() + left);
        }
        // Only what was read after the last invalidation is kept.
        if let Ok(mut cache) = self.cache.write() {
            if self.epoch.load(Ordering::Acquire) == epoch {
                if cache.len() >= MAX_ENTRIES {
                    cache.clear();
                }
                cache.insert(
                    step.secret_id.clone(),
                    Entry {
                        credential: credential.clone(),
                        secret: secret.clone(),
                        until,
                    },
                );
            }
        }
        Ok((credential, secret))
    }

    /// Forgets what is cached of `secret_id`.
    pub fn invalidate(&self, secret_id: &str) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut cache) = self.cache.write() {
            cache.remove(secret_id);
        }
    }

    /// The start-time check: `None` when the flow's nodes may use the secrets they name, else the reason (one
    /// clause per node). `Err`: the secret service could not answer (the start is retried).
    pub async fn check(
        &self,
        flow_id: &str,
        tenant: &str,
        user: &str,
        changed_at: &str,
        uses: Vec<CredentialUse>,
    ) -> Result<Option<String>, tonic::Status> {
        let message = CheckCredentialsRequest {
            flow_id: flow_id.to_owned(),
            tenant: tenant.to_owned(),
            user: user.to_owned(),
            changed_at: changed_at.to_owned(),
            uses,
        };
        let reply = self
            .client
            .clone()
            .check_credentials(self.request(message))
            .await?
            .into_inner();
        Ok((!reply.problems.is_empty()).then(|| reply.problems.join("; ")))
    }
}

/// The credential an `http` step applies, or why the secret `step` names cannot be applied.
fn applied(step: &StepCredential, c: &Result<Arc<Credential>, String>) -> Result<Arc<Credential>, StepError> {
    c.clone()
        .map_err(|m| StepError::new("CredentialError", format!("secret {}: {m}", step.secret_id)))
}

/// Applies `secret.modified` / `secret.deleted` to this replica's cache.
pub struct Invalidations(pub Arc<Credentials>);

#[async_trait]
impl Handler for Invalidations {
    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError> {
        use flowmate_domain::event::payload::{Payload, SecretChanged};
        let changed = SecretChanged::from_data(&delivery.envelope.data)
            .map_err(|e| HandlerError::Reject(format!("{} without a secret: {e}", delivery.envelope.kind)))?;
        self.0.invalidate(&changed.secret_id);
        Ok(())
    }
}
