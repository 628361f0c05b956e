//! What the store tests share: a SQLite database (always) and a PostgreSQL one (when `TEST_DATABASE_URL` is set;
//! required in CI), executions to write, and the outbox to read.

use flowmate_domain::{execution::TriggerInfo, time, Envelope};
use flowmate_execution::{
    model::{Checkpoint, Counters, Execution, ExecutionStore, RunState, Status, Write},
    store::SqlStore as Store,
};
use flowmate_store::{sqlx, Db};
use flowmate_testkit::{PgDatabase, TempDir};

/// A database for one test, dropped by [`finish`].
pub struct TestDb {
    /// Its URL.
    pub url: String,
    _dir: TempDir,
    /// The PostgreSQL database, when it is one.
    pub pg: Option<PgDatabase>,
}

/// SQLite always, PostgreSQL when configured.
pub async fn databases() -> Vec<TestDb> {
    let dir = TempDir::new().unwrap();
    let mut out = vec![TestDb {
        url: Db::sqlite_url(&dir.path().join("executions.db")),
        _dir: dir,
        pg: None,
    }];
    if let Some(pg) = PgDatabase::create().await {
        out.push(TestDb {
            url: pg.url.clone(),
            _dir: TempDir::new().unwrap(),
            pg: Some(pg),
        });
    }
    out
}

/// Drops the test's PostgreSQL database.
pub async fn finish(db: TestDb) {
    if let Some(pg) = db.pg {
        pg.drop_database().await;
    }
}

/// A running (or, with `finished_at`, succeeded) execution of `flow-1`.
pub fn execution(id: &str, finished_at: Option<String>, waiting_until: Option<String>) -> Execution {
    Execution {
        id: id.into(),
        flow_id: "flow-1".into(),
        flow_version: 1,
        tenant: "t".into(),
        user: "u".into(),
        status: if finished_at.is_some() {
            Status::Succeeded
        } else {
            Status::Running
        },
        trigger: TriggerInfo {
            kind: "manual".into(),
            request_id: None,
            retry_of: None,
        },
        started_at: time::now_string(),
        finished_at,
        duration_ms: None,
        counters: Counters::default(),
        error: None,
        response: None,
        message: serde_json::json!({"data": {}}),
        state: Some(RunState::default()),
        waiting_until,
        owner: None,
        generation: 0,
        parent: None,
    }
}

/// Writes `e` as an update.
pub async fn write(store: &Store, e: Execution) {
    let cp = Checkpoint {
        write: Write::Update,
        execution: e,
        steps: vec![],
        events: vec![],
        resumed: vec![],
    };
    assert!(store.checkpoint(cp).await.unwrap());
}

/// The outbox, in order.
pub async fn outbox_kinds(db: &Db) -> Vec<Envelope> {
    let rows: Vec<String> = sqlx::query_scalar("SELECT payload FROM outbox ORDER BY seq")
        .fetch_all(db.pool())
        .await
        .unwrap();
    rows.iter().map(|p| serde_json::from_str(p).unwrap()).collect()
}
