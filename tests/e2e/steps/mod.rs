//! The flow-control steps through the public API, in both run modes (API.md §10): `merge.wait` joining split
//! and parallel branches, `flow.call` child executions (waited for, fire and forget, failures, the depth limit),
//! `wait.event` resumed by its URL (wrong and reused tokens, timeouts, a restart in between), `dedupe.check` and
//! `error.raise`.

mod calls;
mod helpers;
mod merges;
mod others;
mod waits;
