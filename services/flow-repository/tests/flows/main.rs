//! The flow repository below the gateway: the events it announces (exactly once per change, even when the process
//! dies between the database write and the publish), the confirmations it consumes (once per event id), and the
//! active-flow listing other services warm their caches from. SQLite + the embedded queue always; PostgreSQL +
//! RabbitMQ when `TEST_DATABASE_URL` / `TEST_AMQP_URL` are set (required in CI).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{collections::HashMap, sync::Arc};

use flowmate_auth::secrets::SecretBox;
use flowmate_auth::{Claims, Principal};
use flowmate_bus::{Envelope, SharedBus, SubscribeOptions};
use flowmate_flow_repository::reseal::{reseal_webhook_secrets, ResealReport};
use flowmate_flow_repository::{
    core::FlowCore,
    model::{ListQuery, SortField},
    store::SqlStore,
    MIGRATIONS,
};
use flowmate_store::{outbox, sqlx, Db};
use flowmate_testkit::{amqp_url, Collector, PgDatabase, RecordingBus, TempDir};
use serde_json::json;
use tokio_util::sync::CancellationToken;

fn counts(events: &[Envelope]) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for e in events {
        *out.entry(e.id.clone()).or_default() += 1;
    }
    out
}

struct Setup {
    url: String,
    bus: SharedBus,
    amqp: Option<(String, String)>,
    pg: Option<PgDatabase>,
    _dir: TempDir,
}

async fn setup(distributed: bool) -> Option<Setup> {
    let dir = TempDir::new().unwrap();
    if distributed {
        let amqp = amqp_url()?;
        let pg = PgDatabase::create().await?;
        let exchange = format!("flowmate.test.{}", uuid::Uuid::new_v4().simple());
        let bus: SharedBus = Arc::new(
            flowmate_bus::amqp::AmqpBus::connect(&amqp, &exchange)
                .await
                .unwrap(),
        );
        Some(Setup {
            url: pg.url.clone(),
            bus,
            amqp: Some((amqp, exchange)),
            pg: Some(pg),
            _dir: dir,
        })
    } else {
        let bus: SharedBus = Arc::new(
            flowmate_bus::embedded::EmbeddedBus::open(&dir.path().join("bus.db"))
                .await
                .unwrap(),
        );
        let url = Db::sqlite_url(&dir.path().join("flows.db"));
        Some(Setup {
            url,
            bus,
            amqp: None,
            pg: None,
            _dir: dir,
        })
    }
}

async fn finish(s: Setup) {
    if let Some((url, exchange)) = &s.amqp {
        flowmate_testkit::delete_amqp_objects(url, exchange, &[]).await;
    }
    if let Some(pg) = s.pg {
        pg.drop_database().await;
    }
}

fn admin() -> Principal {
    let now = chrono_now();
    Principal {
        claims: Claims {
            sub: "user-1".into(),
            tenant: "tenant-1".into(),
            username: "a@example.com".into(),
            permissions: vec!["all".into()],
            roles: vec![],
            jti: "j".into(),
            iat: now,
            iat_ms: None,
            exp: now + 600,
        },
        token: String::new(),
    }
}

