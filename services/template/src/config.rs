//! What the template service needs from the settings.

use std::time::Duration;

use flowmate_config::Settings;

/// Template service configuration.
#[derive(Clone)]
pub struct TemplateConfig {
    /// Its own database.
    pub database_url: String,
    /// Connection pool size.
    pub max_connections: u32,
    /// Where gRPC and the operational routes listen (`127.0.0.1:0` picks a free port).
    pub grpc_addr: String,
    /// The identity service, for token keys and revocations.
    pub identity_url: String,
    /// The flow repository, which creates generated flows.
    pub flows_url: String,
    /// Deadline of calls to other services.
    pub rpc_timeout: Duration,
}

impl std::fmt::Debug for TemplateConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TemplateConfig")
            .field("grpc_addr", &self.grpc_addr)
            .finish_non_exhaustive()
    }
}

impl TemplateConfig {
    /// Reads the settings; `database_url` defaults to `templates.db` under the data directory.
    pub fn from_settings(s: &Settings) -> TemplateConfig {
        TemplateConfig {
            database_url: s
                .database_url()
                .map(str::to_owned)
                .unwrap_or_else(|| flowmate_store::Db::sqlite_url(&s.data_dir.join("templates.db"))),
            max_connections: s.database_max_connections,
            grpc_addr: s.grpc_addr.clone(),
            identity_url: s.identity_url.clone(),
            flows_url: s.flows_url.clone(),
            rpc_timeout: Duration::from_millis(s.rpc_timeout_ms),
        }
    }
}
