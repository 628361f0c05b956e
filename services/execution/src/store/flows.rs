//! The flows this service runs (a copy fed by `flow.starting` / `flow.stopping`) and their cron schedules.

use flowmate_domain::Envelope;
use flowmate_store::{outbox, Db, Row, StoreError, Tx};

use super::rows::json_text;
use crate::model::{Apply, FlowMarker, FlowRegistration, RunningFlow};

/// When the flow's state last changed here.
async fn changed_at(tx: &mut Tx, id: &str) -> Result<Option<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT changed_at FROM running_flows WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut **tx)
            .await?,
    )
}

/// Records the registration with its schedule and event, as `apply` allows. Returns whether it applied.
pub(super) async fn register(
    db: &Db,
    r: &FlowRegistration,
    apply: Apply,
    event: Option<&Envelope>,
) -> Result<bool, StoreError> {
    let mut tx = db.begin().await?;
    let known = changed_at(&mut tx, &r.id).await?;
    let stale = match apply {
        Apply::UnlessNewer => known.is_some_and(|c| c > r.changed_at),
        Apply::IfUnknown => known.is_some(),
    };
    if stale {
        return Ok(false);
    }
    let applied = sqlx::query(
        "INSERT INTO running_flows (id, tenant, started_by, version, document, active, changed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET tenant = excluded.tenant, \
         started_by = excluded.started_by, version = excluded.version, document = excluded.document, \
         active = excluded.active, changed_at = excluded.changed_at \
         WHERE running_flows.changed_at <= excluded.changed_at",
    )
    .bind(r.id.as_str())
    .bind(r.tenant.as_str())
    .bind(&r.started_by)
    .bind(r.version)
    .bind(json_text(&r.document))
    .bind(i64::from(r.active))
    .bind(&r.changed_at)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        > 0;
    if !applied {
        return Ok(false); // a later change was applied by another replica meanwhile
    }
    sqlx::query("DELETE FROM schedules WHERE flow_id = $1")
        .bind(r.id.as_str())
        .execute(&mut *tx)
        .await?;
    if let Some(schedule) = &r.schedule {
        sqlx::query("INSERT INTO schedules (flow_id, cron, next_due) VALUES ($1, $2, $3)")
            .bind(r.id.as_str())
            .bind(&schedule.cron)
            .bind(&schedule.next_due)
            .execute(&mut *tx)
            .await?;
    }
    if let Some(event) = event {
        outbox::enqueue(&mut tx, event).await?;
    }
    tx.commit().await?;
    Ok(true)
}

fn marker(r: &flowmate_store::AnyRow) -> Result<FlowMarker, StoreError> {
    Ok(FlowMarker {
        changed_at: r.try_get("changed_at")?,
        active: r.try_get::<i64, _>("active")? == 1,
    })
}

/// The flow's marker and, if it runs, the flow.
pub(super) async fn running(
    db: &Db,
    id: &str,
) -> Result<Option<(FlowMarker, Option<RunningFlow>)>, StoreError> {
    let row = sqlx::query("SELECT document, started_by, changed_at, active FROM running_flows WHERE id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    let Some(r) = row else { return Ok(None) };
    let marker = marker(&r)?;
    let flow = if marker.active {
        Some(RunningFlow {
            document: serde_json::from_str(&r.try_get::<String, _>("document")?)?,
            started_by: r.try_get("started_by")?,
        })
    } else {
        None
    };
    Ok(Some((marker, flow)))
}

/// The flow's marker.
pub(super) async fn marker_of(db: &Db, id: &str) -> Result<Option<FlowMarker>, StoreError> {
    let row = sqlx::query("SELECT changed_at, active FROM running_flows WHERE id = $1")
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    row.as_ref().map(marker).transpose()
}

/// Ids of the flows this service runs.
pub(super) async fn running_ids(db: &Db) -> Result<Vec<String>, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT id FROM running_flows WHERE active = 1")
            .fetch_all(db.pool())
            .await?,
    )
}
