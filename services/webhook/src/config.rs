//! What the webhook service needs from the settings.

use std::{net::SocketAddr, time::Duration};

use flowmate_config::{SecretString, Settings};

/// Webhook service configuration.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Its own database (Idempotency-Key records).
    pub database_url: SecretString,
    /// Connection pool size.
    pub max_connections: u32,
    /// Where gRPC and the operational routes listen (`127.0.0.1:0` picks a free port).
    pub grpc_addr: SocketAddr,
    /// The identity service, for token keys and revocations.
    pub identity_url: String,
    /// The flow repository, for the active flows at start.
    pub flows_url: String,
    /// The execution service, which admits triggers of tenants with a quota (API.md §12).
    pub executions_url: String,
    /// Deadline of calls to other services.
    pub rpc_timeout: Duration,
    /// Opens sealed HMAC secrets: a keyring (`kid:base64,…`) or one base64 key of 32 bytes.
    pub secrets_key: Option<SecretString>,
    /// Largest accepted body.
    pub body_limit_bytes: usize,
    /// How long a sync webhook waits by default (at most 55 s: an Idempotency-Key repeat takes a request
    /// unanswered after 60 s for crashed).
    pub sync_timeout: Duration,
    /// Default per-flow rate: requests per second (0: none) and burst.
    pub rate_limit: (f64, u32),
}

impl WebhookConfig {
    /// Reads the settings; `database_url` defaults to `webhooks.db` under the data directory.
    pub fn from_settings(s: &Settings) -> WebhookConfig {
        WebhookConfig {
            database_url: s.database_url_or_file("webhooks.db"),
            max_connections: s.database_max_connections,
            grpc_addr: s.grpc_addr,
            identity_url: s.identity_url.clone(),
            flows_url: s.flows_url.clone(),
            executions_url: s.executions_url.clone(),
            rpc_timeout: s.rpc_timeout,
            secrets_key: s.secrets_keyring().map(SecretString::from),
            body_limit_bytes: s.body_limit_bytes,
            sync_timeout: s.webhook_sync_timeout,
            rate_limit: (s.webhook_rate_limit_per_sec, s.webhook_rate_limit_burst),
        }
    }
}
