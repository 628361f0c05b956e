//! End-to-end tests through the public REST API. Every scenario runs in both run modes (see `harness`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;
mod support;

mod auth;
mod code;
mod connectors;
mod console;
mod conventions;
mod directory;
mod executions;
mod flows;
mod oih;
mod ops;
mod secrets;
mod steps;
mod templates;
mod users;
mod webhooks;
