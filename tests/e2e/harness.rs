//! Starts FlowMate for one test in either run mode and stops it afterwards.
//!
//! - standalone: `flowmate::start` in this process — SQLite files in a temp dir, the embedded queue;
//! - distributed: identity and gateway started separately, identity on its own PostgreSQL database, each with its
//!   own RabbitMQ connection, talking gRPC over loopback (skipped locally without `TEST_DATABASE_URL` /
//!   `TEST_AMQP_URL`; required in CI).

use std::{sync::Arc, time::Duration};

use base64::{engine::general_purpose::STANDARD, Engine};
use flowmate_auth::{Claims, Signer};
use flowmate_bus::SharedBus;
use flowmate_config::{SecretString, Settings};
use flowmate_testkit::{amqp_url, Api, PgDatabase, TempDir};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The admin every test app starts with.
pub const ADMIN: &str = "admin@example.com";
/// Its password.
pub const ADMIN_PASSWORD: &str = "admin-password-1";
/// The body limit of test apps (small, so 413 is cheap to provoke).
pub const BODY_LIMIT: usize = 64 * 1024;
/// Failed logins before an account is locked in test apps.
pub const MAX_FAILURES: u32 = 3;

/// Which way FlowMate runs.
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    Standalone,
    Distributed,
}

/// A running FlowMate for one test.
pub struct App {
    pub api: Api,
    /// The admin's token.
    pub admin: String,
    /// The bus the services share; tests publish on it what services not yet involved would (e.g. the execution
    /// service's `flow.started`).
    pub bus: SharedBus,
    identity_db: String,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    databases: Option<Databases>,
    /// RabbitMQ URL and exchange of a distributed app, deleted at the end.
    amqp: Option<(String, String)>,
    settings: Settings,
    /// Identity's, the flow repository's and the secret service's gRPC addresses of a distributed app (for extra
    /// replicas).
    urls: Option<(String, String, String)>,
    _dir: TempDir,
}

/// Every service of a test app listens on a free loopback port.
const LOOPBACK: std::net::SocketAddr =
    std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

fn settings(dir: &TempDir) -> Settings {
    Settings {
        data_dir: dir.path().to_path_buf(),
        http_addr: LOOPBACK,
        grpc_addr: LOOPBACK,
        admin_username: ADMIN.into(),
        admin_password: Some(SecretString::from(ADMIN_PASSWORD)),
        login_max_failures: MAX_FAILURES,
        login_lockout: Duration::from_secs(60),
        body_limit_bytes: BODY_LIMIT,
        database_max_connections: 4,
        // Tests call HTTP servers they start on loopback.
        http_allow_private_network: true,
        // Distributed services share it (standalone would create one in the data dir).
        secrets_key: Some(SecretString::from("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")),
        ..Settings::default()
    }
}

/// The PostgreSQL databases of a distributed app, one per service.
struct Databases {
    identity: PgDatabase,
    flows: PgDatabase,
    templates: PgDatabase,
    executions: PgDatabase,
    webhooks: PgDatabase,
    secrets: PgDatabase,
}

/// Starts FlowMate in `mode`; `None` when the mode's servers are not configured (never in CI).
pub async fn spawn(mode: Mode) -> Option<App> {
    spawn_with(mode, |_| {}).await
}

/// Like [`spawn`], with the test's settings changed by `adjust` first.
pub async fn spawn_with(mode: Mode, adjust: impl FnOnce(&mut Settings)) -> Option<App> {
    flowmate_testkit::init_tracing();
    let dir = TempDir::new().expect("temp dir");
    let mut settings = settings(&dir);
    adjust(&mut settings);
    let (databases, amqp) = match mode {
        Mode::Standalone => (None, None),
        Mode::Distributed => {
            let amqp = amqp_url()?;
            let dbs = Databases {
                identity: PgDatabase::create().await?,
                flows: PgDatabase::create().await?,
                templates: PgDatabase::create().await?,
                executions: PgDatabase::create().await?,
                webhooks: PgDatabase::create().await?,
                secrets: PgDatabase::create().await?,
            };
            let exchange = format!("flowmate.test.{}", uuid::Uuid::new_v4().simple());
            (Some(dbs), Some((amqp, exchange)))
        }
    };
    let mut app = App {
        api: Api::new(String::new()),
        admin: String::new(),
        bus: Arc::new(flowmate_testkit::RecordingBus::default()), // replaced by boot
        identity_db: String::new(),
        shutdown: CancellationToken::new(),
        tasks: vec![],
        databases,
        amqp,
        settings,
        urls: None,
        _dir: dir,
    };
    app.boot().await;
    Some(app)
}

