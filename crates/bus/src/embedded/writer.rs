//! The single writer of the queue file: batches every pending write into one transaction (group commit).
//!
//! It runs on a thread of its own with a plain SQLite connection (rusqlite): callers hand it requests through a
//! channel and it answers each once its transaction committed. A batch costs one thread hand-off however many
//! statements it runs — with an async driver every statement is a hand-off to the driver's thread and back, and
//! on a busy machine each of those waits for a time slice (BENCHMARKS.md, "Where the time went").

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, Mutex, RwLock},
    time::{SystemTime, UNIX_EPOCH},
};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot, Notify};

use super::store::{self, Bindings, ClaimedRow};
use crate::{pattern_matches, BusError};

/// Most requests committed in one transaction; bounds the latency a large batch adds to its first caller.
const MAX_BATCH: usize = 512;

/// Requests waiting for the writer before callers are held back.
const QUEUE_DEPTH: usize = 4096;

/// One message to publish: its routing key and JSON body.
#[derive(Debug)]
pub(super) struct Outgoing {
    /// Routing key ([`Envelope::routing_key`](crate::Envelope::routing_key)).
    pub(super) kind: String,
    /// The envelope as JSON.
    pub(super) body: String,
}

/// A write the writer performs.
#[derive(Debug)]
pub(super) enum Op {
    /// Enqueue messages for every group bound to their keys; all or none.
    Publish(Vec<Outgoing>),
    /// Bind a group to patterns (ephemeral: forgotten at the next open).
    Declare {
        group: String,
        patterns: Vec<String>,
        ephemeral: bool,
    },
    /// Lock up to `limit` available rows of a group.
    Claim { group: String, limit: u32 },
    /// A row was processed.
    Ack { seq: i64 },
    /// A row fails transiently: make it available again at `available_at_ms` as attempt `attempt`.
    Retry {
        seq: i64,
        attempt: u32,
        available_at_ms: i64,
    },
    /// A row can never succeed: move it to the group `dlq`.
    DeadLetter { seq: i64, dlq: String, reason: String },
    /// Remove and return the unclaimed rows of a group.
    Drain { group: String },
    /// Check the file answers (`SELECT 1`).
    Ping,
}

/// What a claim found.
#[derive(Debug, Default)]
pub(super) struct Claimed {
    /// The rows now locked for the caller, oldest first.
    pub(super) rows: Vec<ClaimedRow>,
    /// When the next delayed row of the group becomes available (ms since the epoch), if the claim was short.
    pub(super) next_due_ms: Option<i64>,
}

/// The answer to an [`Op`].
#[derive(Debug)]
pub(super) enum Done {
    /// Publish, declare, ack, retry, dead-letter or ping committed.
    Written,
    /// A claim committed.
    Claimed(Claimed),
    /// A drain committed; the bodies removed.
    Drained(Vec<String>),
}

struct Request {
    op: Op,
    reply: oneshot::Sender<Result<Done, BusError>>,
}

/// A cheap handle to the writer task; the task ends when the last handle is dropped.
#[derive(Clone, Debug)]
pub(super) struct WriterHandle {
    tx: mpsc::Sender<Request>,
}

impl WriterHandle {
    /// Sends `op` and waits until its transaction committed.
    pub(super) async fn call(&self, op: Op) -> Result<Done, BusError> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(Request { op, reply }).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> BusError {
    BusError::Unavailable("embedded bus writer stopped".to_owned())
}

/// Milliseconds since the Unix epoch.
pub(super) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The wake-up signal of each group's consumers: a commit that made rows available wakes only the groups that got
/// them (waking every consumer on every publish had each of them claim in vain, a query apiece on the writer).
#[derive(Debug, Default)]
pub(super) struct Wakers(Mutex<HashMap<String, Arc<Notify>>>);

impl Wakers {
    /// The signal of `group` (created on first use).
    pub(super) fn of(&self, group: &str) -> Arc<Notify> {
        let mut map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(group.to_owned()).or_default().clone()
    }

