//! The processes a benchmark runs: FlowMate (standalone, or one process per service on PostgreSQL and RabbitMQ)
//! and the "limit" servers, all children of this binary (`flowmate-bench serve …`), so one build has everything.

use std::{
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context};

/// The admin of a benchmark installation.
pub const ADMIN: &str = "admin@flowmate.local";
/// Its password.
pub const PASSWORD: &str = "bench-password-1";
const SECRETS_KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// A free port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// One child process.
pub struct Child_ {
    child: Child,
}

impl Drop for Child_ {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Child_ {
    /// Its resident memory, in MiB.
    pub fn rss_mib(&self) -> f64 {
        rss_of(&self.status_path())
    }

    /// `/proc/<pid>/status`.
    pub fn status_path(&self) -> String {
        format!("/proc/{}/status", self.child.id())
    }

    /// `/proc/<pid>/stat`.
    pub fn stat_path(&self) -> String {
        format!("/proc/{}/stat", self.child.id())
    }
}

/// VmRSS from a `/proc/<pid>/status` file, in MiB.
pub fn rss_of(status_path: &str) -> f64 {
    std::fs::read_to_string(status_path)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// User plus system CPU seconds from a `/proc/<pid>/stat` file (clock ticks of 1/100 s, Linux's USER_HZ).
pub fn cpu_of(stat_path: &str) -> f64 {
    let stat = std::fs::read_to_string(stat_path).unwrap_or_default();
    // Fields after the command name (which may contain spaces) start at field 3; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// Spawns this binary with `args` and `env`, logging to `log`.
pub fn spawn(name: &str, args: &[&str], env: &[(String, String)], log: &Path) -> anyhow::Result<Child_> {
    let exe = std::env::current_exe()?;
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
    let child = Command::new(exe)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().cloned())
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {name}"))?;
    Ok(Child_ { child })
}

/// Polls `url` until it answers 200; returns how long that took.
pub async fn wait_ready(url: &str, since: Instant, limit: Duration) -> anyhow::Result<Duration> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()?;
    while since.elapsed() < limit {
        if let Ok(r) = client.get(url).send().await {
            if r.status() == 200 {
                return Ok(since.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    bail!("{url} not ready within {limit:?}")
}

/// A running FlowMate.
pub struct FlowMate {
    /// `http://127.0.0.1:port`.
    pub base: String,
    /// Its processes.
    pub processes: Vec<Child_>,
    /// From spawning to `/readyz` 200 (the gateway's, in distributed mode).
    pub ready_after: Duration,
    /// Databases to drop afterwards (distributed).
    pub databases: Vec<flowmate_testkit::PgDatabase>,
    /// The database URL of the flow repository.
    pub flows_db: String,
}

impl FlowMate {
    /// Resident memory of every process, in MiB.
    pub fn rss_mib(&self) -> f64 {
        self.processes.iter().map(Child_::rss_mib).sum()
    }

    /// Stops everything and drops the databases.
    pub async fn stop(mut self) {
        self.processes.clear();
        for db in self.databases.drain(..) {
            db.drop_database().await;
        }
    }
}

fn common_env(dir: &Path) -> Vec<(String, String)> {
    vec![
        ("FLOWMATE_DATA_DIR".into(), dir.display().to_string()),
        ("FLOWMATE_ADMIN_PASSWORD".into(), PASSWORD.into()),
        ("FLOWMATE_LOG_FORMAT".into(), "json".into()),
        ("FLOWMATE_LOG_FILTER".into(), "warn".into()),
        ("FLOWMATE_SECRETS_KEY".into(), SECRETS_KEY.into()),
        // Scenario 6's http steps call a target and a simulated OAuth2 provider on loopback.
        ("FLOWMATE_HTTP_ALLOW_PRIVATE_NETWORK".into(), "true".into()),
        // Loopback benchmarks create many flows in one go.
        ("FLOWMATE_BODY_LIMIT_BYTES".into(), (64 * 1024 * 1024).to_string()),
    ]
}

/// Standalone FlowMate: one process, SQLite under `dir`.
pub async fn standalone(dir: &Path) -> anyhow::Result<FlowMate> {
    let port = free_port();
    let mut env = common_env(dir);
    env.push(("FLOWMATE_HTTP_ADDR".into(), format!("127.0.0.1:{port}")));
    let started = Instant::now();
    let child = spawn("flowmate", &["serve"], &env, &dir.join("flowmate.log"))?;
    let ready_after = wait_ready(
        &format!("http://127.0.0.1:{port}/readyz"),
        started,
        Duration::from_secs(60),
    )
    .await?;
    Ok(FlowMate {
        base: format!("http://127.0.0.1:{port}"),
        processes: vec![child],
        ready_after,
        databases: vec![],
        flows_db: flowmate_store::Db::sqlite_url(&dir.join("flows.db")),
    })
}

/// Distributed FlowMate: one process per service, a PostgreSQL database each, RabbitMQ. `None` without
/// `TEST_DATABASE_URL` / `TEST_AMQP_URL`.
pub async fn distributed(dir: &Path) -> anyhow::Result<Option<FlowMate>> {
    let (Some(amqp), Ok(_)) = (flowmate_testkit::amqp_url(), std::env::var("TEST_DATABASE_URL")) else {
        return Ok(None);
    };
    let exchange = format!("flowmate.bench.{}", uuid::Uuid::new_v4().simple());
    let ports: Vec<(&str, u16)> = flowmate::SERVICES.iter().map(|s| (*s, free_port())).collect();
    let url = |name: &str| {
        let port = ports
            .iter()
            .find(|(s, _)| *s == name)
            .map(|(_, p)| *p)
            .unwrap_or(0);
        format!("http://127.0.0.1:{port}")
    };
    let http_port = free_port();
    let mut processes = Vec::new();
    let mut databases = Vec::new();
    let mut flows_db = String::new();
    let started = Instant::now();
    let mut ready_after = Duration::ZERO;
    for (service, port) in &ports {
        let mut env = common_env(&dir.join(service));
        env.extend([
            ("FLOWMATE_GRPC_ADDR".to_owned(), format!("127.0.0.1:{port}")),
            ("FLOWMATE_AMQP_URL".into(), amqp.clone()),
            ("FLOWMATE_AMQP_EXCHANGE".into(), exchange.clone()),
            ("FLOWMATE_IDENTITY_URL".into(), url("identity")),
            ("FLOWMATE_FLOWS_URL".into(), url("flow-repository")),
            ("FLOWMATE_TEMPLATES_URL".into(), url("template")),
            ("FLOWMATE_EXECUTIONS_URL".into(), url("execution")),
            ("FLOWMATE_WEBHOOKS_URL".into(), url("webhook")),
            ("FLOWMATE_SECRETS_URL".into(), url("secret")),
            ("FLOWMATE_SERVICE_TOKEN".into(), "test-service-token".into()),
        ]);
        let ready = if *service == "gateway" {
            env.push(("FLOWMATE_HTTP_ADDR".into(), format!("127.0.0.1:{http_port}")));
            format!("http://127.0.0.1:{http_port}/readyz")
        } else {
            let db = flowmate_testkit::PgDatabase::create()
                .await
                .context("PostgreSQL database")?;
            env.push(("FLOWMATE_DATABASE_URL".into(), db.url.clone()));
            if *service == "flow-repository" {
                flows_db = db.url.clone();
            }
            databases.push(db);
            format!("{}/readyz", url(service))
        };
        std::fs::create_dir_all(dir.join(service))?;
        processes.push(spawn(
            service,
            &["service", service],
            &env,
            &dir.join(format!("{service}.log")),
        )?);
        ready_after = wait_ready(&ready, started, Duration::from_secs(120)).await?;
    }
    Ok(Some(FlowMate {
        base: format!("http://127.0.0.1:{http_port}"),
        processes,
        ready_after,
        databases,
        flows_db,
    }))
}

/// The "limit" server: `mode` is `json` (parse the webhook body, answer 200) or `row` (read one flow row from
/// `db`), on `port`.
pub async fn limit_server(mode: &str, db: &str, dir: &Path) -> anyhow::Result<(Child_, String)> {
    let port = free_port();
    let env = vec![("BENCH_DB".to_owned(), db.to_owned())];
    let started = Instant::now();
    let child = spawn(
        "limit",
        &["serve-limit", mode, &port.to_string()],
        &env,
        &dir.join("limit.log"),
    )?;
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&format!("{base}/ready"), started, Duration::from_secs(30)).await?;
    Ok((child, base))
}
