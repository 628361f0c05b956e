//! The web console (API.md §13): server-rendered HTML pages at `/console`, one module per page, each calling the
//! same client traits as the REST routes with the signed-in user's token, so every permission and tenant-scope
//! rule stays the services' own.

mod assets;
mod executions;
mod flows;
mod graph;
mod login;
mod page;
mod people;
mod router;
mod secrets;
mod session;
mod templates;
mod view;

pub use router::{router, ConsoleConfig};