/// A tenant member holding the flow permissions.
fn member(user: &str, tenant: &str) -> Principal {
    let mut p = admin();
    p.claims.sub = user.into();
    p.claims.tenant = tenant.into();
    p.claims.permissions = vec!["flows.read".into(), "flows.write".into()];
    p
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn flow(name: &str) -> serde_json::Value {
    json!({"name": name, "graph": {"nodes": [{"id": "a", "componentId": "webhook", "function": "receive"}]}})
}

async fn collect(bus: &SharedBus, shutdown: &CancellationToken) -> Arc<Collector> {
    let collector = Arc::new(Collector::default());
    let options = SubscribeOptions {
        prefetch: 1,
        exclusive: true,
        ..SubscribeOptions::new(format!("test.{}", uuid::Uuid::new_v4().simple()), &["flow.#"])
    };
    bus.subscribe(options, collector.clone(), shutdown.clone())
        .await
        .unwrap();
    collector
}

const K1: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const K2: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

/// The sealed webhook secret in every stored body of flow `id` (the flow and its versions).
async fn sealed_secrets(db: &Db, id: &str) -> Vec<String> {
    let mut bodies: Vec<String> = sqlx::query_scalar("SELECT body FROM flows WHERE id = $1")
        .bind(id)
        .fetch_all(db.pool())
        .await
        .unwrap();
    let versions: Vec<String> = sqlx::query_scalar("SELECT body FROM flow_versions WHERE flow_id = $1")
        .bind(id)
        .fetch_all(db.pool())
        .await
        .unwrap();
    bodies.extend(versions);
    bodies
        .iter()
        .filter_map(|b| {
            let v: serde_json::Value = serde_json::from_str(b).unwrap();
            v.pointer("/flowSettings/webhooks/hmacSecret")
                .and_then(|s| s.as_str())
                .map(str::to_owned)
        })
        .collect()
}

async fn webhook_secrets_under_an_old_key_are_resealed_with_the_first(s: Setup) {
    let db = Db::connect(&s.url, 4, MIGRATIONS).await.unwrap();
    let old = Arc::new(SecretBox::from_keys(&format!("k1:{K1}")).unwrap());
    let core = FlowCore::new(Arc::new(SqlStore::new(db.clone()))).with_secrets(Some(old));
    let mut body = flow("signed");
    body["flowSettings"] = json!({"webhooks": {"hmacSecret": "shh-its-a-secret"}});
    let created = core.create(&admin(), body).await.unwrap().remove(0).unwrap();
    let id = created.id.to_string();
    core.update(&admin(), &id, json!({"description": "a second version"}))
        .await
        .unwrap();
    let before = sealed_secrets(&db, &id).await;
    assert!(
        !before.is_empty() && before.iter().all(|s| SecretBox::kid_of(s) == Some("k1")),
        "{before:?}"
    );

    let ring = SecretBox::from_keys(&format!("k2:{K2},k1:{K1}")).unwrap();
    let report = reseal_webhook_secrets(&db, &ring).await.unwrap();
    assert_eq!((report.unreadable, report.skipped), (0, 0));
    assert_eq!(report.resealed as usize, before.len());
    let after = sealed_secrets(&db, &id).await;
    assert_eq!(after.len(), before.len());
    for sealed in &after {
        assert_eq!(SecretBox::kid_of(sealed), Some("k2"));
        assert_eq!(ring.open(sealed).unwrap(), "shh-its-a-secret");
    }
    // Run again: nothing left to do.
    assert_eq!(
        reseal_webhook_secrets(&db, &ring).await.unwrap(),
        ResealReport::default()
    );
    finish(s).await;
}

async fn changes_are_announced_exactly_once_even_across_a_crash_before_publishing(s: Setup) {
    let shutdown = CancellationToken::new();
    let collector = collect(&s.bus, &shutdown).await;
    // First process: writes succeed, nothing can be published, then it dies.
    {
        let db = Db::connect(&s.url, 4, MIGRATIONS).await.unwrap();
        let core = FlowCore::new(Arc::new(SqlStore::new(db.clone())));
        let created = core
            .create(&admin(), flow("survivor"))
            .await
            .unwrap()
            .pop()
            .unwrap()
            .unwrap();
        core.update(&admin(), &created.id, json!({"name": "survivor v2"}))
            .await
            .unwrap();
        core.start(&admin(), &[created.id.to_string()]).await.unwrap();
        let down: SharedBus = Arc::new(RecordingBus::down());
        assert!(outbox::relay_batch(&db, &down).await.is_err());
        db.close().await;
    }
    // Second process: the relay publishes what the first one committed, once.
    let db = Db::connect(&s.url, 4, MIGRATIONS).await.unwrap();
    let relay = outbox::start_relay(db.clone(), s.bus.clone(), shutdown.clone());
    collector.wait_for(3).await;
    // The sentinel: a change of the second process. The relay publishes in commit order, so a repeat of the first
    // process's events would reach the (one-at-a-time) collector before the sentinel's event.
    let core = FlowCore::new(Arc::new(SqlStore::new(db.clone())));
    core.create(&admin(), flow("sentinel")).await.unwrap();
    let all = collector.wait_for(4).await;
    assert_eq!(
        collector.kinds(),
        ["flow.created", "flow.modified", "flow.starting", "flow.created"]
    );
    assert_eq!(all[3].data["flow"]["name"], "sentinel");
    let events = all[..3].to_vec();
    assert!(
        counts(&events).values().all(|n| *n == 1),
        "each event once: {:?}",
        counts(&events)
    );
    assert_eq!(events[0].data["flow"]["name"], "survivor");
    assert_eq!(events[0].data["user"], "user-1");
    assert_eq!(events[0].tenant.as_deref(), Some("tenant-1"));
    assert_eq!(events[1].data["flow"]["version"], 2);
    assert_eq!(
        events[2].data["startedBy"], "user-1",
        "flow.starting carries the full flow and who started it"
    );
    assert_eq!(events[2].data["status"], "starting");
    assert_eq!(events[2].data["graph"]["nodes"][0]["id"], "a");
    shutdown.cancel();
    let _ = relay.await;
    db.close().await;
    finish(s).await;
}

async fn confirmations_apply_once_and_active_flows_are_listed_for_warm_starts(s: Setup) {
    let db = Db::connect(&s.url, 4, MIGRATIONS).await.unwrap();
    let core = FlowCore::new(Arc::new(SqlStore::new(db.clone())));
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            core.create(&admin(), flow(&format!("f{i}")))
                .await
                .unwrap()
                .pop()
                .unwrap()
                .unwrap()
                .id
                .into_string(),
        );
    }
    core.start(&admin(), &ids[..3]).await.unwrap();
    for id in &ids[..3] {
        let started = Envelope::new("flow.started", "test", json!({"flowId": id}));
        core.confirm(&started, id, None).await.unwrap();
        core.confirm(&started, id, None).await.unwrap();
    }
    // A stop then a late duplicate start confirmation: the duplicate must not re-activate the flow.
    let late = Envelope::new("flow.started", "test", json!({"flowId": ids[0]}));
    core.confirm(&late, &ids[0], None).await.unwrap();
    core.stop(&admin(), &ids[..1]).await.unwrap();
    core.confirm(&late, &ids[0], None).await.unwrap();
    let active: Vec<String> = core
        .list_active("", 2)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.id.into_string())
        .collect();
    assert_eq!(active, [ids[1].clone(), ids[2].clone()]);
    assert!(core.list_active(&ids[2], 10).await.unwrap().is_empty());
    let query = ListQuery {
        page_size: 10,
        page_number: 1,
        status: Some(flowmate_domain::flow::FlowStatus::Stopping),
        kind: None,
        user: None,
        from_template: None,
        sort: SortField::CreatedAt,
        descending: false,
        search: None,
    };
    let (stopping, total) = core.list(&admin(), query).await.unwrap();
    assert_eq!((stopping[0].id.to_string(), total), (ids[0].clone(), 1));
    db.close().await;
    finish(s).await;
}

