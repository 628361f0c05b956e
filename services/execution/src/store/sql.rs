//! [`SqlStore`]: the execution store over one database, with its group-commit writers.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flowmate_domain::{
    quota::{Quota, QuotaState},
    Envelope,
};
use flowmate_store::{Backend, Db, StoreError};
use tokio::sync::{mpsc, oneshot, Mutex};

use super::{claims, executions, flows, quotas, resumes, slots, writer};
use crate::model::{
    Admission, Apply, Checkpoint, Execution, ExecutionStore, FlowMarker, FlowRegistration, Gate, GroupBy,
    ListQuery, Resume, RunningFlow, Step, TickFactory,
};

type Result<T> = std::result::Result<T, StoreError>;

/// The execution store.
#[derive(Clone)]
pub struct SqlStore {
    db: Db,
    writes: mpsc::Sender<(Checkpoint, writer::Reply)>,
}

impl SqlStore {
    /// A store over `db`, with its group-commit writers (one on SQLite, several on PostgreSQL).
    pub fn new(db: Db) -> SqlStore {
        let (tx, rx) = mpsc::channel::<(Checkpoint, writer::Reply)>(4096);
        let rx = Arc::new(Mutex::new(rx));
        let writers = match db.backend() {
            Backend::Sqlite => 1,
            Backend::Postgres => 4,
        };
        for _ in 0..writers {
            tokio::spawn(writer::write_loop(db.clone(), rx.clone()));
        }
        SqlStore { db, writes: tx }
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }
}

#[async_trait]
impl ExecutionStore for SqlStore {
    async fn register_flow(
        &self,
        registration: &FlowRegistration,
        apply: Apply,
        event: Option<&Envelope>,
    ) -> Result<bool> {
        flows::register(&self.db, registration, apply, event).await
    }

    async fn running_flow(&self, id: &str) -> Result<Option<(FlowMarker, Option<RunningFlow>)>> {
        flows::running(&self.db, id).await
    }

    async fn flow_marker(&self, id: &str) -> Result<Option<FlowMarker>> {
        flows::marker_of(&self.db, id).await
    }

    async fn running_ids(&self) -> Result<Vec<String>> {
        flows::running_ids(&self.db).await
    }

    async fn checkpoint(&self, checkpoint: Checkpoint) -> Result<bool> {
        let (reply, answer) = oneshot::channel();
        self.writes
            .send((checkpoint, reply))
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }

    async fn execution(&self, id: &str) -> Result<Option<Execution>> {
        executions::one(&self.db, id).await
    }

    async fn steps(&self, id: &str) -> Result<Vec<Step>> {
        executions::steps(&self.db, id).await
    }

    async fn list(&self, query: &ListQuery) -> Result<(Vec<Execution>, u64)> {
        executions::list(&self.db, query).await
    }

    async fn count(
        &self,
        tenant: Option<&str>,
        start: &str,
        end: &str,
        by: GroupBy,
    ) -> Result<Vec<(String, i64)>> {
        executions::count(&self.db, tenant, start, end, by).await
    }

    async fn cancel(&self, id: &str) -> Result<bool> {
        executions::cancel(&self.db, id).await
    }

    async fn insert_queued(&self, execution: &Execution, message: &Envelope) -> Result<Admission> {
        executions::insert_queued(&self.db, execution, message).await
    }

    async fn set_quota(&self, tenant: &str, quota: &Quota) -> Result<()> {
        quotas::set(&self.db, tenant, quota).await
    }

    async fn quota_state(&self, tenant: &str) -> Result<QuotaState> {
        quotas::state(&self.db, tenant).await
    }

    async fn quota_tenants(&self) -> Result<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT tenant FROM tenant_quotas ORDER BY tenant")
                .fetch_all(self.db.pool())
                .await?,
        )
    }

    async fn prune_stored(&self, batch: i64) -> Result<usize> {
        let ids = quotas::over_stored(&self.db, batch).await?;
        claims::delete(&self.db, &ids).await
    }

    async fn take_over(&self, id: &str, owner: &str, generation: i64) -> Result<Option<i64>> {
        claims::take_over(&self.db, id, owner, generation).await
    }

    async fn admit_limited(&self, execution: &Execution, limit: u32) -> Result<Gate> {
        let mut tx = self.db.begin().await?;
        let gate = slots::admit(&mut tx, execution, limit).await?;
        tx.commit().await?;
        Ok(gate)
    }

    async fn enter_limited(&self, id: &str, flow_id: &str, limit: u32) -> Result<bool> {
        let mut tx = self.db.begin().await?;
        let entered = slots::enter(&mut tx, id, flow_id, limit).await?;
        tx.commit().await?;
        Ok(entered)
    }

    async fn wake_limited(&self, flow_id: &str, limit: u32) -> Result<usize> {
        let mut tx = self.db.begin().await?;
        let woken = slots::wake(&mut tx, flow_id, limit).await?;
        tx.commit().await?;
        Ok(woken)
    }

    async fn claim_stale(&self, now: &str, limit: i64) -> Result<usize> {
        claims::claim_stale(&self.db, now, limit).await
    }

    async fn claim_due(&self, now: &str, limit: i64) -> Result<usize> {
        claims::claim_due(&self.db, now, limit).await
    }

    async fn next_wake(&self) -> Result<Option<String>> {
        claims::next_wake(&self.db).await
    }

    async fn claim_schedules(&self, now: DateTime<Utc>, limit: i64, tick: &TickFactory) -> Result<usize> {
        claims::claim_schedules(&self.db, now, limit, tick).await
    }

    async fn next_schedule(&self) -> Result<Option<String>> {
        claims::next_schedule(&self.db).await
    }

    async fn purge(&self, before: &str, batch: i64) -> Result<usize> {
        claims::purge(&self.db, before, batch).await
    }

    async fn add_resume(&self, execution_id: &str, resume: &Resume) -> Result<bool> {
        resumes::add(&self.db, execution_id, resume).await
    }

    async fn resumes(&self, execution_id: &str) -> Result<Vec<Resume>> {
        resumes::of(&self.db, execution_id).await
    }

    async fn dedupe(&self, flow_id: &str, key: &str, claimant: &str, expires_at: &str) -> Result<bool> {
        resumes::dedupe(&self.db, flow_id, key, claimant, expires_at).await
    }

    async fn purge_dedupe(&self, now: &str, batch: i64) -> Result<usize> {
        resumes::purge_dedupe(&self.db, now, batch).await
    }
}
