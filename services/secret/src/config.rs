//! What the secret service needs from the settings.

use std::time::Duration;

use flowmate_config::Settings;

/// Secret service configuration.
#[derive(Clone)]
pub struct SecretConfig {
    /// Its own database.
    pub database_url: String,
    /// Connection pool size.
    pub max_connections: u32,
    /// Where gRPC and the operational routes listen (`127.0.0.1:0` picks a free port).
    pub grpc_addr: String,
    /// The identity service, for token keys and revocations.
    pub identity_url: String,
    /// Deadline of calls to other services.
    pub rpc_timeout: Duration,
    /// The keyring that seals values (`kid:base64,…` or one base64 key); required.
    pub secrets_keys: Option<String>,
    /// The credential internal calls must present (`None`: internal calls are open to whoever reaches the port,
    /// which the NetworkPolicy limits to the gateway and the execution service).
    pub service_token: Option<String>,
    /// Whether token endpoints may be on loopback and private networks.
    pub allow_private_network: bool,
    /// Timeout of a call to a token endpoint.
    pub token_timeout: Duration,
}

impl std::fmt::Debug for SecretConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretConfig")
            .field("grpc_addr", &self.grpc_addr)
            .finish_non_exhaustive()
    }
}

impl SecretConfig {
    /// Reads the settings; `database_url` defaults to `secrets.db` under the data directory, the keyring to
    /// `secrets_keys`, else `secrets_key`.
    pub fn from_settings(s: &Settings) -> SecretConfig {
        SecretConfig {
            database_url: s
                .database_url()
                .map(str::to_owned)
                .unwrap_or_else(|| flowmate_store::Db::sqlite_url(&s.data_dir.join("secrets.db"))),
            max_connections: s.database_max_connections,
            grpc_addr: s.grpc_addr.clone(),
            identity_url: s.identity_url.clone(),
            rpc_timeout: Duration::from_millis(s.rpc_timeout_ms),
            secrets_keys: s.secrets_keyring().map(str::to_owned),
            service_token: s.service_token().map(str::to_owned),
            allow_private_network: s.http_allow_private_network,
            token_timeout: Duration::from_millis(s.secrets_token_timeout_ms.max(1)),
        }
    }
}
