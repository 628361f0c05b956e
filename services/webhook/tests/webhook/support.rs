//! A webhook service's request handling on a real database and a bus the test can take down, without identity or
//! the flow repository: one active flow put in memory, identity's keys replaced by a generated one.

use std::{
    sync::{atomic::AtomicBool, Arc},
    time::Duration,
};

use flowmate_auth::{Signer, Verifier};
use flowmate_bus::SharedBus;
use flowmate_store::Db;
use flowmate_testkit::{PgDatabase, RecordingBus, TempDir};
use flowmate_webhook::{
    deliver::{Defaults, Incoming, Reply, Webhooks},
    flows::{ActiveFlows, HookFlow, HookSettings},
    limits::RateLimits,
    queue::TriggerQueue,
    replies::Replies,
    store::{IdempotencyRecords, Spool},
    throttle::Throttled,
    MIGRATIONS,
};
use tokio_util::sync::CancellationToken;

/// Which database the webhook service runs on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A webhook service's handling with its spool relay running.
pub struct Service {
    pub webhooks: Arc<Webhooks>,
    pub bus: Arc<RecordingBus>,
    pub db: Db,
    pub spool: Spool,
    /// The active flow's id (one per service, so its log lines are its own).
    pub flow: String,
    shutdown: CancellationToken,
    pg: Option<PgDatabase>,
    _dir: TempDir,
}

impl Service {
    /// `None` for PostgreSQL without `TEST_DATABASE_URL`.
    pub async fn start(backend: Backend) -> Option<Service> {
        flowmate_testkit::init_tracing();
        flowmate_telemetry::metrics::handle();
        let flow = flowmate_domain::Id::new().into_string();
        let dir = TempDir::new().unwrap();
        let (url, pg) = match backend {
            Backend::Sqlite => (Db::sqlite_url(&dir.path().join("webhooks.db")), None),
            Backend::Postgres => {
                let pg = PgDatabase::create().await?;
                (pg.url.clone(), Some(pg))
            }
        };
        let db = Db::connect(&url, 4, MIGRATIONS).await.unwrap();
        let bus = Arc::new(RecordingBus::default());
        let shared: SharedBus = bus.clone();
        let flows = Arc::new(ActiveFlows::new("http://127.0.0.1:9", Duration::from_secs(1), None).unwrap());
        flows.put(HookFlow {
            id: flow.clone(),
            tenant: "tenant-1".into(),
            owners: vec!["user-1".into()],
            webhook_trigger: true,
            settings: HookSettings::default(),
        });
        let verifier = Arc::new(Verifier::new());
        let (signer, _) = Signer::generate("test-key").unwrap();
        verifier.set_keys(&[signer.public_key()]);
        let spool = Spool::new(db.clone());
        let triggers = Arc::new(TriggerQueue::new(shared.clone(), spool.clone()));
        let shutdown = CancellationToken::new();
        triggers.clone().start_relay(shutdown.clone());
        let webhooks = Arc::new(Webhooks {
            flows,
            bus: shared,
            triggers,
            verifier,
            limits: RateLimits::default(),
            replies: Arc::new(Replies::new("execution.reply.test".into())),
            idempotency: IdempotencyRecords::new(db.clone()),
            defaults: Defaults {
                body_limit_bytes: 64 * 1024,
                sync_timeout: Duration::from_secs(5),
                rate_limit: None,
            },
            warmed: Arc::new(AtomicBool::new(true)),
            refused_log: Throttled::default(),
            quotas: flowmate_webhook::quotas::Quotas::unchecked(),
            direct: flowmate_webhook::direct::SyncRuns::queue_only(),
        });
        Some(Service {
            webhooks,
            bus,
            db,
            spool,
            flow,
            shutdown,
            pg,
            _dir: dir,
        })
    }

    /// `POST /hook/{flow}?{query}` with a JSON body, the given request id and extra headers.
    pub async fn post(&self, request_id: &str, body: &str, query: &str, headers: &[(&str, &str)]) -> Reply {
        let mut all = vec![("content-type".to_owned(), "application/json".to_owned())];
        all.extend(headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        self.webhooks
            .deliver(Incoming {
                flow_id: self.flow.clone(),
                method: "POST".into(),
                path: format!("/hook/{}", self.flow),
                query: query.into(),
                headers: all,
                body: body.as_bytes().to_vec(),
                request_id: request_id.into(),
                ..Incoming::default()
            })
            .await
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.db.close().await;
        if let Some(pg) = self.pg {
            pg.drop_database().await;
        }
    }
}

/// The body of a reply as JSON.
pub fn json(reply: &Reply) -> serde_json::Value {
    serde_json::from_slice(&reply.body).unwrap()
}

/// Waits until `done` holds (10 s at most); returns as soon as it does.
pub async fn eventually<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done().await {
        assert!(tokio::time::Instant::now() < deadline, "not within 10 s: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A header of a reply.
pub fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
    reply
        .headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}