impl App {
    /// Starts every service on the app's data (again, after [`App::halt`]) and logs the admin in.
    async fn boot(&mut self) {
        let shutdown = CancellationToken::new();
        let settings = self.settings.clone();
        match (&self.databases, &self.amqp) {
            (Some(dbs), Some((amqp, exchange))) => {
                // Every service gets a connection of its own, as separate processes would.
                let connect = || async {
                    let bus: SharedBus = Arc::new(
                        flowmate_bus::amqp::AmqpBus::connect(amqp, exchange)
                            .await
                            .expect("amqp"),
                    );
                    bus
                };
                let mut identity_config = flowmate_identity::IdentityConfig::from_settings(&settings);
                identity_config.database_url = dbs.identity.url.clone().into();
                let (identity, _) =
                    flowmate_identity::start(identity_config, connect().await, shutdown.clone())
                        .await
                        .expect("identity");
                let identity_url = format!("http://{}", identity.addr);
                let mut flows_config = flowmate_flow_repository::FlowConfig::from_settings(&settings);
                flows_config.database_url = dbs.flows.url.clone().into();
                flows_config.identity_url = identity_url.clone();
                let flows = flowmate_flow_repository::start(flows_config, connect().await, shutdown.clone())
                    .await
                    .expect("flows");
                let flows_url = format!("http://{}", flows.addr);
                let mut templates_config = flowmate_template::TemplateConfig::from_settings(&settings);
                templates_config.database_url = dbs.templates.url.clone().into();
                templates_config.identity_url = identity_url.clone();
                templates_config.flows_url = flows_url.clone();
                let templates = flowmate_template::start(templates_config, connect().await, shutdown.clone())
                    .await
                    .expect("templates");
                let mut secrets_config = flowmate_secret::SecretConfig::from_settings(&settings);
                secrets_config.database_url = dbs.secrets.url.clone().into();
                secrets_config.identity_url = identity_url.clone();
                let secrets = flowmate_secret::start(secrets_config, connect().await, shutdown.clone())
                    .await
                    .expect("secrets");
                let secrets_url = format!("http://{}", secrets.addr);
                let mut executions_config = flowmate_execution::ExecutionConfig::from_settings(&settings);
                executions_config.database_url = dbs.executions.url.clone().into();
                executions_config.identity_url = identity_url.clone();
                executions_config.flows_url = flows_url.clone();
                executions_config.secrets_url = secrets_url.clone();
                let executions =
                    flowmate_execution::start(executions_config, connect().await, shutdown.clone())
                        .await
                        .expect("executions");
                let mut webhooks_config = flowmate_webhook::WebhookConfig::from_settings(&settings);
                webhooks_config.database_url = dbs.webhooks.url.clone().into();
                webhooks_config.identity_url = identity_url.clone();
                webhooks_config.flows_url = flows_url.clone();
                webhooks_config.executions_url = format!("http://{}", executions.addr);
                let webhooks = flowmate_webhook::start(webhooks_config, connect().await, shutdown.clone())
                    .await
                    .expect("webhooks");
                let (identity_url_copy, flows_url_copy) = (identity_url.clone(), flows_url.clone());
                let mut gateway_config = flowmate_gateway::GatewayConfig::from_settings(&settings);
                gateway_config.identity_url = identity_url;
                gateway_config.flows_url = flows_url;
                gateway_config.templates_url = format!("http://{}", templates.addr);
                gateway_config.executions_url = format!("http://{}", executions.addr);
                gateway_config.webhooks_url = format!("http://{}", webhooks.addr);
                gateway_config.secrets_url = secrets_url.clone();
                let gateway = flowmate_gateway::start(gateway_config, connect().await, shutdown.clone())
                    .await
                    .expect("gateway");
                self.api = Api::new(format!("http://{}", gateway.addr));
                self.bus = connect().await;
                self.identity_db = dbs.identity.url.clone();
                self.tasks = vec![
                    gateway.task,
                    webhooks.task,
                    executions.task,
                    secrets.task,
                    templates.task,
                    flows.task,
                    identity.task,
                ];
                self.urls = Some((identity_url_copy, flows_url_copy, secrets_url));
            }
            _ => {
                let running = flowmate::start(&settings, shutdown.clone())
                    .await
                    .expect("standalone start");
                self.api = Api::new(format!("http://{}", running.http_addr));
                self.bus = running.bus.clone();
                self.identity_db = standalone_identity_db(&self._dir);
                self.tasks = vec![tokio::spawn(running.stopped())];
            }
        }
        self.shutdown = shutdown;
        wait_ready(&self.api).await;
        self.admin = self.api.login(ADMIN, ADMIN_PASSWORD).await;
    }

    /// Stops every service, keeping the data.
    async fn halt(&mut self) {
        // Let go of the bus, so a standalone restart can own the queue file again.
        self.bus = Arc::new(flowmate_testkit::RecordingBus::default());
        self.shutdown.cancel();
        for task in self.tasks.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }

