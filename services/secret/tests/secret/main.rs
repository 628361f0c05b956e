//! The secret service below the gateway: its store (SQLite always, PostgreSQL when `TEST_DATABASE_URL` is set),
//! per-type rules and masking, the refresh lease across replicas, token endpoints that fail, the consent state,
//! and key rotation. Each test owns its database.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod consent;
mod refresh;
mod rotation;
mod rules;

use std::{sync::Arc, time::Duration};

use flowmate_auth::{secrets::SecretBox, Claims, Principal};
use flowmate_secret::{core::SecretCore, oauth::TokenClient, store::SqlStore, MIGRATIONS};
use flowmate_store::Db;
use flowmate_testkit::{PgDatabase, TempDir};

/// The key the tests seal with.
pub const KEY: &str = "old:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
/// A second key, for rotation.
pub const NEW_KEY: &str = "new:ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

/// One test's database.
pub struct Setup {
    pub url: String,
    pg: Option<PgDatabase>,
    _dir: TempDir,
}

impl Setup {
    /// SQLite (`distributed == false`) or a fresh PostgreSQL database (`None` when not configured).
    pub async fn new(distributed: bool) -> Option<Setup> {
        let dir = TempDir::new().unwrap();
        if distributed {
            let pg = PgDatabase::create().await?;
            Some(Setup {
                url: pg.url.clone(),
                pg: Some(pg),
                _dir: dir,
            })
        } else {
            let url = Db::sqlite_url(&dir.path().join("secrets.db"));
            Some(Setup {
                url,
                pg: None,
                _dir: dir,
            })
        }
    }

    /// A store on the database (a replica's own pool).
    pub async fn store(&self) -> SqlStore {
        SqlStore::new(Db::connect(&self.url, 4, MIGRATIONS).await.unwrap())
    }

    /// A core (one replica) on the database, sealing with `keys`, with a short token endpoint timeout.
    pub async fn core(&self, keys: &str) -> Arc<SecretCore> {
        Arc::new(SecretCore::new(
            Arc::new(self.store().await),
            Arc::new(SecretBox::from_keys(keys).unwrap()),
            TokenClient::new(Duration::from_millis(500), true).unwrap(),
        ))
    }

    /// Drops the database.
    pub async fn finish(self) {
        if let Some(pg) = self.pg {
            pg.drop_database().await;
        }
    }
}

/// A caller of `tenant` holding `permissions`.
pub fn caller(user: &str, tenant: &str, permissions: &[&str]) -> Principal {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    Principal {
        claims: Claims {
            sub: user.into(),
            tenant: tenant.into(),
            username: format!("{user}@example.com"),
            permissions: permissions.iter().map(|p| p.to_string()).collect(),
            roles: vec![],
            jti: "j".into(),
            iat: now,
            iat_ms: None,
            exp: now + 600,
        },
        token: String::new(),
    }
}

/// A member of `tenant-a` who may read and write secrets.
pub fn alice() -> Principal {
    caller("alice", "tenant-a", &["secrets.read", "secrets.write"])
}

/// A member of `tenant-b` who may read and write secrets.
pub fn bob() -> Principal {
    caller("bob", "tenant-b", &["secrets.read", "secrets.write"])
}

/// Runs `scenario` on SQLite and on PostgreSQL (when configured).
#[macro_export]
macro_rules! both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let s = $crate::Setup::new(false).await.unwrap();
                    super::$name(&s).await;
                    s.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(s) = $crate::Setup::new(true).await else { return };
                    super::$name(&s).await;
                    s.finish().await;
                }
            )*
        }
    };
}
