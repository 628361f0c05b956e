//! Memory handed back to the system: FlowMate's binaries allocate with mimalloc, which keeps freed memory for a
//! short delay (10 ms) before returning it, so a burst of work does not pay for giving pages back and faulting
//! them in again. A thread that goes idle would keep what it freed until it next allocates; these hooks make idle
//! threads return it.

use std::{
    cell::Cell,
    time::{Duration, Instant},
};

/// How often at most a worker thread tidies its heap when it parks.
const TRIM_EVERY: Duration = Duration::from_millis(100);

/// The Tokio runtime of every FlowMate binary: multi-threaded, and a worker that parks (runs out of work) returns
/// the memory it freed to the system, at most every 100 ms per thread.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_park(trim_when_idle)
        .build()
}

fn trim_when_idle() {
    thread_local!(static LAST: Cell<Option<Instant>> = const { Cell::new(None) });
    let now = Instant::now();
    LAST.with(|last| {
        if last.get().is_none_or(|at| now.duration_since(at) >= TRIM_EVERY) {
            last.set(Some(now));
            collect(false);
        }
    });
}

/// Returns everything this thread freed to the system now: for a blocking task that just freed a large buffer
/// (an Argon2 hash takes 19 MiB) on a thread that may not allocate again before it exits.
pub fn release_freed_memory() {
    collect(true);
}

#[allow(unsafe_code)]
fn collect(force: bool) {
    // SAFETY: `mi_collect` only tidies the calling thread's heap and mimalloc's shared arenas; it is safe to call
    // at any time from any thread, whether or not mimalloc is the global allocator (then it has nothing to do).
    unsafe { libmimalloc_sys::mi_collect(force) }
}
