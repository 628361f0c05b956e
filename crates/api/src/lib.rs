//! REST request and response types of the public API (API.md), with their OpenAPI schemas. Shared by the gateway
//! and the end-to-end tests.

pub mod envelopes;

pub mod answers;
pub mod errors;
pub mod executions;
pub mod flows;
pub mod identity;
pub mod quota;
pub mod templates;

pub use errors::{ErrorBody, ErrorItem};
