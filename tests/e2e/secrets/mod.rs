//! Secrets and credentials (API.md §9) through the public API, in both run modes: CRUD and masking, every bad
//! input, tenant scope, steps using each type, the leak search, start-time checks, 409 on delete, the consent round
//! trip, the single refresh across executions and replicas, failing token endpoints, and key rotation under load.

mod console;
mod crud;
mod oauth;
mod rotation;
mod steps;
mod support;
