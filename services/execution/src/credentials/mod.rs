//! Credentials for steps (API.md §9): a node's `credentials_id` names a secret of the secret service, which the
//! execution service asks for on behalf of the flow's tenant and owner (internal gRPC with the service credential),
//! caches briefly per replica, and applies to the request a step builds. Values never enter a step's recorded
//! input, output or error, nor a log line.

mod apply;
mod check;
mod client;

pub use apply::{http_call, Credential};
pub use check::{accepts, uses_of};
pub use client::{Credentials, Invalidations, SecretValue, StepCredential, CACHE_TTL};
