//! What the flow repository needs from the settings.

use std::time::Duration;

use flowmate_config::Settings;

/// Flow repository configuration.
#[derive(Clone)]
pub struct FlowConfig {
    /// Its own database.
    pub database_url: String,
    /// Connection pool size.
    pub max_connections: u32,
    /// Where gRPC and the operational routes listen (`127.0.0.1:0` picks a free port).
    pub grpc_addr: String,
    /// The identity service, for token keys and revocations.
    pub identity_url: String,
    /// Deadline of calls to identity.
    pub rpc_timeout: Duration,
    /// The keyring sealing webhook HMAC secrets (`kid:base64,…` or one base64 key of 32 bytes; the first key
    /// seals); without it such secrets cannot be stored.
    pub secrets_key: Option<String>,
}

impl std::fmt::Debug for FlowConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowConfig")
            .field("grpc_addr", &self.grpc_addr)
            .finish_non_exhaustive()
    }
}

impl FlowConfig {
    /// Reads the settings; `database_url` defaults to `flows.db` under the data directory.
    pub fn from_settings(s: &Settings) -> FlowConfig {
        FlowConfig {
            database_url: s
                .database_url()
                .map(str::to_owned)
                .unwrap_or_else(|| flowmate_store::Db::sqlite_url(&s.data_dir.join("flows.db"))),
            max_connections: s.database_max_connections,
            grpc_addr: s.grpc_addr.clone(),
            identity_url: s.identity_url.clone(),
            rpc_timeout: Duration::from_millis(s.rpc_timeout_ms),
            secrets_key: s.secrets_keyring().map(str::to_owned),
        }
    }
}
