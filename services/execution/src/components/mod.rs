//! Components: the catalogue of what nodes may name, the built-in components, and the outbound HTTP client of
//! the `http` step.

mod builtins;
mod catalogue;
pub mod outbound;

pub use builtins::{run, Outcome, Runtime};
pub use catalogue::{catalogue_json, find, Kind, Spec, CATALOGUE};
