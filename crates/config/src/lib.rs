//! Layered configuration: built-in defaults (which run standalone with nothing installed), then a TOML file, then
//! `FLOWMATE_*` environment variables. Secrets are redacted in `Debug` output.

use std::path::PathBuf;

use figment::{
    providers::{Env, Format, Toml},
    Figment,
};
pub use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Configuration could not be read.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

/// Every FlowMate setting. Each service reads what it needs; every field has a default.
///
/// Environment variables are the field names upper-cased with the `FLOWMATE_` prefix (`FLOWMATE_HTTP_ADDR`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Where standalone mode keeps its SQLite files.
    pub data_dir: PathBuf,
    /// Address of the public REST API (gateway).
    pub http_addr: String,
    /// Address a service serves gRPC, `/healthz`, `/readyz` and `/metrics` on (distributed mode).
    pub grpc_addr: String,
    /// The service's own database (PostgreSQL or SQLite URL). Standalone mode uses files under `data_dir`.
    pub database_url: Option<SecretString>,
    /// RabbitMQ URL. Unset: the embedded queue under `data_dir`.
    pub amqp_url: Option<SecretString>,
    /// The topic exchange events travel on.
    pub amqp_exchange: String,
    /// Where the gateway and other services reach the identity service (distributed mode).
    pub identity_url: String,
    /// Where the gateway and other services reach the flow repository (distributed mode).
    pub flows_url: String,
    /// Where the gateway reaches the template service (distributed mode).
    pub templates_url: String,
    /// Where the gateway and other services reach the execution service (distributed mode).
    pub executions_url: String,
    /// Where the gateway reaches the webhook service (distributed mode).
    pub webhooks_url: String,
    /// Where the gateway and the execution service reach the secret service (distributed mode).
    pub secrets_url: String,
    /// The admin account created on first start.
    pub admin_username: String,
    /// Its password; when unset a random one is generated and printed once.
    pub admin_password: Option<SecretString>,
    /// Name of the tenant created on first start.
    pub default_tenant: String,
    /// Token lifetime in seconds (default 3 h).
    pub token_ttl_secs: u64,
    /// Failed logins per account before it is locked.
    pub login_max_failures: u32,
    /// The window failed logins are counted in, and the lock's duration, in seconds.
    pub login_lockout_secs: u64,
    /// Largest request body accepted, in bytes (default 10 MiB).
    pub body_limit_bytes: usize,
    /// Timeout of a call from one service to another, in milliseconds.
    pub rpc_timeout_ms: u64,
    /// `pretty` or `json`.
    pub log_format: String,
    /// Log filter when `RUST_LOG` is unset.
    pub log_filter: String,
    /// Maximum database connections per service.
    pub database_max_connections: u32,
    /// Triggers one execution worker holds at once (bounded prefetch of the work queue).
    pub execution_concurrency: u16,
    /// Executions are deleted this many days after they finished (0 keeps them forever).
    pub execution_retention_days: u32,
    /// A step's recorded input or output larger than this (bytes of JSON) is replaced by a truncation marker.
    pub execution_max_output_bytes: usize,
    /// The most steps one execution may run (guards against cycles that never end).
    pub execution_max_steps: u32,
    /// The longest one expression may evaluate, in milliseconds.
    pub expression_timeout_ms: u64,
    /// Whether the `http` component may call loopback, private and link-local addresses (off: refused, so a flow
    /// cannot reach the platform's own network).
    pub http_allow_private_network: bool,
    /// Default timeout of an `http` step, in milliseconds.
    pub http_timeout_ms: u64,
    /// The key (32 bytes, base64) that encrypts secrets at rest such as webhook HMAC secrets. Standalone mode
    /// creates one in `data_dir/secrets.key` when unset; distributed services that store or use such secrets
    /// (flow-repository, webhook) need the same value.
    pub secrets_key: Option<SecretString>,
    /// A keyring in place of `secrets_key`: comma-separated `kid:base64` entries (or bare base64 keys, whose id is
    /// derived from the key). The first seals; every key opens, so a key is rotated by putting the new one first
    /// and running `flowmate secrets rotate`. Wins over `secrets_key` when both are set.
    pub secrets_keys: Option<SecretString>,
    /// A shared credential the execution service presents on the secret service's internal calls (resolving a
    /// credential for a step). Unset in distributed mode: those calls are protected by the NetworkPolicy alone.
    /// Standalone mode generates one per start.
    pub service_token: Option<SecretString>,
    /// Timeout of a call to an OAuth2 token endpoint, in milliseconds.
    pub secrets_token_timeout_ms: u64,
    /// How long a sync webhook waits for its execution before answering 202, in milliseconds.
    pub webhook_sync_timeout_ms: u64,
    /// Default per-flow webhook rate limit in requests per second (0: none); `flowSettings.webhooks.rateLimit`
    /// overrides it per flow.
    pub webhook_rate_limit_per_sec: f64,
    /// The burst the default rate limit allows.
    pub webhook_rate_limit_burst: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data_dir: PathBuf::from("./data"),
            http_addr: "127.0.0.1:3000".into(),
            grpc_addr: "0.0.0.0:50051".into(),
            database_url: None,
            amqp_url: None,
            amqp_exchange: "flowmate.events".into(),
            identity_url: "http://127.0.0.1:50051".into(),
            flows_url: "http://127.0.0.1:50052".into(),
            templates_url: "http://127.0.0.1:50053".into(),
            executions_url: "http://127.0.0.1:50054".into(),
            webhooks_url: "http://127.0.0.1:50055".into(),
            secrets_url: "http://127.0.0.1:50056".into(),
            admin_username: "admin@flowmate.local".into(),
            admin_password: None,
            default_tenant: "default".into(),
            token_ttl_secs: 3 * 3600,
            login_max_failures: 10,
            login_lockout_secs: 15 * 60,
            body_limit_bytes: 10 * 1024 * 1024,
            rpc_timeout_ms: 10_000,
            log_format: "pretty".into(),
            log_filter: "info".into(),
            database_max_connections: 10,
            execution_concurrency: 128,
            execution_retention_days: 14,
            execution_max_output_bytes: 64 * 1024,
            execution_max_steps: 10_000,
            expression_timeout_ms: 1_000,
            http_allow_private_network: false,
            http_timeout_ms: 30_000,
            secrets_key: None,
            secrets_keys: None,
            service_token: None,
            secrets_token_timeout_ms: 10_000,
            webhook_sync_timeout_ms: 30_000,
            webhook_rate_limit_per_sec: 0.0,
            webhook_rate_limit_burst: 100,
        }
    }
}