    /// The execution service's database URL.
    pub fn executions_db(&self) -> String {
        match &self.databases {
            Some(dbs) => dbs.executions.url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self._dir.path().join("executions.db").display()
            ),
        }
    }

    /// A second execution service replica on the same database and broker (distributed apps only); it stops
    /// when the returned token is cancelled.
    pub async fn execution_replica(&self) -> Option<(JoinHandle<()>, CancellationToken)> {
        let (dbs, (amqp, exchange), (identity_url, flows_url, secrets_url)) =
            (self.databases.as_ref()?, self.amqp.as_ref()?, self.urls.as_ref()?);
        let bus: SharedBus = Arc::new(
            flowmate_bus::amqp::AmqpBus::connect(amqp, exchange)
                .await
                .expect("amqp"),
        );
        let mut config = flowmate_execution::ExecutionConfig::from_settings(&self.settings);
        config.database_url = dbs.executions.url.clone().into();
        config.identity_url = identity_url.clone();
        config.flows_url = flows_url.clone();
        config.secrets_url = secrets_url.clone();
        let shutdown = CancellationToken::new();
        let running = flowmate_execution::start(config, bus, shutdown.clone())
            .await
            .expect("execution replica");
        Some((running.task, shutdown))
    }

    /// Stops every service and starts them again on the same data (a restart of every process).
    pub async fn restart(&mut self) {
        self.halt().await;
        self.boot().await;
    }

    /// Like [`App::restart`], with the settings changed by `adjust` first (e.g. a new secrets keyring).
    pub async fn restart_with(&mut self, adjust: impl FnOnce(&mut Settings)) {
        self.halt().await;
        adjust(&mut self.settings);
        self.boot().await;
    }

    /// The settings the services run with, pointing at the secret service's database (for `flowmate secrets
    /// rotate`, which connects to it).
    pub fn secrets_settings(&self) -> Settings {
        let mut s = self.settings.clone();
        if let Some(dbs) = &self.databases {
            s.database_url = Some(SecretString::from(dbs.secrets.url.clone()));
        }
        s
    }

    /// The secret service's database URL.
    pub fn secrets_db(&self) -> String {
        match &self.databases {
            Some(dbs) => dbs.secrets.url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self._dir.path().join("secrets.db").display()
            ),
        }
    }
}

fn standalone_identity_db(dir: &TempDir) -> String {
    format!("sqlite://{}?mode=rwc", dir.path().join("identity.db").display())
}

/// Polls `/readyz` until it answers 200 (30 s at most: a loaded CI machine can be slow to start every service);
/// returns as soon as it does.
async fn wait_ready(api: &Api) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status = api.get("/readyz", None).await.status;
        if status == 200 {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("FlowMate did not become ready within 30 s (last /readyz status {status})");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl App {
    /// Stops every service and drops the test's database.
    pub async fn stop(mut self) {
        self.halt().await;
        if let Some(dbs) = self.databases.take() {
            for db in [
                dbs.identity,
                dbs.flows,
                dbs.templates,
                dbs.executions,
                dbs.webhooks,
                dbs.secrets,
            ] {
                db.drop_database().await;
            }
        }
        if let Some((url, exchange)) = self.amqp {
            let work: Vec<String> = flowmate_domain::execution::work_queues()
                .into_iter()
                .map(|(q, _)| q)
                .collect();
            let mut groups = vec![
                flowmate_flow_repository::CONFIRMATIONS_GROUP,
                flowmate_execution::LIFECYCLE_GROUP,
                flowmate_secret::events::FLOWS_GROUP,
            ];
            groups.extend(work.iter().map(String::as_str));
            flowmate_testkit::delete_amqp_objects(&url, &exchange, &groups).await;
        }
    }

    /// Signs a token with identity's real key (read from its database), for tokens the API would never issue,
    /// such as expired ones.
    pub async fn sign(&self, claims: &Claims) -> String {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&self.identity_db)
            .await
            .expect("identity db");
        let (kid, key): (String, String) =
            sqlx::query_as("SELECT kid, private_key FROM signing_keys ORDER BY created_at, kid LIMIT 1")
                .fetch_one(&pool)
                .await
                .expect("signing key");
        pool.close().await;
        let signer = Signer::from_pkcs8(&kid, &STANDARD.decode(key).expect("base64")).expect("key");
        signer.sign(claims).expect("sign")
    }

    /// Creates a user as the admin and returns its JSON.
    pub async fn create_user(&self, body: serde_json::Value) -> serde_json::Value {
        let r = self.api.post("/api/users", Some(&self.admin), &body).await;
        assert_eq!(r.status, 200, "create user failed: {:?}", r.body);
        r.body
    }

    /// The id of a role by name, as the admin sees it.
    pub async fn role_id(&self, name: &str) -> String {
        let r = self.api.get("/api/roles", Some(&self.admin)).await;
        r.body
            .as_array()
            .expect("roles")
            .iter()
            .find(|x| x["name"] == name)
            .expect("role")["id"]
            .as_str()
            .expect("id")
            .to_owned()
    }
}

/// Generates one test per mode for each scenario `async fn name(app: &App)` in the calling module.
#[macro_export]
macro_rules! both_modes {
    ($($name:ident),* $(,)?) => {
        mod standalone {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(app) = $crate::harness::spawn($crate::harness::Mode::Standalone).await else { return };
                    super::$name(&app).await;
                    app.stop().await;
                }
            )*
        }
        mod distributed {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(app) = $crate::harness::spawn($crate::harness::Mode::Distributed).await else { return };
                    super::$name(&app).await;
                    app.stop().await;
                }
            )*
        }
    };
}
