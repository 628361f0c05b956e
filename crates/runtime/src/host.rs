//! The service host: what every service does to start and to stop, written once. A service's `start` asks the
//! host for what it needs — its database (migrated, with the outbox relay publishing its events), token
//! verification kept current from identity, bus subscriptions, background tasks, readiness conditions — then hands
//! it its routes to serve. On shutdown the host stops serving (answering the requests in flight), waits for every
//! background task and closes the database.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::Router;
use flowmate_auth::{
    sync::{GrpcKeySource, KeySource},
    Verifier,
};
use flowmate_bus::{Handler, SharedBus, SubscribeOptions};
use flowmate_store::{outbox, Db, Migrations};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::ops::{self, Check};

/// How often token keys and revocations are reloaded besides the revocation events.
pub const KEY_REFRESH: Duration = Duration::from_secs(30);

/// How often a service refreshes the planner's statistics of its database ([`Db::analyze`], PostgreSQL only).
pub const ANALYZE_EVERY: Duration = Duration::from_secs(600);

/// Runs [`Db::analyze`] every [`ANALYZE_EVERY`] until `shutdown` (one at a time, each bounded by
/// [`flowmate_store::ANALYZE_TIMEOUT`]); a failure is logged and tried again next time.
fn keep_statistics(db: Db, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        if db.backend() != flowmate_store::Backend::Postgres {
            return;
        }
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(ANALYZE_EVERY) => {}
            }
            if let Err(error) = db.analyze(&[]).await {
                tracing::warn!(%error, "refreshing the database statistics failed");
            }
        }
    })
}

/// A started service.
pub struct Running {
    /// Where it listens (gRPC and the operational routes; the REST API for the gateway).
    pub addr: SocketAddr,
    /// Ends after `shutdown` once requests in flight are answered, background tasks have stopped and the
    /// database is closed.
    pub task: JoinHandle<()>,
}

/// Collects what a service runs while it starts, and serves it.
pub struct ServiceHost {
    name: &'static str,
    bus: SharedBus,
    shutdown: CancellationToken,
    db: Option<Db>,
    checks: Vec<Check>,
    tasks: Vec<JoinHandle<()>>,
}

impl ServiceHost {
    /// A host for the service `name` (`execution`, `gateway`, …) talking on `bus`, running until `shutdown`.
    /// The bus is part of its readiness.
    pub fn new(name: &'static str, bus: SharedBus, shutdown: CancellationToken) -> ServiceHost {
        let probe_bus = bus.clone();
        let checks = vec![Check::probe("bus", move || {
            let bus = probe_bus.clone();
            async move { bus.health().await }
        })];
        ServiceHost {
            name,
            bus,
            shutdown,
            db: None,
            checks,
            tasks: Vec::new(),
        }
    }

    /// The bus.
    pub fn bus(&self) -> &SharedBus {
        &self.bus
    }

    /// The token that stops the service.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }

    /// Opens the service's own database at `url` and runs its migrations; starts the outbox relay that publishes
    /// the events its transactions write. The database is part of readiness and is closed after shutdown.
    pub async fn open_database(
        &mut self,
        url: &str,
        max_connections: u32,
        migrations: Migrations,
    ) -> anyhow::Result<Db> {
        let db = self.open_store(url, max_connections, migrations).await?;
        self.tasks.push(outbox::start_relay(
            db.clone(),
            self.bus.clone(),
            self.shutdown.clone(),
        ));
        Ok(db)
    }

    /// Like [`ServiceHost::open_database`] for a database without an outbox (the service publishes nothing
    /// through one): no relay.
    pub async fn open_store(
        &mut self,
        url: &str,
        max_connections: u32,
        migrations: Migrations,
    ) -> anyhow::Result<Db> {
        let db = Db::connect(url, max_connections, migrations).await?;
        let probe_db = db.clone();
        self.checks.push(Check::probe("database", move || {
            let db = probe_db.clone();
            async move { db.health().await }
        }));
        self.db = Some(db.clone());
        self.tasks
            .push(keep_statistics(db.clone(), self.shutdown.clone()));
        Ok(db)
    }

