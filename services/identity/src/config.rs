//! What the identity service needs from the settings.

use std::net::SocketAddr;

use flowmate_config::{SecretString, Settings};

use crate::core::Policy;

/// Identity service configuration.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    /// Its own database.
    pub database_url: SecretString,
    /// Connection pool size.
    pub max_connections: u32,
    /// Where gRPC and the operational routes listen (`127.0.0.1:0` picks a free port).
    pub grpc_addr: SocketAddr,
    /// Token and login-throttling policy.
    pub policy: Policy,
    /// The first admin's username.
    pub admin_username: String,
    /// The first admin's password (generated when unset).
    pub admin_password: Option<SecretString>,
    /// The tenant created on first start.
    pub default_tenant: String,
}

impl IdentityConfig {
    /// Reads the settings; `database_url` defaults to `identity.db` under the data directory.
    pub fn from_settings(s: &Settings) -> IdentityConfig {
        IdentityConfig {
            database_url: s.database_url_or_file("identity.db"),
            max_connections: s.database_max_connections,
            grpc_addr: s.grpc_addr,
            policy: Policy {
                token_ttl_secs: s.token_ttl.as_secs() as i64,
                max_failures: i64::from(s.login_max_failures.max(1)),
                lockout_secs: s.login_lockout.as_secs() as i64,
            },
            admin_username: s.admin_username.clone(),
            admin_password: s.admin_password.clone(),
            default_tenant: s.default_tenant.clone(),
        }
    }
}