/// The page's names and the total of `caller`'s unfiltered list.
async fn listed(core: &FlowCore, caller: &Principal) -> (Vec<String>, u64) {
    let query = ListQuery {
        page_size: 50,
        page_number: 1,
        status: None,
        kind: None,
        user: None,
        from_template: None,
        sort: SortField::Name,
        descending: false,
        search: None,
    };
    let (flows, total) = core.list(caller, query).await.unwrap();
    (flows.into_iter().map(|f| f.body.name).collect(), total)
}

async fn a_members_total_stays_exact_through_creates_private_flows_and_deletes(s: Setup) {
    let db = Db::connect(&s.url, 4, MIGRATIONS).await.unwrap();
    let core = FlowCore::new(Arc::new(SqlStore::new(db.clone())));
    let (ann, bo) = (
        member("user-ann", "tenant-crew"),
        member("user-bo", "tenant-crew"),
    );
    let mut ids = HashMap::new();
    for (who, name) in [(&ann, "a1"), (&ann, "a2"), (&bo, "b1"), (&bo, "b2")] {
        let f = core
            .create(who, flow(name))
            .await
            .unwrap()
            .pop()
            .unwrap()
            .unwrap();
        ids.insert(name, f.id.into_string());
    }
    core.create(&admin(), flow("elsewhere")).await.unwrap();
    let private = json!({"owners": [{"id": "user-bo", "type": "user"}]});
    core.update(&bo, &ids["b2"], private).await.unwrap();
    assert_eq!(
        listed(&core, &ann).await,
        (vec!["a1".into(), "a2".into(), "b1".into()], 3)
    );
    assert_eq!(listed(&core, &bo).await.1, 4, "its own private flow too");
    let private = json!({"owners": [{"id": "user-ann", "type": "user"}]});
    core.update(&ann, &ids["a2"], private).await.unwrap();
    assert_eq!(listed(&core, &ann).await.1, 3, "a1, b1 and its own a2");
    assert_eq!(listed(&core, &bo).await.1, 3, "b1, a1 and its own b2");
    core.delete(&ann, &ids["a1"]).await.unwrap();
    core.delete(&bo, &ids["b2"]).await.unwrap();
    // Shared again: the tenant back among the owners.
    let shared =
        json!({"owners": [{"id": "user-bo", "type": "user"}, {"id": "tenant-crew", "type": "tenant"}]});
    core.update(&bo, &ids["b1"], shared).await.unwrap();
    assert_eq!(listed(&core, &ann).await, (vec!["a2".into(), "b1".into()], 2));
    assert_eq!(listed(&core, &bo).await, (vec!["b1".into()], 1));
    assert_eq!(listed(&core, &admin()).await.1, 3, "a2, b1 and elsewhere");
    // The counter the totals come from agrees with a fresh count of every tenant.
    let kept: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT tenant, owned, total FROM flow_tenant_counts WHERE total <> 0 ORDER BY tenant",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    let counted: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT tenant, CAST(SUM(owned_by_tenant) AS BIGINT), COUNT(*) FROM flows GROUP BY tenant ORDER BY tenant",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    assert_eq!(kept, counted);
    assert_eq!(kept.len(), 2, "{kept:?}");
    let kept: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT owner_id, tenant, n FROM flow_private_counts WHERE n <> 0 ORDER BY owner_id, tenant",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    let counted: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT o.owner_id, f.tenant, COUNT(*) FROM flow_owners o JOIN flows f ON f.id = o.flow_id \
         WHERE f.owned_by_tenant = 0 GROUP BY o.owner_id, f.tenant ORDER BY o.owner_id, f.tenant",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    assert_eq!(kept, counted);
    db.close().await;
    finish(s).await;
}

macro_rules! both_modes {
    ($($name:ident),* $(,)?) => {
        mod standalone {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() {
                super::$name(super::setup(false).await.unwrap()).await;
            } )*
        }
        mod distributed {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() {
                let Some(s) = super::setup(true).await else { return };
                super::$name(s).await;
            } )*
        }
    };
}

both_modes!(
    webhook_secrets_under_an_old_key_are_resealed_with_the_first,
    changes_are_announced_exactly_once_even_across_a_crash_before_publishing,
    confirmations_apply_once_and_active_flows_are_listed_for_warm_starts,
    a_members_total_stays_exact_through_creates_private_flows_and_deletes,
);
