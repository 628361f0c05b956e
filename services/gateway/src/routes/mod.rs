//! One module per resource, each with its own `router()`.

pub mod auth;
pub mod executions;
pub mod flows;
pub mod hooks;
pub mod roles;
pub mod secrets;
pub mod templates;
pub mod tenants;
pub mod users;
