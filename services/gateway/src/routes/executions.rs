//! `/executions`, `/icenter/executions`, `/flows/{id}/run` and `/components` (API.md §5–§6).

use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use chrono::{Days, NaiveDate, Utc};
use flowmate_api::ErrorBody;
use flowmate_domain::permissions;
use flowmate_proto::{
    common::v1::PageRequest,
    executions::v1::{CountExecutionsRequest, ListExecutionsRequest},
};
use serde_json::{json, Value};

use crate::{
    envelope,
    error::{ApiError, ApiResult},
    extract::{optional_json, require, AuthUser, Params, PathId},
    state::AppState,
};

/// The execution routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/executions", get(list))
        .route("/executions/{id}", get(get_one))
        .route("/executions/{id}/retry", post(retry))
        .route("/executions/{id}/cancel", post(cancel))
        .route("/executions/{id}/resume/{node_id}", post(resume))
        .route("/icenter/executions", get(counts))
        .route("/flows/{id}/run", post(run))
        .route("/components", get(components))
}

fn data(value: Value) -> Json<Value> {
    Json(json!({"data": value, "meta": {}}))
}

const STATUSES: &[(&str, &str)] = &[
    ("queued", "queued"),
    ("running", "running"),
    ("succeeded", "succeeded"),
    ("failed", "failed"),
    ("cancelled", "cancelled"),
];

fn list_request(params: &Params) -> Result<ListExecutionsRequest, ApiError> {
    let (size, number) = params.page(10)?.unwrap_or((10, 1));
    let ascending = match params.get("sort") {
        None | Some("-startedAt") => false,
        Some("startedAt") => true,
        Some(_) => {
            return Err(ApiError::bad_request(
                "Invalid sort parameter: use startedAt or -startedAt",
            ))
        }
    };
    Ok(ListExecutionsRequest {
        page: Some(PageRequest { size, number }),
        flow_id: params.id("filter[flowId]")?,
        parent_id: params.id("filter[parentId]")?,
        status: params.choice("filter[status]", STATUSES)?,
        from: params.get("filter[from]").map(str::to_owned),
        to: params.get("filter[to]").map(str::to_owned),
        ascending,
    })
}

/// Executions in the caller's tenant, newest first; items omit `steps`.
#[utoipa::path(get, path = "/executions", operation_id = "listExecutions", tag = "executions", security(("bearer" = [])),
    params(("page[size]" = Option<u32>, Query), ("page[number]" = Option<u32>, Query),
           ("filter[flowId]" = Option<String>, Query),
           ("filter[parentId]" = Option<String>, Query, description = "children of this execution (flow.call)"),
           ("filter[status]" = Option<String>, Query, description = "queued|running|succeeded|failed|cancelled"),
           ("filter[from]" = Option<String>, Query, description = "RFC 3339: started at or after"),
           ("filter[to]" = Option<String>, Query, description = "RFC 3339: started at or before"),
           ("sort" = Option<String>, Query, description = "startedAt | -startedAt (default)")),
    responses((status = 200, description = "A page of executions (items without steps)",
               body = flowmate_api::executions::ExecutionPage),
              (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    params: Params,
) -> ApiResult<Json<Value>> {
    require(
        &caller,
        &[permissions::EXECUTIONS_READ, permissions::ICENTER_READ],
    )?;
    let request = list_request(&params)?;
    let (page, per_page) = request.page.map(|p| (p.number, p.size)).unwrap_or((1, 10));
    let (items, total) = state.executions.list(&caller.token, request).await?;
    Ok(envelope::page(items, total, page, per_page))
}

/// One execution with its steps.
#[utoipa::path(get, path = "/executions/{id}", operation_id = "getExecution", tag = "executions", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "The execution with its steps (a code step's console lines in `logs`)",
               body = flowmate_api::executions::ExecutionEnvelope),
              (status = 404, description = "No execution found", body = ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
) -> ApiResult<Json<Value>> {
    Ok(data(state.executions.get(&caller.token, &id).await?))
}

/// `YYYY-MM-DD` (or RFC 3339) as the start of that day; `end_of_day` moves a date to the next midnight, so the
/// end date is included.
fn day(
    params: &Params,
    key: &str,
    default: chrono::DateTime<Utc>,
    end_of_day: bool,
) -> Result<String, ApiError> {
    let Some(raw) = params.get(key) else {
        return Ok(flowmate_domain::time::format(default));
    };
    if let Some(t) = flowmate_domain::time::parse(raw) {
        return Ok(flowmate_domain::time::format(t));
    }
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| ApiError::bad_request(format!("Invalid {key} parameter: use YYYY-MM-DD")))?;
    let date = if end_of_day {
        date.checked_add_days(Days::new(1)).unwrap_or(date)
    } else {
        date
    };
    let start = date.and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or(default);
    Ok(flowmate_domain::time::format(start))
}

/// Execution counts in the caller's tenant grouped by user, flow or component (FlowMate's "Get Executions").
#[utoipa::path(get, path = "/icenter/executions", operation_id = "countExecutions", tag = "executions", security(("bearer" = [])),
    params(("start" = Option<String>, Query, description = "YYYY-MM-DD (default 30 days ago)"),
           ("end" = Option<String>, Query, description = "YYYY-MM-DD, included (default now)"),
           ("groupby" = Option<String>, Query, description = "user (default) | flow | component")),
    responses((status = 200, description = "{data: [{<groupby>: id, count}]}", body = flowmate_api::answers::ExecutionCounts),
              (status = 400, body = ErrorBody)))]
