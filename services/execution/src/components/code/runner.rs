//! The sandbox threads and how the async engine uses them. Code runs on threads of its own (one per core by
//! default), never on the async workers, so a busy script cannot stall webhook ingest or other executions. Each
//! run is bounded twice: QuickJS's interrupt handler stops JavaScript at its deadline, and a watchdog here answers
//! `TimeoutError` shortly after it even when the thread is stuck inside a long native call, which no interrupt
//! reaches. Such a thread is given up (a replacement takes its place) and leaves when its call returns.

use std::{
    sync::{
        atomic::{AtomicU8, AtomicUsize, Ordering},
        mpsc, Arc, Mutex,
    },
    time::Duration,
};

use tokio::sync::oneshot;

use super::{errors::Failure, sandbox::Sandbox, CodeOutput, Job, Limits};

/// How long after a run's deadline the watchdog gives up on its thread.
const GRACE: Duration = Duration::from_millis(50);
/// The native stack of a sandbox thread (QuickJS's own stack limit is well below it).
const THREAD_STACK: usize = 16 * 1024 * 1024;
/// Runs that may wait for a thread.
const QUEUE: usize = 4096;

/// A run is under way.
const RUNNING: u8 = 0;
/// The thread finished the run.
const DONE: u8 = 1;
/// The watchdog stopped waiting for the run.
const GIVEN_UP: u8 = 2;

/// Claims the end of a run for `to` if nobody else claimed it.
fn claim(state: &AtomicU8, to: u8) -> bool {
    state
        .compare_exchange(RUNNING, to, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
}

/// What a thread is asked to do.
enum Work {
    /// Compile without running.
    Check {
        code: String,
        done: oneshot::Sender<Result<(), Failure>>,
    },
    /// Run a job; `started` fires when a thread takes it (the deadline counts from then). `state` says who
    /// finished first: the thread ([`DONE`]) or the watchdog ([`GIVEN_UP`]).
    Run {
        job: Box<Job>,
        started: oneshot::Sender<()>,
        done: oneshot::Sender<CodeOutput>,
        state: Arc<AtomicU8>,
    },
}

struct Pool {
    queue: Mutex<mpsc::Receiver<Work>>,
    limits: Limits,
    /// Threads that take work.
    live: AtomicUsize,
    /// Threads given up on that have not returned yet.
    stuck: AtomicUsize,
    /// How many threads should take work.
    size: usize,
}

/// Runs code steps on the sandbox threads.
#[derive(Clone)]
pub struct CodeRunner {
    sender: mpsc::SyncSender<Work>,
    pool: Arc<Pool>,
}

impl CodeRunner {
    /// A runner with `threads` sandbox threads (at least one) under `limits`.
    pub fn new(threads: usize, limits: Limits) -> std::io::Result<CodeRunner> {
        let (sender, receiver) = mpsc::sync_channel(QUEUE);
        let pool = Arc::new(Pool {
            queue: Mutex::new(receiver),
            limits,
            live: AtomicUsize::new(0),
            stuck: AtomicUsize::new(0),
            size: threads.max(1),
        });
        for _ in 0..pool.size {
            spawn(pool.clone())?;
        }
        Ok(CodeRunner { sender, pool })
    }

    /// The limits runs get.
    pub fn limits(&self) -> Limits {
        self.pool.limits
    }

    fn submit(&self, work: Work) -> Result<(), Failure> {
        self.sender
            .send(work)
            .map_err(|_| Failure::Internal("the code sandbox has stopped".into()))
    }

    /// Compiles `code` (the start-time check).
    pub async fn check(&self, code: &str) -> Result<(), Failure> {
        let (done, answer) = oneshot::channel();
        let code = code.to_owned();
        self.submit(Work::Check { code, done })?;
        answer.await.unwrap_or_else(|_| {
            Err(Failure::Internal(
                "the code sandbox stopped during a check".into(),
            ))
        })
    }

    /// Runs `job`: its result within its time limit (plus a little), whatever the code does.
    pub async fn run(&self, job: Job) -> CodeOutput {
        self.run_bounded(job).await.unwrap_or_else(CodeOutput::failed)
    }

    async fn run_bounded(&self, job: Job) -> Result<CodeOutput, Failure> {
        let timeout = job.timeout;
        let (started, on_start) = oneshot::channel();
        let (done, answer) = oneshot::channel();
        let state = Arc::new(AtomicU8::new(RUNNING));
        self.submit(Work::Run {
            job: Box::new(job),
            started,
            done,
            state: state.clone(),
        })?;
        if on_start.await.is_err() {
            return Err(Failure::Internal(
                "the code sandbox stopped before the run".into(),
            ));
        }
        let mut answer = answer;
        match tokio::time::timeout(timeout + GRACE, &mut answer).await {
            Ok(Ok(output)) => Ok(output),
            Ok(Err(_)) => Err(Failure::Internal(
                "the code sandbox stopped during the run".into(),
            )),
            // The thread finished just now: its answer is on its way.
            Err(_) if !claim(&state, GIVEN_UP) => answer
                .await
                .map_err(|_| Failure::Internal("the code sandbox stopped during the run".into())),
            Err(_) => {
                // The thread is inside a call no interrupt reaches; it leaves when the call returns.
                tracing::warn!(
                    timeout_ms = timeout.as_millis() as u64,
                    "a code step overran its deadline in a native call; its thread is given up"
                );
                metrics::counter!("flowmate_code_threads_abandoned_total").increment(1);
                self.pool.live.fetch_sub(1, Ordering::AcqRel);
                // A replacement keeps the pool's capacity, but never more stuck threads than twice the pool.
                if self.pool.stuck.fetch_add(1, Ordering::AcqRel) < 2 * self.pool.size {
                    if let Err(e) = spawn(self.pool.clone()) {
                        tracing::error!(error = %e, "cannot start a replacement sandbox thread");
                    }
                }
                Err(Failure::Timeout)
            }
        }
    }
}

fn spawn(pool: Arc<Pool>) -> std::io::Result<()> {
    pool.live.fetch_add(1, Ordering::AcqRel);
    let started = std::thread::Builder::new()
        .name("flowmate-code".into())
        .stack_size(THREAD_STACK)
        .spawn({
            let pool = pool.clone();
            move || work(&pool)
        });
    if started.is_err() {
        pool.live.fetch_sub(1, Ordering::AcqRel);
    }
    started.map(|_| ())
}

/// A sandbox thread: takes work until the runner is dropped, or until a run it was given up on returns.
fn work(pool: &Pool) {
    let mut sandbox = Sandbox::new(pool.limits);
    loop {
        let next = match pool.queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(work) = next else { return };
        match work {
            Work::Check { code, done } => {
                let _ = done.send(sandbox.check(&code));
            }
            Work::Run {
                job,
                started,
                done,
                state,
            } => {
                let _ = started.send(());
                let result = sandbox.run(&job);
                if !claim(&state, DONE) {
                    // The watchdog counted this thread out and started a replacement.
                    pool.stuck.fetch_sub(1, Ordering::AcqRel);
                    return;
                }
                let _ = done.send(result);
            }
        }
    }
}
