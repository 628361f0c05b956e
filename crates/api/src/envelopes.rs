//! The response envelopes of API.md §1 as schema types: `{data, meta: {}}`, pages `{data: [..], meta: PageMeta}`,
//! and the users endpoints' `?meta=true` lists `{data: [..], meta: {total}}`. One macro per shape, so every
//! resource gets a named, concrete schema a client generator can use.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The `meta` of a single object: always `{}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EmptyMeta {}

/// The `meta` of a `?meta=true` list: how many items there are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TotalMeta {
    /// Items matching the query.
    pub total: u64,
}

/// `{data: T, meta: {}}` as a named schema.
#[macro_export]
macro_rules! envelope {
    ($(#[$doc:meta])* $name:ident, $inner:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        pub struct $name {
            /// The object.
            pub data: $inner,
            /// Always `{}`.
            pub meta: $crate::envelopes::EmptyMeta,
        }
    };
}

/// `{data: [T], meta: {total, page, perPage, totalPages}}` as a named schema.
#[macro_export]
macro_rules! page {
    ($(#[$doc:meta])* $name:ident, $inner:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        pub struct $name {
            /// The page's items.
            pub data: Vec<$inner>,
            /// Where the page is.
            pub meta: $crate::executions::PageMeta,
        }
    };
}

/// `{data: [T], meta: {total}}` (the users endpoints with `?meta=true`) as a named schema.
#[macro_export]
macro_rules! counted {
    ($(#[$doc:meta])* $name:ident, $inner:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        pub struct $name {
            /// The items.
            pub data: Vec<$inner>,
            /// How many.
            pub meta: $crate::envelopes::TotalMeta,
        }
    };
}

/// A response that is bare by default and wrapped with `?meta=true`: `oneOf [bare, wrapped]`.
#[macro_export]
macro_rules! bare_or_wrapped {
    ($(#[$doc:meta])* $name:ident, $bare:ty, $wrapped:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(untagged)]
        pub enum $name {
            /// Without `meta` (the default).
            Bare($bare),
            /// With `?meta=true`.
            Wrapped($wrapped),
        }
    };
}
