//! Starting FlowMate processes for a test: a standalone node, or a cluster with one process per service.

use std::{
    collections::{BTreeSet, HashMap},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::Mutex,
    time::Duration,
};

use flowmate_testkit::{amqp_url, PgDatabase, TempDir};

pub const ADMIN: &str = "admin@flowmate.local";
pub const PASSWORD: &str = "process-test-password";
const SECRETS_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// Every port [`free_port`] handed out in this process. The probe listener is closed before a service binds the
/// port, so the OS may offer the same port to the next probe: two services of one cluster would then collide.
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// A loopback port nothing listens on, never the same one twice in this process.
fn free_port() -> u16 {
    for _ in 0..1000 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if HANDED_OUT.lock().unwrap().insert(port) {
            return port;
        }
    }
    panic!("the OS offered only ports already handed out, 1000 times in a row");
}

/// One `flowmate` OS process (restartable with the same configuration).
pub struct Process {
    args: Vec<String>,
    env: Vec<(String, String)>,
    log: PathBuf,
    /// Where `/readyz` answers.
    ready_url: String,
    base: String,
    child: Option<Child>,
}

impl Process {
    /// Standalone FlowMate on `dir`.
    pub fn standalone(dir: &Path) -> Process {
        let port = free_port();
        Process {
            args: vec![],
            env: vec![
                ("FLOWMATE_DATA_DIR".into(), dir.display().to_string()),
                ("FLOWMATE_HTTP_ADDR".into(), format!("127.0.0.1:{port}")),
                ("FLOWMATE_ADMIN_PASSWORD".into(), PASSWORD.into()),
                ("FLOWMATE_LOG_FORMAT".into(), "json".into()),
                ("FLOWMATE_LOG_FILTER".into(), "warn".into()),
            ],
            log: dir.join("flowmate.log"),
            ready_url: format!("http://127.0.0.1:{port}/readyz"),
            base: format!("http://127.0.0.1:{port}"),
            child: None,
        }
    }

