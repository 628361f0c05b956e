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
    databases: Vec<PgDatabase>,
    /// RabbitMQ URL and exchange of a distributed app, deleted at the end.
    amqp: Option<(String, String)>,
    _dir: TempDir,
}

fn settings(dir: &TempDir) -> Settings {
    Settings {
        data_dir: dir.path().to_path_buf(),
        http_addr: "127.0.0.1:0".into(),
        grpc_addr: "127.0.0.1:0".into(),
        admin_username: ADMIN.into(),
        admin_password: Some(SecretString::from(ADMIN_PASSWORD)),
        login_max_failures: MAX_FAILURES,
        login_lockout_secs: 60,
        body_limit_bytes: BODY_LIMIT,
        database_max_connections: 4,
        ..Settings::default()
    }
}

/// Starts FlowMate in `mode`; `None` when the mode's servers are not configured (never in CI).
pub async fn spawn(mode: Mode) -> Option<App> {
    flowmate_testkit::init_tracing();
    let dir = TempDir::new().expect("temp dir");
    let settings = settings(&dir);
    let shutdown = CancellationToken::new();
    let app = match mode {
        Mode::Standalone => {
            let running = flowmate::start(&settings, shutdown.clone())
                .await
                .expect("standalone start");
            App {
                api: Api::new(format!("http://{}", running.http_addr)),
                admin: String::new(),
                bus: running.bus.clone(),
                identity_db: standalone_identity_db(&dir),
                shutdown,
                tasks: vec![tokio::spawn(running.stopped())],
                databases: vec![],
                amqp: None,
                _dir: dir,
            }
        }
        Mode::Distributed => {
            let amqp = amqp_url()?;
            let (identity_db, flows_db, templates_db) = (
                PgDatabase::create().await?,
                PgDatabase::create().await?,
                PgDatabase::create().await?,
            );
            let exchange = format!("flowmate.test.{}", uuid::Uuid::new_v4().simple());
            // Every service gets a connection of its own, as separate processes would.
            let connect = || async {
                let bus: SharedBus = Arc::new(
                    flowmate_bus::amqp::AmqpBus::connect(&amqp, &exchange)
                        .await
                        .expect("amqp"),
                );
                bus
            };
            let mut identity_config = flowmate_identity::IdentityConfig::from_settings(&settings);
            identity_config.database_url = identity_db.url.clone();
            let identity = flowmate_identity::start(identity_config, connect().await, shutdown.clone())
                .await
                .expect("identity");
            let identity_url = format!("http://{}", identity.addr);
            let mut flows_config = flowmate_flow_repository::FlowConfig::from_settings(&settings);
            flows_config.database_url = flows_db.url.clone();
            flows_config.identity_url = identity_url.clone();
            let flows = flowmate_flow_repository::start(flows_config, connect().await, shutdown.clone())
                .await
                .expect("flows");
            let mut templates_config = flowmate_template::TemplateConfig::from_settings(&settings);
            templates_config.database_url = templates_db.url.clone();
            templates_config.identity_url = identity_url.clone();
            templates_config.flows_url = format!("http://{}", flows.addr);
            let templates = flowmate_template::start(templates_config, connect().await, shutdown.clone())
                .await
                .expect("templates");
            let mut gateway_config = flowmate_gateway::GatewayConfig::from_settings(&settings);
            gateway_config.identity_url = identity_url;
            gateway_config.flows_url = format!("http://{}", flows.addr);
            gateway_config.templates_url = format!("http://{}", templates.addr);
            let gateway = flowmate_gateway::start(gateway_config, connect().await, shutdown.clone())
                .await
                .expect("gateway");
            App {
                api: Api::new(format!("http://{}", gateway.addr)),
                admin: String::new(),
                bus: connect().await,
                identity_db: identity_db.url.clone(),
                shutdown,
                tasks: vec![gateway.task, templates.task, flows.task, identity.task],
                databases: vec![identity_db, flows_db, templates_db],
                amqp: Some((amqp.clone(), exchange.clone())),
                _dir: dir,
            }
        }
    };
    wait_ready(&app.api).await;
    let admin = app.api.login(ADMIN, ADMIN_PASSWORD).await;
    Some(App { admin, ..app })
}

fn standalone_identity_db(dir: &TempDir) -> String {
    format!("sqlite://{}?mode=rwc", dir.path().join("identity.db").display())
}

async fn wait_ready(api: &Api) {
    for _ in 0..200 {
        if api.get("/readyz", None).await.status == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("FlowMate did not become ready within 10 s");
}

impl App {
    /// Stops every service and drops the test's database.
    pub async fn stop(self) {
        self.shutdown.cancel();
        for task in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        for db in self.databases {
            db.drop_database().await;
        }
        if let Some((url, exchange)) = self.amqp {
            flowmate_testkit::delete_amqp_objects(
                &url,
                &exchange,
                &[flowmate_flow_repository::CONFIRMATIONS_GROUP],
            )
            .await;
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
        assert_eq!(r.status, 201, "create user failed: {:?}", r.body);
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
