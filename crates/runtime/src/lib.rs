//! How every FlowMate service runs: the [`ServiceHost`] a service's `start` uses (database and migrations, outbox
//! relay, token verification, bus subscriptions, background tasks, readiness, the server and an orderly shutdown),
//! the operational routes (`/healthz`, `/readyz`, `/metrics`), and [`process::main`], the whole `main` of a
//! service binary.

pub mod host;
pub mod ops;
pub mod process;

pub use host::{Running, ServiceHost, KEY_REFRESH};
pub use ops::Check;
