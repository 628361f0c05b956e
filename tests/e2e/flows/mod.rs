//! `/flows` (API.md §3) through the gateway: CRUD, validation, scope, permissions, bulk operations and the status
//! machine, with the execution service confirming starts and stops.

mod crud;
mod helpers;
mod lifecycle;
mod scope;
