//! Components: the catalogue of what nodes may name, the built-in components, and the outbound HTTP client of
//! the `http` step.

mod builtins;
mod catalogue;
pub mod code;
pub mod connectors;
pub mod control;
pub mod outbound;

pub use builtins::{run, Outcome, Runtime, StepContext, StepFailure};
pub use catalogue::{catalogue_json, find, Kind, Spec, CATALOGUE};
