//! The webhook service's own database: Idempotency-Key records.

mod idempotency;

pub use idempotency::{Claim, IdempotencyRecords, REMEMBER};
