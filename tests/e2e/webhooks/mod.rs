//! Incoming webhooks (API.md §5) through the gateway, in both run modes: the trigger message, parsing by content
//! type, authentication (HMAC and tokens), write-only secrets, Idempotency-Key, sync replies, rate limits.

mod auth;
mod delivery;
mod fast;
pub(crate) mod helpers;
mod replies;
