//! What the webhook service needs from the settings.

use std::time::Duration;

use flowmate_config::Settings;

/// Webhook service configuration.
#[derive(Clone)]
pub struct WebhookConfig {
    /// Its own database (Idempotency-Key records).
    pub database_url: String,
    /// Connection pool size.
    pub max_connections: u32,
    /// Where gRPC and the operational routes listen (`127.0.0.1:0` picks a free port).
    pub grpc_addr: String,
    /// The identity service, for token keys and revocations.
    pub identity_url: String,
    /// The flow repository, for the active flows at start.
    pub flows_url: String,
    /// Deadline of calls to other services.
    pub rpc_timeout: Duration,
    /// Opens sealed HMAC secrets: a keyring (`kid:base64,…`) or one base64 key of 32 bytes.
    pub secrets_key: Option<String>,
    /// Largest accepted body.
    pub body_limit_bytes: usize,
    /// How long a sync webhook waits by default.
    pub sync_timeout: Duration,
    /// Default per-flow rate: requests per second (0: none) and burst.
    pub rate_limit: (f64, u32),
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("grpc_addr", &self.grpc_addr)
            .finish_non_exhaustive()
    }
}

impl WebhookConfig {
    /// Reads the settings; `database_url` defaults to `webhooks.db` under the data directory.
    pub fn from_settings(s: &Settings) -> WebhookConfig {
        WebhookConfig {
            database_url: s
                .database_url()
                .map(str::to_owned)
                .unwrap_or_else(|| flowmate_store::Db::sqlite_url(&s.data_dir.join("webhooks.db"))),
            max_connections: s.database_max_connections,
            grpc_addr: s.grpc_addr.clone(),
            identity_url: s.identity_url.clone(),
            flows_url: s.flows_url.clone(),
            rpc_timeout: Duration::from_millis(s.rpc_timeout_ms),
            secrets_key: s.secrets_keyring().map(str::to_owned),
            body_limit_bytes: s.body_limit_bytes,
            // Capped like flowSettings.webhooks.syncTimeoutMs (an Idempotency-Key repeat takes a request unanswered
            // after 60 s for crashed).
            sync_timeout: Duration::from_millis(s.webhook_sync_timeout_ms.clamp(1, 55_000)),
            rate_limit: (
                s.webhook_rate_limit_per_sec.max(0.0),
                s.webhook_rate_limit_burst.max(1),
            ),
        }
    }
}