pub async fn counts(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    params: Params,
) -> ApiResult<Json<Value>> {
    let now = Utc::now();
    let start = day(&params, "start", now - chrono::Duration::days(30), false)?;
    let end = day(&params, "end", now + chrono::Duration::seconds(1), true)?;
    let group_by = params.get("groupby").unwrap_or("user").to_owned();
    if !["user", "flow", "component"].contains(&group_by.as_str()) {
        return Err(ApiError::bad_request(
            "Invalid groupby parameter: use user, flow or component",
        ));
    }
    let query = CountExecutionsRequest { start, end, group_by };
    Ok(Json(
        json!({"data": state.executions.count(&caller.token, query).await?}),
    ))
}

/// Runs a finished execution again, from the start (the same trigger message) or from its failed steps. The new
/// execution is queued (permission `flows.control`).
#[utoipa::path(post, path = "/executions/{id}/retry", operation_id = "retryExecution", tag = "executions", security(("bearer" = [])),
    params(("id" = String, Path)),
    request_body(content = Option<flowmate_api::answers::RetryRequest>, description = "Optional: where to start"),
    responses((status = 202, description = "The new execution (queued)", body = flowmate_api::answers::QueuedExecution), (status = 400, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn retry(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let body = optional_json(&headers, &body)?.unwrap_or(Value::Null);
    if !(body.is_object() || body.is_null()) {
        return Err(ApiError::bad_request(
            "Expecting {\"from\": \"start\" | \"failed\"} or no body",
        ));
    }
    let from = match body.get("from") {
        None | Some(Value::Null) => "start".to_owned(),
        Some(Value::String(s)) if s == "start" || s == "failed" => s.clone(),
        Some(_) => return Err(ApiError::bad_request("Invalid from: use \"start\" or \"failed\"")),
    };
    let execution = state.executions.retry(&caller.token, &id, &from).await?;
    Ok((StatusCode::ACCEPTED, data(execution)).into_response())
}

/// Cancels a queued or running execution (permission `flows.control`).
#[utoipa::path(post, path = "/executions/{id}/cancel", operation_id = "cancelExecution", tag = "executions", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "The execution (cancelled)", body = flowmate_api::answers::QueuedExecution), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
) -> ApiResult<Json<Value>> {
    Ok(data(state.executions.cancel(&caller.token, &id).await?))
}

/// Resumes a waiting `wait.event` step with the request's JSON body as its output. No bearer token: the
/// single-use `token` of the step's resume URL (`resumeUrl` in its record, `$execution.resumeUrl`) is the
/// credential, so the URL can be handed to someone outside FlowMate (an approval link in a mail).
#[utoipa::path(post, path = "/executions/{id}/resume/{nodeId}", operation_id = "resumeExecution", tag = "executions",
    params(("id" = String, Path), ("nodeId" = String, Path, description = "the wait.event node"),
           ("token" = String, Query, description = "the node's resume token")),
    request_body(content = Option<serde_json::Value>, description = "Any JSON (optional): the waiting step's output"),
    responses((status = 202, description = "Resumed", body = flowmate_api::answers::ResumedEnvelope),
              (status = 400, description = "Invalid id or JSON", body = ErrorBody),
              (status = 403, description = "Invalid resume token", body = ErrorBody),
              (status = 404, description = "No such execution or wait node", body = ErrorBody),
              (status = 409, description = "The token was used already, or the execution no longer waits",
               body = ErrorBody)))]
pub async fn resume(
    State(state): State<AppState>,
    Path((id, node_id)): Path<(String, String)>,
    params: Params,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    flowmate_domain::Id::parse(&id).map_err(|_| ApiError::bad_request("Invalid id"))?;
    let token = params.get("token").unwrap_or_default();
    if token.is_empty() {
        return Err(ApiError::new(
            flowmate_domain::ErrorCode::Forbidden,
            "Invalid resume token",
        ));
    }
    let body = optional_json(&headers, &body)?.unwrap_or(Value::Null);
    state.executions.resume(&id, &node_id, token, &body).await?;
    let answer = json!({"executionId": id, "nodeId": node_id, "status": "resumed"});
    Ok((StatusCode::ACCEPTED, data(answer)).into_response())
}

/// Triggers an active flow by hand; the optional JSON body is the trigger's data (permission `flows.control`).
#[utoipa::path(post, path = "/flows/{id}/run", operation_id = "runFlow", tag = "executions", security(("bearer" = [])),
    params(("id" = String, Path)),
    request_body(content = Option<serde_json::Value>, description = "Any JSON (optional): the trigger's data"),
    responses((status = 202, description = "The execution (queued); follow it at /executions/{id}", body = flowmate_api::answers::QueuedExecution),
              (status = 404, description = "Flow <id> either does not exist or is inactive.", body = ErrorBody)))]
pub async fn run(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let body = optional_json(&headers, &body)?.unwrap_or(Value::Null);
    let execution = state.executions.run(&caller.token, &id, &body).await?;
    Ok((StatusCode::ACCEPTED, data(execution)).into_response())
}

/// The component catalogue: what `componentId` + `function` a node may name, and the fields each reads.
#[utoipa::path(get, path = "/components", operation_id = "listComponents", tag = "executions", security(("bearer" = [])),
    responses((status = 200, description = "Every component function", body = flowmate_api::answers::ComponentPage)))]
pub async fn components(State(state): State<AppState>, AuthUser(caller): AuthUser) -> ApiResult<Json<Value>> {
    let mut items = match state.executions.components(&caller.token).await? {
        Value::Array(items) => items,
        other => vec![other],
    };
    // OIH's web UI keys component list items by `id`: the component id (one entry per function).
    for item in &mut items {
        if let Some(id) = item.get("componentId").cloned() {
            item["id"] = id;
        }
    }
    let total = items.len() as u64;
    let per_page = u32::try_from(total).unwrap_or(u32::MAX).max(1);
    Ok(envelope::page(items, total, 1, per_page))
}