impl Settings {
    /// Reads defaults, then the TOML file named by `FLOWMATE_CONFIG` (default `flowmate.toml`, if present), then
    /// `FLOWMATE_*` environment variables.
    pub fn load() -> Result<Settings, ConfigError> {
        let file = std::env::var("FLOWMATE_CONFIG").unwrap_or_else(|_| "flowmate.toml".into());
        Self::figment(&file)
            .extract()
            .map_err(|e| ConfigError(e.to_string()))
    }

    fn figment(file: &str) -> Figment {
        Figment::new()
            .merge(Toml::file(file))
            .merge(Env::prefixed("FLOWMATE_").ignore(&["config"]))
    }

    /// The database URL if one is configured.
    pub fn database_url(&self) -> Option<&str> {
        self.database_url.as_ref().map(|s| s.expose_secret())
    }

    /// The secrets key if one is configured.
    pub fn secrets_key(&self) -> Option<&str> {
        self.secrets_key.as_ref().map(|s| s.expose_secret())
    }

    /// The secrets keyring if one is configured: `secrets_keys`, else `secrets_key` (both parse as a keyring).
    pub fn secrets_keyring(&self) -> Option<&str> {
        self.secrets_keys
            .as_ref()
            .map(|s| s.expose_secret())
            .filter(|s| !s.trim().is_empty())
            .or_else(|| self.secrets_key())
    }

    /// The service credential if one is configured.
    pub fn service_token(&self) -> Option<&str> {
        self.service_token
            .as_ref()
            .map(|s| s.expose_secret())
            .filter(|s| !s.is_empty())
    }

    /// The RabbitMQ URL if one is configured.
    pub fn amqp_url(&self) -> Option<&str> {
        self.amqp_url.as_ref().map(|s| s.expose_secret())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_file_overrides_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("f.toml", "http_addr = \"127.0.0.1:4000\"\ntoken_ttl_secs = 60\n")?;
            jail.set_env("FLOWMATE_TOKEN_TTL_SECS", "120");
            jail.set_env("FLOWMATE_ADMIN_PASSWORD", "s3cret-password");
            let s: Settings = Settings::figment("f.toml").extract()?;
            assert_eq!(s.http_addr, "127.0.0.1:4000");
            assert_eq!(s.token_ttl_secs, 120);
            assert_eq!(s.body_limit_bytes, 10 * 1024 * 1024);
            assert!(
                !format!("{s:?}").contains("s3cret"),
                "secrets are redacted in Debug"
            );
            Ok(())
        });
    }
}
