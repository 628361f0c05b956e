//! The identity service below the gateway: its events reach the bus through the outbox, passwords are stored as
//! Argon2id, and first start is idempotent. Runs on SQLite + the embedded queue always, and on PostgreSQL +
//! RabbitMQ when `TEST_DATABASE_URL` / `TEST_AMQP_URL` are set (required in CI).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{sync::Arc, time::Duration};

use flowmate_auth::Principal;
use flowmate_bus::{SharedBus, SubscribeOptions};
use flowmate_identity::{
    core::{IdentityCore, Policy},
    store::SqlStore,
    users::{NewUser, UserPatch},
    MIGRATIONS,
};
use flowmate_store::{outbox, sqlx, Db};
use flowmate_testkit::{amqp_url, Collector, PgDatabase, TempDir};
use tokio_util::sync::CancellationToken;

struct Setup {
    /// RabbitMQ URL and exchange, deleted at the end.
    amqp: Option<(String, String)>,
    db: Db,
    bus: SharedBus,
    core: IdentityCore,
    _dir: TempDir,
    pg: Option<PgDatabase>,
}

const POLICY: Policy = Policy {
    token_ttl_secs: 600,
    max_failures: 3,
    lockout_secs: 60,
};

async fn setup(distributed: bool) -> Option<Setup> {
    let dir = TempDir::new().unwrap();
    let (url, bus, pg, amqp): (String, SharedBus, _, _) = if distributed {
        let amqp = amqp_url()?;
        let pg = PgDatabase::create().await?;
        let exchange = format!("flowmate.test.{}", uuid::Uuid::new_v4().simple());
        let bus = Arc::new(
            flowmate_bus::amqp::AmqpBus::connect(&amqp, &exchange)
                .await
                .unwrap(),
        );
        (pg.url.clone(), bus, Some(pg), Some((amqp, exchange)))
    } else {
        let bus = Arc::new(
            flowmate_bus::embedded::EmbeddedBus::open(&dir.path().join("bus.db"))
                .await
                .unwrap(),
        );
        (Db::sqlite_url(&dir.path().join("identity.db")), bus, None, None)
    };
    let db = Db::connect(&url, 4, MIGRATIONS).await.unwrap();
    let core = IdentityCore::new(Arc::new(SqlStore::new(db.clone())), POLICY)
        .await
        .unwrap();
    Some(Setup {
        amqp,
        db,
        bus,
        core,
        _dir: dir,
        pg,
    })
}

async fn admin(core: &IdentityCore) -> Principal {
    core.bootstrap("root@example.com", Some("root-password".into()), "default")
        .await
        .unwrap();
    let login = core.login("root@example.com", "root-password").await.unwrap();
    core.authenticate(&login.token).unwrap()
}

async fn user_changes_are_announced_through_the_outbox(s: Setup) {
    let collector = Arc::new(Collector::default());
    let shutdown = CancellationToken::new();
    // One message at a time, so the order of delivery is the order of publication.
    let options = SubscribeOptions {
        prefetch: 1,
        exclusive: true,
        ..SubscribeOptions::new(format!("test.{}", uuid::Uuid::new_v4()), &["iam.#"])
    };
    let consumer = s
        .bus
        .subscribe(options, collector.clone(), shutdown.clone())
        .await
        .unwrap();
    let relay = outbox::start_relay(s.db.clone(), s.bus.clone(), shutdown.clone());
    let root = admin(&s.core).await;
    let user = s
        .core
        .create_user(
            &root,
            NewUser {
                username: Some("ada@example.com".into()),
                password: Some("ada-password".into()),
                firstname: Some("Ada".into()),
                lastname: Some("Lovelace".into()),
                ..NewUser::default()
            },
        )
        .await
        .unwrap();
    let patch = UserPatch {
        status: Some("DISABLED".into()),
        ..UserPatch::default()
    };
    s.core.update_user(&root, &user.id, patch).await.unwrap();
    s.core.delete_user(&root, &user.id).await.unwrap();
    s.core.logout(&root).await.unwrap();

    let expected = [
        "iam.user.created",
        "iam.user.modified",
        "iam.token.revoked",
        "iam.user.deleted",
        "iam.token.revoked",
        "iam.token.revoked",
    ];
    let got = collector.wait_for(expected.len()).await;
    let kinds: Vec<&str> = got.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, expected);
    assert_eq!(got[0].data["username"], "ada@example.com");
    assert!(got[0].data.get("password").is_none() && !got[0].data.to_string().contains("argon2"));
    assert_eq!(got[0].tenant.as_deref(), Some(user.tenant.as_str()));
    assert_eq!(got[1].data["status"], "DISABLED");
    assert_eq!(got[2].data["kind"], "user");
    assert_eq!(got[5].data["kind"], "token");
    shutdown.cancel();
    let _ = consumer.await;
    let _ = relay.await;
    finish(s).await;
}