    /// The same process with `key=value` in its environment as well.
    pub fn with_env(mut self, key: &str, value: &str) -> Process {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The REST API's base URL (standalone and gateway).
    pub fn base(&self) -> String {
        self.base.clone()
    }

    /// Starts the process and waits until it is ready.
    pub async fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_flowmate"));
        command
            .args(&self.args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        self.child = Some(command.spawn().expect("flowmate starts"));
        let client = reqwest::Client::new();
        for _ in 0..600 {
            if let Ok(r) = client.get(&self.ready_url).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "{:?} exited with {status}; log: {}",
                    self.args,
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{:?} not ready after 60 s; log: {}",
            self.args,
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    /// SIGKILL: no shutdown, no flushing, like a crash or an OOM kill.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Every service as its own process, on PostgreSQL and RabbitMQ.
pub struct Cluster {
    processes: HashMap<&'static str, Process>,
    databases: Vec<PgDatabase>,
    amqp: (String, String),
    base: String,
    _dir: TempDir,
}

impl Cluster {
    /// Databases, an exchange and the processes' configuration; `None` without `TEST_DATABASE_URL` /
    /// `TEST_AMQP_URL` (required in CI).
    pub async fn create() -> Option<Cluster> {
        let amqp = amqp_url()?;
        let dir = TempDir::new().unwrap();
        let exchange = format!("flowmate.test.{}", uuid::Uuid::new_v4().simple());
        let ports: HashMap<&str, u16> = flowmate::SERVICES.iter().map(|s| (*s, free_port())).collect();
        let url = |s: &str| format!("http://127.0.0.1:{}", ports[s]);
        let http_port = free_port();
        let mut databases = Vec::new();
        let mut processes = HashMap::new();
        for service in flowmate::SERVICES {
            let mut env = vec![
                (
                    "FLOWMATE_DATA_DIR".to_owned(),
                    dir.path().join(service).display().to_string(),
                ),
                (
                    "FLOWMATE_GRPC_ADDR".into(),
                    format!("127.0.0.1:{}", ports[service]),
                ),
                ("FLOWMATE_AMQP_URL".into(), amqp.clone()),
                ("FLOWMATE_AMQP_EXCHANGE".into(), exchange.clone()),
                ("FLOWMATE_IDENTITY_URL".into(), url("identity")),
                ("FLOWMATE_FLOWS_URL".into(), url("flow-repository")),
                ("FLOWMATE_TEMPLATES_URL".into(), url("template")),
                ("FLOWMATE_EXECUTIONS_URL".into(), url("execution")),
                ("FLOWMATE_WEBHOOKS_URL".into(), url("webhook")),
                ("FLOWMATE_SECRETS_URL".into(), url("secret")),
                ("FLOWMATE_SERVICE_TOKEN".into(), "test-service-token".into()),
                ("FLOWMATE_SECRETS_KEY".into(), SECRETS_KEY.into()),
                ("FLOWMATE_ADMIN_PASSWORD".into(), PASSWORD.into()),
                ("FLOWMATE_DATABASE_MAX_CONNECTIONS".into(), "4".into()),
                ("FLOWMATE_LOG_FORMAT".into(), "json".into()),
                ("FLOWMATE_LOG_FILTER".into(), "warn".into()),
            ];
            let mut ready_url = format!("{}/readyz", url(service));
            if *service == "gateway" {
                env.push(("FLOWMATE_HTTP_ADDR".into(), format!("127.0.0.1:{http_port}")));
                ready_url = format!("http://127.0.0.1:{http_port}/readyz");
            } else {
                let db = PgDatabase::create().await?;
                env.push(("FLOWMATE_DATABASE_URL".into(), db.url.clone()));
                databases.push(db);
            }
            processes.insert(
                *service,
                Process {
                    args: vec!["service".into(), service.to_string()],
                    env,
                    log: dir.path().join(format!("{service}.log")),
                    ready_url,
                    base: format!("http://127.0.0.1:{http_port}"),
                    child: None,
                },
            );
        }
        Some(Cluster {
            processes,
            databases,
            amqp: (amqp, exchange),
            base: format!("http://127.0.0.1:{http_port}"),
            _dir: dir,
        })
    }

    /// The gateway's base URL.
    pub fn base(&self) -> String {
        self.base.clone()
    }

    /// Sets an environment variable of one service's process (from its next start on).
    pub fn set_env(&mut self, service: &str, name: &str, value: &str) {
        let process = self.processes.get_mut(service).expect("known service");
        process.env.retain(|(k, _)| k != name);
        process.env.push((name.to_owned(), value.to_owned()));
    }

    /// One service's log so far.
    pub fn log(&self, service: &str) -> String {
        std::fs::read_to_string(&self.processes[service].log).unwrap_or_default()
    }

    /// Where one service serves `/healthz`, `/readyz` and `/metrics` (`http://host:port`).
    pub fn ops_url(&self, service: &str) -> String {
        self.processes[service]
            .ready_url
            .trim_end_matches("/readyz")
            .to_owned()
    }

    /// Starts every service, in order, each once the previous is ready.
    pub async fn start_all(&mut self) {
        for service in flowmate::SERVICES {
            self.start(service).await;
        }
    }

    /// Starts (or restarts) one service and waits until it is ready.
    pub async fn start(&mut self, service: &str) {
        self.processes
            .get_mut(service)
            .expect("known service")
            .start()
            .await;
    }

    /// SIGKILLs one service.
    pub fn kill(&mut self, service: &str) {
        self.processes.get_mut(service).expect("known service").kill();
    }

    /// Stops everything and drops the databases and the broker objects.
    pub async fn destroy(mut self) {
        for p in self.processes.values_mut() {
            p.kill();
        }
        for db in self.databases.drain(..) {
            db.drop_database().await;
        }
        let mut groups = vec![
            "flow-repository.confirmations".to_owned(),
            "execution.lifecycle".to_owned(),
        ];
        groups.extend(
            flowmate_domain::execution::work_queues()
                .into_iter()
                .map(|(queue, _)| queue),
        );
        let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
        flowmate_testkit::delete_amqp_objects(&self.amqp.0, &self.amqp.1, &groups).await;
    }
}
