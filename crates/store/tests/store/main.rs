//! The store's behaviour on SQLite (always) and PostgreSQL (when `TEST_DATABASE_URL` is set; required in CI):
//! migrations, transactions, unique violations, and the outbox that never loses an event.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{sync::Arc, time::Duration};

use flowmate_bus::{Envelope, SharedBus};
use flowmate_store::{outbox, sqlx, Db, Migrations, StoreError};
use flowmate_testkit::{PgDatabase, RecordingBus, TempDir};
use tokio_util::sync::CancellationToken;

static POSTGRES: flowmate_store::Migrator = sqlx::migrate!("tests/migrations/postgres");
static SQLITE: flowmate_store::Migrator = sqlx::migrate!("tests/migrations/sqlite");
const MIGRATIONS: Migrations = Migrations {
    postgres: &POSTGRES,
    sqlite: &SQLITE,
};

/// A database for one test: SQLite in a temp dir, or a fresh PostgreSQL database.
struct TestDb {
    url: String,
    _dir: TempDir,
    pg: Option<PgDatabase>,
}

async fn sqlite() -> TestDb {
    let dir = TempDir::new().unwrap();
    TestDb {
        url: Db::sqlite_url(&dir.path().join("t.db")),
        _dir: dir,
        pg: None,
    }
}

async fn postgres() -> Option<TestDb> {
    let pg = PgDatabase::create().await?;
    Some(TestDb {
        url: pg.url.clone(),
        _dir: TempDir::new().unwrap(),
        pg: Some(pg),
    })
}

async fn insert_thing(db: &Db, name: &str, event: Option<&Envelope>) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    sqlx::query("INSERT INTO things (id, name) VALUES ($1, $2)")
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(name)
        .execute(&mut *tx)
        .await?;
    if let Some(e) = event {
        outbox::enqueue(&mut tx, e).await?;
    }
    tx.commit().await
}

fn event(n: usize) -> Envelope {
    Envelope::new("thing.created", "test", serde_json::json!({"n": n}))
}

async fn outbox_rows(db: &Db) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
        .fetch_one(db.pool())
        .await
        .unwrap()
}

async fn migrations_run_twice_and_unique_violations_are_recognised(t: &TestDb) {
    let db = Db::connect(&t.url, 4, MIGRATIONS).await.unwrap();
    let again = Db::connect(&t.url, 4, MIGRATIONS).await.unwrap();
    insert_thing(&db, "a", None).await.unwrap();
    assert!(matches!(
        insert_thing(&again, "a", None).await,
        Err(StoreError::UniqueViolation)
    ));
    db.close().await;
    again.close().await;
}

async fn a_rolled_back_transaction_leaves_neither_row_nor_event(t: &TestDb) {
    let db = Db::connect(&t.url, 4, MIGRATIONS).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    sqlx::query("INSERT INTO things (id, name) VALUES ('x', 'x')")
        .execute(&mut *tx)
        .await
        .unwrap();
    outbox::enqueue(&mut tx, &event(0)).await.unwrap();
    drop(tx);
    let things: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM things")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!((things, outbox_rows(&db).await), (0, 0));
    db.close().await;
}

async fn committed_events_are_relayed_in_order_and_removed(t: &TestDb) {
    let db = Db::connect(&t.url, 4, MIGRATIONS).await.unwrap();
    let bus = Arc::new(RecordingBus::default());
    let events: Vec<Envelope> = (0..300).map(event).collect();
    for (i, e) in events.iter().enumerate() {
        insert_thing(&db, &format!("t{i}"), Some(e)).await.unwrap();
    }
    let shared: SharedBus = bus.clone();
    let shutdown = CancellationToken::new();
    let relay = outbox::start_relay(db.clone(), shared, shutdown.clone());
    wait_until(|| bus.ids().len() == events.len()).await;
    assert_eq!(bus.ids(), events.iter().map(|e| e.id.clone()).collect::<Vec<_>>());
    // Rows are deleted right after their publish is confirmed.
    for _ in 0..500 {
        if outbox_rows(&db).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(outbox_rows(&db).await, 0);
    shutdown.cancel();
    relay.await.unwrap();
    db.close().await;
}

async fn an_event_survives_a_bus_outage_and_a_restart_between_commit_and_publish(t: &TestDb) {
    // The first process commits its change, then dies before anything is published.
    let db = Db::connect(&t.url, 4, MIGRATIONS).await.unwrap();
    let bus = Arc::new(RecordingBus::default());
    bus.set_down(true);
    let e = event(1);
    insert_thing(&db, "survivor", Some(&e)).await.unwrap();
    let shared: SharedBus = bus.clone();
    assert!(
        outbox::relay_batch(&db, &shared).await.is_err(),
        "the bus is down"
    );
    db.close().await;
    // The next process relays it exactly once.
    let db = Db::connect(&t.url, 4, MIGRATIONS).await.unwrap();
    bus.set_down(false);
    assert_eq!(outbox::relay_batch(&db, &shared).await.unwrap(), 1);
    assert_eq!(outbox::relay_batch(&db, &shared).await.unwrap(), 0);
    assert_eq!(bus.ids(), [e.id]);
    db.close().await;
}

async fn wait_until(mut done: impl FnMut() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not met within 5 s");
}

async fn statistics_are_refreshed_after_migrations_and_on_demand(t: &TestDb) {
    let db = Db::connect(&t.url, 4, MIGRATIONS).await.unwrap();
    for n in 0..50 {
        insert_thing(&db, &format!("thing {n}"), None).await.unwrap();
    }
    db.analyze(&[]).await.unwrap();
    db.analyze(&["things"]).await.unwrap();
    db.refresh_tables(&["things", "outbox"]).await.unwrap();
    if db.backend() == flowmate_store::Backend::Postgres {
        let analyzed: Option<String> = sqlx::query_scalar(
            "SELECT CAST(last_analyze AS TEXT) FROM pg_stat_user_tables WHERE relname = 'things'",
        )
        .fetch_one(db.pool())
        .await
        .unwrap();
        assert!(analyzed.is_some(), "things was analyzed");
        let vacuumed: Option<String> = sqlx::query_scalar(
            "SELECT CAST(last_vacuum AS TEXT) FROM pg_stat_user_tables WHERE relname = 'things'",
        )
        .fetch_one(db.pool())
        .await
        .unwrap();
        assert!(vacuumed.is_some(), "things was vacuumed");
    }
    // The pool works as before afterwards (the vacuum's connection has its timeout back).
    insert_thing(&db, "after", None).await.unwrap();
    db.close().await;
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $( #[tokio::test] async fn $name() { super::$name(&super::sqlite().await).await; } )*
        }
        mod on_postgres {
            $( #[tokio::test] async fn $name() {
                let Some(t) = super::postgres().await else { return };
                super::$name(&t).await;
                if let Some(pg) = t.pg { pg.drop_database().await; }
            } )*
        }
    };
}

on_both!(
    statistics_are_refreshed_after_migrations_and_on_demand,
    migrations_run_twice_and_unique_violations_are_recognised,
    a_rolled_back_transaction_leaves_neither_row_nor_event,
    committed_events_are_relayed_in_order_and_removed,
    an_event_survives_a_bus_outage_and_a_restart_between_commit_and_publish,
);