    fn wake(&self, groups: &BTreeSet<String>) {
        let map = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for group in groups {
            if let Some(notify) = map.get(group) {
                notify.notify_waiters();
            }
        }
    }
}

/// Every group's patterns as committed, for [`routes`]; the writer updates it after each commit that bound some.
pub(super) type SharedBindings = Arc<RwLock<Bindings>>;

/// Whether a message with routing key `kind` goes to at least one group.
pub(super) fn routes(bindings: &SharedBindings, kind: &str) -> bool {
    let bindings = bindings.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    !matching_groups(kind, &bindings, &Bindings::new()).is_empty()
}

/// Starts the writer thread on `conn`; a commit that made rows available wakes their groups in `wakers`, and one
/// that bound groups updates `shared`.
pub(super) fn spawn(
    conn: Connection,
    bindings: Bindings,
    shared: SharedBindings,
    wakers: Arc<Wakers>,
) -> std::io::Result<WriterHandle> {
    let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
    let writer = Writer {
        conn,
        rx,
        bindings,
        shared,
        wakers,
    };
    std::thread::Builder::new()
        .name("flowmate-bus".to_owned())
        .spawn(move || writer.run())?;
    Ok(WriterHandle { tx })
}

struct Writer {
    conn: Connection,
    rx: mpsc::Receiver<Request>,
    bindings: Bindings,
    shared: SharedBindings,
    wakers: Arc<Wakers>,
}

/// The effects of a transaction that only become real once it commits.
#[derive(Default)]
struct Staged {
    bindings: Bindings,
    /// Groups that got rows.
    enqueued: BTreeSet<String>,
}

impl Writer {
    fn run(mut self) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while let Some(first) = self.rx.blocking_recv() {
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match self.rx.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            self.process(std::mem::take(&mut batch));
        }
        if let Err((_, error)) = self.conn.close() {
            tracing::warn!(%error, "closing the embedded bus database failed");
        }
    }

    fn process(&mut self, batch: Vec<Request>) {
        let ops: Vec<&Op> = batch.iter().map(|r| &r.op).collect();
        match self.commit(&ops) {
            Ok(results) => {
                for (request, result) in batch.into_iter().zip(results) {
                    let _ = request.reply.send(Ok(result));
                }
            }
            // One failing request must not fail the others: redo them one transaction each.
            Err(error) if batch.len() > 1 => {
                tracing::warn!(%error, size = batch.len(), "batched write failed; retrying one by one");
                for request in batch {
                    let result = self.commit(&[&request.op]);
                    let _ = request
                        .reply
                        .send(result.and_then(|mut done| done.pop().ok_or_else(stopped)));
                }
            }
            Err(error) => {
                if let Some(request) = batch.into_iter().next() {
                    let _ = request.reply.send(Err(error));
                }
            }
        }
    }

    /// Applies `ops` in one transaction; one result per op, in order.
    fn commit(&mut self, ops: &[&Op]) -> Result<Vec<Done>, BusError> {
        let mut staged = Staged::default();
        let tx = self.conn.transaction().map_err(|e| error_of(&e))?;
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            let done = apply(&tx, &self.bindings, &mut staged, op).map_err(|e| error_of(&e))?;
            results.push(done);
        }
        tx.commit().map_err(|e| error_of(&e))?;
        if !staged.bindings.is_empty() {
            let mut shared = self
                .shared
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (group, patterns) in staged.bindings {
                shared
                    .entry(group.clone())
                    .or_default()
                    .extend(patterns.iter().cloned());
                self.bindings.entry(group).or_default().extend(patterns);
            }
        }
        if !staged.enqueued.is_empty() {
            self.wakers.wake(&staged.enqueued);
        }
        Ok(results)
    }
}

fn error_of(error: &rusqlite::Error) -> BusError {
    BusError::Unavailable(format!("embedded bus store: {error}"))
}

