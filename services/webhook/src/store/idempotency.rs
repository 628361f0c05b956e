//! `Idempotency-Key` records: a repeat of a key within 24 hours gets the first response and starts nothing.

use flowmate_domain::time;
use flowmate_store::{Db, Row, StoreError};
use serde_json::{json, Value};

use crate::deliver::Reply;

/// How long a key is remembered.
pub const REMEMBER: chrono::Duration = chrono::Duration::hours(24);
/// The status of a key whose publish was not confirmed.
const UNCONFIRMED: i64 = 0;
/// A key whose first request has not answered after this long is taken over by a repeat (the first one crashed).
const IN_PROGRESS: chrono::Duration = chrono::Duration::seconds(60);

/// What a request with a key should do.
#[derive(Debug)]
pub enum Claim {
    /// First use: go ahead with this request id.
    New,
    /// Answered before: send this again.
    Replay(Reply),
    /// The first request is still being handled.
    InProgress,
    /// The first request never answered: go ahead with its request id (the execution is created at most once).
    TakeOver(String),
}

/// The key records.
#[derive(Clone)]
pub struct IdempotencyRecords {
    db: Db,
}

impl IdempotencyRecords {
    /// Records in `db`.
    pub fn new(db: Db) -> IdempotencyRecords {
        IdempotencyRecords { db }
    }

    /// Claims `key` for `flow` with `request_id`.
    pub async fn claim(&self, flow: &str, key: &str, request_id: &str) -> Result<Claim, StoreError> {
        let now = time::now();
        let mut tx = self.db.begin().await?;
        let row = sqlx::query(
            "SELECT request_id, status, response, created_at FROM idempotency_keys \
             WHERE flow_id = $1 AND idempotency_key = $2",
        )
        .bind(flow)
        .bind(key)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = row {
            let created: String = row.try_get("created_at")?;
            let created = time::parse(&created).unwrap_or(now);
            if now - created < REMEMBER {
                let status: Option<i64> = row.try_get("status")?;
                let response: Option<String> = row.try_get("response")?;
                return Ok(match (status, response) {
                    (Some(UNCONFIRMED), _) => Claim::TakeOver(row.try_get("request_id")?),
                    (Some(status), Some(response)) => Claim::Replay(Reply::from_stored(status, &response)),
                    _ if now - created < IN_PROGRESS => Claim::InProgress,
                    _ => Claim::TakeOver(row.try_get("request_id")?),
                });
            }
            sqlx::query("DELETE FROM idempotency_keys WHERE flow_id = $1 AND idempotency_key = $2")
                .bind(flow)
                .bind(key)
                .execute(&mut *tx)
                .await?;
        }
        let inserted = sqlx::query(
            "INSERT INTO idempotency_keys (flow_id, idempotency_key, request_id, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (flow_id, idempotency_key) DO NOTHING",
        )
        .bind(flow)
        .bind(key)
        .bind(request_id)
        .bind(time::format(now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(if inserted > 0 {
            Claim::New
        } else {
            Claim::InProgress
        })
    }

    /// Stores the answer given to the first request.
    pub async fn complete(&self, flow: &str, key: &str, reply: &Reply) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "UPDATE idempotency_keys SET status = $3, response = $4 WHERE flow_id = $1 AND idempotency_key = $2",
        )
        .bind(flow)
        .bind(key)
        .bind(i64::from(reply.status))
        .bind(reply.to_stored())
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// Marks a key whose publish was not confirmed (it may still have reached the broker): a repeat goes ahead at
    /// once with the same request id, so at most one execution results.
    pub async fn unconfirmed(&self, flow: &str, key: &str) -> Result<(), StoreError> {
        let mut tx = self.db.begin().await?;
        sqlx::query(
            "UPDATE idempotency_keys SET status = $3 WHERE flow_id = $1 AND idempotency_key = $2 AND status IS NULL",
        )
        .bind(flow)
        .bind(key)
        .bind(UNCONFIRMED)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// Deletes records older than [`REMEMBER`]; returns how many.
    pub async fn prune(&self) -> Result<u64, StoreError> {
        let before = time::format(time::now() - REMEMBER);
        let mut tx = self.db.begin().await?;
        let n = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n)
    }
}

impl Reply {
    fn to_stored(&self) -> String {
        json!({"headers": self.headers, "body": String::from_utf8_lossy(&self.body)}).to_string()
    }

    fn from_stored(status: i64, stored: &str) -> Reply {
        let v: Value = serde_json::from_str(stored).unwrap_or(Value::Null);
        let headers = v["headers"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|h| Some((h.get(0)?.as_str()?.to_owned(), h.get(1)?.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        Reply {
            status: u16::try_from(status).unwrap_or(200),
            headers,
            body: v["body"].as_str().unwrap_or_default().as_bytes().to_vec(),
        }
    }
}
