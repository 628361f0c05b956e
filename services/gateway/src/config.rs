//! What the gateway needs from the settings.

use std::{net::SocketAddr, time::Duration};

use flowmate_config::Settings;

/// Gateway configuration.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Where the public REST API listens (`127.0.0.1:0` picks a free port).
    pub http_addr: SocketAddr,
    /// The identity service's gRPC address (`http://host:port`).
    pub identity_url: String,
    /// The flow repository's gRPC address.
    pub flows_url: String,
    /// The template service's gRPC address.
    pub templates_url: String,
    /// The execution service's gRPC address.
    pub executions_url: String,
    /// The webhook service's gRPC address.
    pub webhooks_url: String,
    /// The secret service's gRPC address.
    pub secrets_url: String,
    /// Largest accepted request body.
    pub body_limit_bytes: usize,
    /// Deadline of each call to a service.
    pub rpc_timeout: Duration,
    /// How often keys and revocations are refreshed besides the revocation events.
    pub auth_refresh: Duration,
    /// The web console's options.
    pub console: crate::console::ConsoleConfig,
    /// Origins allowed to call the API from a browser (CORS); empty = none, `["*"]` = any, without credentials.
    pub cors_origins: Vec<String>,
}

impl GatewayConfig {
    /// Reads the settings.
    pub fn from_settings(s: &Settings) -> GatewayConfig {
        GatewayConfig {
            http_addr: s.http_addr,
            identity_url: s.identity_url.clone(),
            flows_url: s.flows_url.clone(),
            templates_url: s.templates_url.clone(),
            executions_url: s.executions_url.clone(),
            webhooks_url: s.webhooks_url.clone(),
            secrets_url: s.secrets_url.clone(),
            body_limit_bytes: s.body_limit_bytes,
            rpc_timeout: s.rpc_timeout,
            auth_refresh: flowmate_runtime::KEY_REFRESH,
            console: crate::console::ConsoleConfig {
                secure_cookie: s.console_secure_cookie,
            },
            cors_origins: s
                .cors_origins
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
        }
    }
}