fn apply(conn: &Connection, bindings: &Bindings, staged: &mut Staged, op: &Op) -> rusqlite::Result<Done> {
    let now = now_ms();
    match op {
        Op::Publish(messages) => {
            for message in messages {
                let groups = matching_groups(&message.kind, bindings, &staged.bindings);
                for group in &groups {
                    store::insert_message(conn, group, &message.body, now)?;
                }
                staged.enqueued.extend(groups.into_iter().map(str::to_owned));
            }
            Ok(Done::Written)
        }
        Op::Declare {
            group,
            patterns,
            ephemeral,
        } => {
            for pattern in patterns {
                store::insert_binding(conn, group, pattern, *ephemeral)?;
            }
            staged
                .bindings
                .entry(group.clone())
                .or_default()
                .extend(patterns.iter().cloned());
            Ok(Done::Written)
        }
        Op::Claim { group, limit } => {
            let rows = store::claim(conn, group, *limit, now)?;
            // Only a short claim means the group may be waiting on a delayed retry.
            let next_due_ms = if rows.len() < *limit as usize {
                store::next_due(conn, group, now)?
            } else {
                None
            };
            Ok(Done::Claimed(Claimed { rows, next_due_ms }))
        }
        Op::Ack { seq } => {
            store::delete(conn, *seq)?;
            Ok(Done::Written)
        }
        Op::Retry {
            seq,
            attempt,
            available_at_ms,
        } => {
            store::reschedule(conn, *seq, *attempt, *available_at_ms)?;
            Ok(Done::Written)
        }
        Op::DeadLetter { seq, dlq, reason } => {
            store::dead_letter(conn, *seq, dlq, reason, now)?;
            staged.enqueued.insert(dlq.clone());
            Ok(Done::Written)
        }
        Op::Drain { group } => Ok(Done::Drained(store::drain(conn, group)?)),
        Op::Ping => {
            store::ping(conn)?;
            Ok(Done::Written)
        }
    }
}

/// The groups with at least one pattern matching `kind`, committed or staged in this transaction.
fn matching_groups<'a>(kind: &str, committed: &'a Bindings, staged: &'a Bindings) -> BTreeSet<&'a str> {
    committed
        .iter()
        .chain(staged.iter())
        .filter(|(_, patterns)| patterns.iter().any(|p| pattern_matches(p, kind)))
        .map(|(group, _)| group.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_commit_wakes_only_the_groups_that_got_rows() {
        let wakers = Wakers::default();
        let (a, b) = (wakers.of("a"), wakers.of("b"));
        let (woken, asleep) = (a.notified(), b.notified());
        tokio::pin!(woken, asleep);
        woken.as_mut().enable();
        asleep.as_mut().enable();
        wakers.wake(&BTreeSet::from(["a".to_owned(), "nobody-listens".to_owned()]));
        assert!(futures::poll!(woken.as_mut()).is_ready());
        assert!(futures::poll!(asleep.as_mut()).is_pending());
        assert!(Arc::ptr_eq(&a, &wakers.of("a")), "one signal per group");
    }

    #[test]
    fn a_key_goes_once_to_every_group_bound_to_it_committed_or_staged() {
        let mut committed = Bindings::new();
        committed
            .entry("a".into())
            .or_default()
            .extend(["iam.#".to_owned(), "iam.user.*".to_owned()]);
        committed
            .entry("b".into())
            .or_default()
            .insert("flow.#".to_owned());
        let mut staged = Bindings::new();
        staged
            .entry("c".into())
            .or_default()
            .insert("*.user.created".to_owned());
        staged.entry("a".into()).or_default().insert("#".to_owned());

        let groups = matching_groups("iam.user.created", &committed, &staged);
        assert_eq!(groups.into_iter().collect::<Vec<_>>(), vec!["a", "c"]);
        assert!(matching_groups("other", &committed, &Bindings::new()).is_empty());
    }
}
