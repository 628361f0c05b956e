//! The web console (API.md §13) over plain HTTP: every route's status, the login redirect, permissions, tenant
//! scope, CSRF, the CSP and cookie attributes, and escaping.

pub mod support;

mod pages;
mod security;
