//! The code step through the public API, in both run modes (API.md §8): results, `each` mode, console lines in the
//! step record (and `saveData`), errors with positions, retries, the start-time compile, and every hostile script
//! the issue lists, each failing its step with the documented error name promptly while other flows keep running.

mod helpers;
mod hostile;
mod running;
