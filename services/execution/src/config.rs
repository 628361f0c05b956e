//! What the execution service needs from the settings.

use std::{net::SocketAddr, time::Duration};

use flowmate_config::{SecretString, Settings};

/// Execution service configuration.
#[derive(Debug, Clone)]
pub struct ExecutionConfig {
    /// Its own database.
    pub database_url: SecretString,
    /// Connection pool size.
    pub max_connections: u32,
    /// Where gRPC and the operational routes listen (`127.0.0.1:0` picks a free port).
    pub grpc_addr: SocketAddr,
    /// The identity service, for token keys and revocations.
    pub identity_url: String,
    /// The flow repository, read once at start to rebuild the set of running flows.
    pub flows_url: String,
    /// Deadline of calls to other services.
    pub rpc_timeout: Duration,
    /// Triggers one worker holds at once.
    pub concurrency: u16,
    /// How long finished executions are kept; `None` keeps them forever.
    pub retention: Option<chrono::Duration>,
    /// Recorded inputs and outputs larger than this are truncated.
    pub max_output_bytes: usize,
    /// The most steps one execution may run.
    pub max_steps: u32,
    /// The deepest chain of `flow.call`s.
    pub max_depth: u32,
    /// The public base URL of the API (resume URLs of `wait.event`).
    pub public_url: String,
    /// The longest one expression may evaluate.
    pub expression_timeout: Duration,
    /// Whether `http` steps may reach loopback and private networks.
    pub http_allow_private_network: bool,
    /// Default timeout of an `http` step.
    pub http_timeout: Duration,
    /// A code step's time limit unless its node sets one.
    pub code_timeout: Duration,
    /// Memory a code step may allocate, in MiB.
    pub code_memory_mb: u32,
    /// Sandbox threads for code steps (0: one per core).
    pub code_threads: usize,
    /// The largest result a code step may return, in bytes of JSON.
    pub code_max_result_bytes: usize,
    /// The secret service, for steps that name a credential.
    pub secrets_url: String,
    /// The credential presented on the secret service's internal calls.
    pub service_token: Option<SecretString>,
    /// Where `sql.query`'s `sqlite:<file>` URLs point (`None`: SQLite databases are refused).
    pub sql_sqlite_dir: Option<std::path::PathBuf>,
    /// FlowMate's RabbitMQ bus, whose vhost the AMQP connectors may not use (`None`: the embedded queue).
    pub bus_url: Option<SecretString>,
}

impl ExecutionConfig {
    /// Reads the settings; `database_url` defaults to `executions.db` under the data directory.
    pub fn from_settings(s: &Settings) -> ExecutionConfig {
        ExecutionConfig {
            database_url: s.database_url_or_file("executions.db"),
            max_connections: s.database_max_connections,
            grpc_addr: s.grpc_addr,
            identity_url: s.identity_url.clone(),
            flows_url: s.flows_url.clone(),
            rpc_timeout: s.rpc_timeout,
            concurrency: s.execution_concurrency.max(1),
            retention: (s.execution_retention_days > 0)
                .then(|| chrono::Duration::days(i64::from(s.execution_retention_days))),
            max_output_bytes: s.execution_max_output_bytes,
            max_steps: s.execution_max_steps.max(1),
            max_depth: s.execution_max_depth,
            public_url: s.public_url(),
            expression_timeout: s.expression_timeout,
            http_allow_private_network: s.http_allow_private_network,
            http_timeout: s.http_timeout,
            code_timeout: s.code_timeout,
            code_memory_mb: s.code_memory_mb,
            code_threads: usize::from(s.code_threads),
            code_max_result_bytes: s.code_max_result_bytes,
            secrets_url: s.secrets_url.clone(),
            service_token: s.service_token().map(SecretString::from),
            sql_sqlite_dir: s.sql_sqlite_dir.clone(),
            bus_url: s.amqp_url.clone(),
        }
    }
}
