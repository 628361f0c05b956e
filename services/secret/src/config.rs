//! What the secret service needs from the settings.

use std::{net::SocketAddr, time::Duration};

use flowmate_config::{SecretString, Settings};

/// Secret service configuration.
#[derive(Debug, Clone)]
pub struct SecretConfig {
    /// Its own database.
    pub database_url: SecretString,
    /// Connection pool size.
    pub max_connections: u32,
    /// Where gRPC and the operational routes listen (`127.0.0.1:0` picks a free port).
    pub grpc_addr: SocketAddr,
    /// The identity service, for token keys and revocations.
    pub identity_url: String,
    /// Deadline of calls to other services.
    pub rpc_timeout: Duration,
    /// The keyring that seals values (`kid:base64,…` or one base64 key); required.
    pub secrets_keys: Option<SecretString>,
    /// The credential internal calls must present (`None`: internal calls are open to whoever reaches the port,
    /// which the NetworkPolicy limits to the gateway and the execution service).
    pub service_token: Option<SecretString>,
    /// Whether token endpoints may be on loopback and private networks.
    pub allow_private_network: bool,
    /// Timeout of a call to a token endpoint.
    pub token_timeout: Duration,
}

impl SecretConfig {
    /// Reads the settings; `database_url` defaults to `secrets.db` under the data directory, the keyring to
    /// `secrets_keys`, else `secrets_key`.
    pub fn from_settings(s: &Settings) -> SecretConfig {
        SecretConfig {
            database_url: s.database_url_or_file("secrets.db"),
            max_connections: s.database_max_connections,
            grpc_addr: s.grpc_addr,
            identity_url: s.identity_url.clone(),
            rpc_timeout: s.rpc_timeout,
            secrets_keys: s.secrets_keyring().map(SecretString::from),
            service_token: s.service_token().map(SecretString::from),
            allow_private_network: s.http_allow_private_network,
            token_timeout: s.secrets_token_timeout,
        }
    }
}
