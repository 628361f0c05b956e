//! What the template service needs from the settings.

use std::{net::SocketAddr, time::Duration};

use flowmate_config::{SecretString, Settings};

/// Template service configuration.
#[derive(Debug, Clone)]
pub struct TemplateConfig {
    /// Its own database.
    pub database_url: SecretString,
    /// Connection pool size.
    pub max_connections: u32,
    /// Where gRPC and the operational routes listen (`127.0.0.1:0` picks a free port).
    pub grpc_addr: SocketAddr,
    /// The identity service, for token keys and revocations.
    pub identity_url: String,
    /// The flow repository, which creates generated flows.
    pub flows_url: String,
    /// Deadline of calls to other services.
    pub rpc_timeout: Duration,
}

impl TemplateConfig {
    /// Reads the settings; `database_url` defaults to `templates.db` under the data directory.
    pub fn from_settings(s: &Settings) -> TemplateConfig {
        TemplateConfig {
            database_url: s.database_url_or_file("templates.db"),
            max_connections: s.database_max_connections,
            grpc_addr: s.grpc_addr,
            identity_url: s.identity_url.clone(),
            flows_url: s.flows_url.clone(),
            rpc_timeout: s.rpc_timeout,
        }
    }
}
