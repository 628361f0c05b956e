//! The webhook service's own database: Idempotency-Key records, and the spool of triggers the broker could not
//! confirm.

mod idempotency;
pub mod spool;

pub use idempotency::{Claim, IdempotencyRecords, REMEMBER};
pub use spool::Spool;
