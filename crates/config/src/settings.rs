//! Every FlowMate setting with its default. A key in `flowmate.toml` is the field's serialized name; its
//! environment variable is that name upper-cased with the `FLOWMATE_` prefix (`rpc_timeout_ms`,
//! `FLOWMATE_RPC_TIMEOUT_MS`). Durations keep their unit in the key and are [`Duration`]s here.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use secrecy::SecretString;
use serde::Deserialize;

use crate::units::{millis, secs};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable, for a terminal.
    #[default]
    #[serde(alias = "text")]
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Every FlowMate setting. Each service reads what it needs; every field has a default.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Where standalone mode keeps its SQLite files.
    pub data_dir: PathBuf,
    /// Address of the public REST API (gateway).
    pub http_addr: SocketAddr,
    /// Address a service serves gRPC, `/healthz`, `/readyz` and `/metrics` on (distributed mode).
    pub grpc_addr: SocketAddr,
    /// The service's own database (PostgreSQL or SQLite URL). Standalone mode uses files under `data_dir`.
    pub database_url: Option<SecretString>,
    /// RabbitMQ URL. Unset: the embedded queue under `data_dir`.
    pub amqp_url: Option<SecretString>,
    /// The topic exchange events travel on.
    pub amqp_exchange: String,
    /// Where the other services reach the identity service (distributed mode).
    pub identity_url: String,
    /// Where the gateway, the template, execution and webhook services reach the flow repository.
    pub flows_url: String,
    /// Where the gateway reaches the template service (distributed mode).
    pub templates_url: String,
    /// Where the gateway reaches the execution service (distributed mode).
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
    /// Token lifetime (default 3 h).
    #[serde(rename = "token_ttl_secs", deserialize_with = "secs::deserialize")]
    pub token_ttl: Duration,
    /// Failed logins per account before it is locked.
    pub login_max_failures: u32,
    /// The window failed logins are counted in, and the lock's duration.
    #[serde(rename = "login_lockout_secs", deserialize_with = "secs::deserialize")]
    pub login_lockout: Duration,
    /// Largest request body accepted, in bytes (default 10 MiB).
    pub body_limit_bytes: usize,
    /// Timeout of a call from one service to another.
    #[serde(rename = "rpc_timeout_ms", deserialize_with = "millis::deserialize")]
    pub rpc_timeout: Duration,
    /// `pretty` or `json`.
    pub log_format: LogFormat,
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
    /// The deepest chain of `flow.call`s (a flow calling itself ends with a clear error at this depth).
    pub execution_max_depth: u32,
    /// The public base URL of the REST API, as callers reach it (resume URLs of `wait.event` steps). Unset:
    /// `http://<http_addr>`.
    pub public_url: Option<String>,
    /// The longest one expression may evaluate.
    #[serde(rename = "expression_timeout_ms", deserialize_with = "millis::deserialize")]
    pub expression_timeout: Duration,
    /// A code step's time limit unless its `nodeSettings.timeoutMs` sets one.
    #[serde(rename = "code_timeout_ms", deserialize_with = "millis::deserialize")]
    pub code_timeout: Duration,
    /// Memory one code step may allocate, in MiB.
    pub code_memory_mb: u32,
    /// Threads code steps run on (0: one per core).
    pub code_threads: u16,
    /// The largest result a code step may return, in bytes of JSON.
    pub code_max_result_bytes: usize,
    /// Whether the `http` component may call loopback, private and link-local addresses (off: refused, so a flow
    /// cannot reach the platform's own network).
    pub http_allow_private_network: bool,
    /// Default timeout of an `http` step.
    #[serde(rename = "http_timeout_ms", deserialize_with = "millis::deserialize")]
    pub http_timeout: Duration,
    /// The directory `sql.query` steps' `sqlite:<file>` URLs point into (relative names only). Unset: SQLite
    /// databases are refused, so a flow cannot open the server's own files.
    pub sql_sqlite_dir: Option<PathBuf>,
    /// The key (32 bytes, base64) that encrypts secrets at rest: credentials and webhook HMAC secrets (a keyring
    /// as in `secrets_keys` is accepted too). Standalone mode creates one in `data_dir/secrets.key` when unset;
    /// distributed services that store or use such secrets (secret, flow-repository, webhook) need the same value.
    pub secrets_key: Option<SecretString>,
    /// A keyring in place of `secrets_key`: comma-separated `kid:base64` entries (or bare base64 keys, whose id is
    /// derived from the key). The first seals; every key opens, so a key is rotated by putting the new one first
    /// and running `flowmate secrets rotate`. Wins over `secrets_key` when both are set.
    pub secrets_keys: Option<SecretString>,
    /// A shared credential the execution service presents on the secret service's internal calls (resolving a
    /// credential for a step). Unset in distributed mode: those calls are protected by the NetworkPolicy alone.
    /// Standalone mode generates one per start.
    pub service_token: Option<SecretString>,
    /// Timeout of a call to an OAuth2 token endpoint.
    #[serde(rename = "secrets_token_timeout_ms", deserialize_with = "millis::deserialize")]
    pub secrets_token_timeout: Duration,
    /// How long a sync webhook waits for its execution before answering 202 (at most 55 s).
    #[serde(rename = "webhook_sync_timeout_ms", deserialize_with = "millis::deserialize")]
    pub webhook_sync_timeout: Duration,
    /// Default per-flow webhook rate limit in requests per second (0: none); `flowSettings.webhooks.rateLimit`
    /// overrides it per flow.
    pub webhook_rate_limit_per_sec: f64,
    /// The burst the default rate limit allows.
    pub webhook_rate_limit_burst: u32,
    /// Mark the web console's cookies `Secure` on every response (set it when a TLS proxy in front does not send
    /// `X-Forwarded-Proto: https`; with that header they are `Secure` anyway).
    pub console_secure_cookie: bool,
    /// Origins browser clients on another origin may call the API from (CORS), comma-separated
    /// (`https://ui.example.com,https://admin.example.com`); empty = none; `*` = any origin, without credentials.
    pub cors_origins: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data_dir: PathBuf::from("./data"),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            grpc_addr: SocketAddr::from(([0, 0, 0, 0], 50051)),
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
            token_ttl: Duration::from_secs(3 * 3600),
            login_max_failures: 10,
            login_lockout: Duration::from_secs(15 * 60),
            body_limit_bytes: 10 * 1024 * 1024,
            rpc_timeout: Duration::from_secs(10),
            log_format: LogFormat::Pretty,
            log_filter: "info".into(),
            database_max_connections: 10,
            execution_concurrency: 128,
            execution_retention_days: 14,
            execution_max_output_bytes: 64 * 1024,
            execution_max_steps: 10_000,
            execution_max_depth: 8,
            public_url: None,
            expression_timeout: Duration::from_secs(1),
            code_timeout: Duration::from_secs(1),
            code_memory_mb: 64,
            code_threads: 0,
            code_max_result_bytes: 4 * 1024 * 1024,
            http_allow_private_network: false,
            http_timeout: Duration::from_secs(30),
            sql_sqlite_dir: None,
            secrets_key: None,
            secrets_keys: None,
            service_token: None,
            secrets_token_timeout: Duration::from_secs(10),
            webhook_sync_timeout: Duration::from_secs(30),
            webhook_rate_limit_per_sec: 0.0,
            webhook_rate_limit_burst: 100,
            console_secure_cookie: false,
            cors_origins: String::new(),
        }
    }
}