async fn passwords_are_stored_as_argon2id_and_first_start_runs_once(s: Setup) {
    admin(&s.core).await;
    assert!(
        s.core
            .bootstrap("other@example.com", None, "default")
            .await
            .unwrap()
            .is_none(),
        "second start seeds nothing"
    );
    let hash: String =
        sqlx::query_scalar("SELECT password_hash FROM users WHERE username = 'root@example.com'")
            .fetch_one(s.db.pool())
            .await
            .unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    let roles: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM roles")
        .fetch_one(s.db.pool())
        .await
        .unwrap();
    assert_eq!(roles, 3);
    finish(s).await;
}

async fn finish(s: Setup) {
    s.db.close().await;
    if let Some((url, exchange)) = &s.amqp {
        flowmate_testkit::delete_amqp_objects(url, exchange, &[]).await;
    }
    if let Some(pg) = s.pg {
        pg.drop_database().await;
    }
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
    user_changes_are_announced_through_the_outbox,
    passwords_are_stored_as_argon2id_and_first_start_runs_once
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_and_the_operational_routes_share_one_port() {
    let dir = TempDir::new().unwrap();
    let bus: SharedBus = Arc::new(
        flowmate_bus::embedded::EmbeddedBus::open(&dir.path().join("bus.db"))
            .await
            .unwrap(),
    );
    let config = flowmate_identity::IdentityConfig {
        database_url: Db::sqlite_url(&dir.path().join("identity.db")).into(),
        max_connections: 2,
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        policy: POLICY,
        admin_username: "root@example.com".into(),
        admin_password: None,
        default_tenant: "default".into(),
    };
    let shutdown = CancellationToken::new();
    let (running, first_start) = flowmate_identity::start(config, bus, shutdown.clone())
        .await
        .unwrap();
    let first = first_start.expect("first start creates the admin");
    assert_eq!(
        first.generated_password.as_ref().map(String::len),
        Some(24),
        "a password is generated"
    );

    let api = flowmate_testkit::Api::new(format!("http://{}", running.addr));
    assert_eq!(api.get("/healthz", None).await.status, 200);
    assert_eq!(api.get("/readyz", None).await.body["status"], "ready");
    assert_eq!(api.get("/metrics", None).await.status, 200);

    let mut client = flowmate_proto::identity::v1::identity_client::IdentityClient::connect(format!(
        "http://{}",
        running.addr
    ))
    .await
    .unwrap();
    let keys = client
        .get_public_keys(flowmate_proto::identity::v1::GetPublicKeysRequest {})
        .await
        .unwrap();
    assert_eq!(keys.get_ref().keys[0].algorithm, "EdDSA");
    assert_eq!(keys.get_ref().keys[0].key.len(), 32);
    let login = flowmate_proto::identity::v1::LoginRequest {
        username: "root@example.com".into(),
        password: first.generated_password.unwrap(),
    };
    assert!(!client.login(login).await.unwrap().get_ref().token.is_empty());

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), running.task)
        .await
        .unwrap()
        .unwrap();
}