    /// A token verifier kept current with identity (at `identity_url`): its public keys and the revocations in
    /// force, reloaded every `refresh`, and `iam.token.revoked` events applied as they arrive. The service is
    /// ready once the keys are loaded.
    pub async fn verify_tokens(
        &mut self,
        identity_url: &str,
        rpc_timeout: Duration,
        refresh: Duration,
    ) -> anyhow::Result<Arc<Verifier>> {
        let keys: Arc<dyn KeySource> = Arc::new(GrpcKeySource::new(identity_url, rpc_timeout)?);
        let verifier = Arc::new(Verifier::new());
        self.tasks.push(flowmate_auth::sync::start(
            keys,
            verifier.clone(),
            refresh,
            self.shutdown.clone(),
        ));
        self.follow_revocations(verifier.clone()).await?;
        let loaded = verifier.clone();
        self.ready_when("identity keys", move || {
            if loaded.has_keys() {
                Ok(())
            } else {
                Err("not loaded yet".into())
            }
        });
        Ok(verifier)
    }

    /// Applies every `iam.token.revoked` event to `verifier`, on a queue of this replica's own (identity owns its
    /// verifier; other replicas' revocations reach it this way).
    pub async fn follow_revocations(&mut self, verifier: Arc<Verifier>) -> anyhow::Result<()> {
        let task =
            flowmate_auth::sync::subscribe_revocations(&self.bus, self.name, verifier, self.shutdown.clone())
                .await?;
        self.tasks.push(task);
        Ok(())
    }

    /// Consumes `options` with `handler` until shutdown.
    pub async fn subscribe(
        &mut self,
        options: SubscribeOptions,
        handler: Arc<dyn Handler>,
    ) -> anyhow::Result<()> {
        let task = self
            .bus
            .subscribe(options, handler, self.shutdown.clone())
            .await?;
        self.tasks.push(task);
        Ok(())
    }

    /// A background task that ends after shutdown; the service waits for it before it stops.
    pub fn spawn(&mut self, task: JoinHandle<()>) {
        self.tasks.push(task);
    }

    /// The service is ready only while `condition` holds; its error says what is missing.
    pub fn ready_when(
        &mut self,
        name: &'static str,
        condition: impl Fn() -> Result<(), String> + Send + Sync + 'static,
    ) {
        self.checks.push(Check::condition(name, condition));
    }

    /// Replaces the checks named `a` and `b` (e.g. `bus` and `database`) by one named `name` that passes while
    /// either does: for a service that can do its work with one of the two (the webhook service spools triggers
    /// to its database while the broker is down). Call it after both checks exist; otherwise nothing changes.
    pub fn ready_with_either(&mut self, name: &'static str, a: &str, b: &str) {
        let position = |checks: &[Check], n: &str| checks.iter().position(|c| c.name() == n);
        let Some(i) = position(&self.checks, a) else {
            return;
        };
        let first = self.checks.remove(i);
        let Some(j) = position(&self.checks, b) else {
            self.checks.insert(i, first);
            return;
        };
        let second = self.checks.remove(j);
        self.checks.push(Check::either(name, first, second));
    }

    /// The service is ready only while `check` passes (a dependency asked over IO).
    pub fn ready_check(&mut self, check: Check) {
        self.checks.push(check);
    }

    /// Listens on `addr` (`127.0.0.1:0` picks a free port) and serves `app` — the service's gRPC routes and
    /// anything else — plus `/healthz`, `/readyz` and `/metrics` until shutdown.
    pub async fn serve(self, addr: SocketAddr, app: Router) -> anyhow::Result<Running> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let ServiceHost {
            name,
            shutdown,
            db,
            checks,
            tasks,
            ..
        } = self;
        let task = tokio::spawn(async move {
            if let Err(e) = ops::serve(listener, name, app, checks, shutdown).await {
                tracing::error!(service = name, error = %e, "server failed");
            }
            for task in tasks {
                let _ = task.await;
            }
            if let Some(db) = db {
                db.close().await;
            }
        });
        tracing::info!(service = name, %addr, "listening");
        Ok(Running { addr, task })
    }
}
