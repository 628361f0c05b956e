//! What the identity service needs from the settings.

use flowmate_config::{ExposeSecret, Settings};

use crate::core::Policy;

/// Identity service configuration.
#[derive(Clone)]
pub struct IdentityConfig {
    /// Its own database.
    pub database_url: String,
    /// Connection pool size.
    pub max_connections: u32,
    /// Where gRPC and the operational routes listen (`127.0.0.1:0` picks a free port).
    pub grpc_addr: String,
    /// Token and login-throttling policy.
    pub policy: Policy,
    /// The first admin's username.
    pub admin_username: String,
    /// The first admin's password (generated when unset).
    pub admin_password: Option<String>,
    /// The tenant created on first start.
    pub default_tenant: String,
}

impl std::fmt::Debug for IdentityConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityConfig")
            .field("grpc_addr", &self.grpc_addr)
            .field("policy", &self.policy)
            .field("admin_username", &self.admin_username)
            .finish_non_exhaustive()
    }
}

impl IdentityConfig {
    /// Reads the settings; `database_url` defaults to `identity.db` under the data directory.
    pub fn from_settings(s: &Settings) -> IdentityConfig {
        let database_url = s
            .database_url()
            .map(str::to_owned)
            .unwrap_or_else(|| flowmate_store::Db::sqlite_url(&s.data_dir.join("identity.db")));
        IdentityConfig {
            database_url,
            max_connections: s.database_max_connections,
            grpc_addr: s.grpc_addr.clone(),
            policy: Policy {
                token_ttl_secs: s.token_ttl_secs as i64,
                max_failures: s.login_max_failures.max(1) as i64,
                lockout_secs: s.login_lockout_secs as i64,
            },
            admin_username: s.admin_username.clone(),
            admin_password: s.admin_password.as_ref().map(|p| p.expose_secret().to_owned()),
            default_tenant: s.default_tenant.clone(),
        }
    }
}
