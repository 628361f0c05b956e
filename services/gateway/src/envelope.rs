//! Response envelopes: `{"data","meta"}`, and the users endpoints' bare default with the `?meta=true` switch.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde::Serialize;
use serde_json::json;

/// A single object: bare, or `{"data": X, "meta": {}}` when `meta` is on.
pub fn object<T: Serialize>(status: StatusCode, meta: bool, value: T) -> Response {
    if meta {
        (status, Json(json!({"data": value, "meta": {}}))).into_response()
    } else {
        (status, Json(value)).into_response()
    }
}

/// A list: bare array, or `{"data": [..], "meta": {"total": N}}` when `meta` is on.
pub fn list<T: Serialize>(meta: bool, items: Vec<T>, total: u64) -> Response {
    if meta {
        Json(json!({"data": items, "meta": {"total": total}})).into_response()
    } else {
        Json(items).into_response()
    }
}

/// A page of a paged list: `{"data": [..], "meta": {"total", "page", "perPage", "totalPages"}}` (page is 1-based).
pub fn page<T: Serialize>(items: Vec<T>, total: u64, page: u32, per_page: u32) -> Json<serde_json::Value> {
    let total_pages = total.div_ceil(per_page.max(1) as u64);
    Json(
        json!({"data": items, "meta": {"total": total, "page": page, "perPage": per_page, "totalPages": total_pages}}),
    )
}
