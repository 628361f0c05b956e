//! What the flow repository needs from the settings.

use std::{net::SocketAddr, time::Duration};

use flowmate_config::{SecretString, Settings};

/// Flow repository configuration.
#[derive(Debug, Clone)]
pub struct FlowConfig {
    /// Its own database.
    pub database_url: SecretString,
    /// Connection pool size.
    pub max_connections: u32,
    /// Where gRPC and the operational routes listen (`127.0.0.1:0` picks a free port).
    pub grpc_addr: SocketAddr,
    /// The identity service, for token keys and revocations.
    pub identity_url: String,
    /// Deadline of calls to identity.
    pub rpc_timeout: Duration,
    /// The keyring sealing webhook HMAC secrets (`kid:base64,…` or one base64 key of 32 bytes; the first key
    /// seals); without it such secrets cannot be stored.
    pub secrets_key: Option<SecretString>,
}

impl FlowConfig {
    /// Reads the settings; `database_url` defaults to `flows.db` under the data directory.
    pub fn from_settings(s: &Settings) -> FlowConfig {
        FlowConfig {
            database_url: s.database_url_or_file("flows.db"),
            max_connections: s.database_max_connections,
            grpc_addr: s.grpc_addr,
            identity_url: s.identity_url.clone(),
            rpc_timeout: s.rpc_timeout,
            secrets_key: s.secrets_keyring().map(SecretString::from),
        }
    }
}
