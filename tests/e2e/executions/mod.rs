//! Flows that really run (API.md §5–§6) through the gateway, in both run modes: the start check, every built-in
//! component, conditions, mappers and fan-out, failing expressions and HTTP calls, retries, durable delays across
//! a restart, schedules, crash recovery, the executions API and tenant scope.

mod api;
mod components;
mod concurrency;
mod delays;
mod fairness;
mod http;
mod quotas;
mod recovery;
mod retries;
mod schedules;
mod starting;
