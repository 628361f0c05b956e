//! `/flows` (API.md §3): list, read, create, change, bulk change, delete, start and stop.

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, patch, post},
    Json, Router,
};
use flowmate_api::ErrorBody;
use flowmate_domain::permissions;
use flowmate_domain::{Fault, Id, Problem};
use flowmate_proto::{common::v1::PageRequest, flows::v1::ListFlowsRequest};
use serde_json::{json, Value};

use crate::{
    clients::StatusResult,
    envelope,
    error::{ApiError, ApiResult},
    extract::{require, ApiJson, AuthUser, Params, PathId, SORT_FIELDS},
    state::AppState,
};

/// The flow routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/flows", get(list).post(create))
        .route("/flows/bulk", patch(bulk_update))
        .route("/flows/multiple/start", post(start_many))
        .route("/flows/multiple/stop", post(stop_many))
        .route("/flows/{id}", get(get_one).patch(update).delete(remove))
        .route("/flows/{id}/start", post(start))
        .route("/flows/{id}/stop", post(stop))
}

fn data(value: Value) -> Json<Value> {
    Json(json!({"data": value, "meta": {}}))
}

/// A per-item error as API.md shows it: `{"errors":[{"message","code","flowId"?}]}`.
fn item_error(fault: &Fault, flow_id: Option<&str>) -> Value {
    let mut body = serde_json::to_value(ErrorBody::from(fault)).unwrap_or_default();
    if let (Some(id), Some(errors)) = (flow_id, body["errors"].as_array_mut()) {
        for e in errors {
            e["flowId"] = json!(id);
        }
    }
    body
}

/// Reads the list query of API.md §3; a bad value is 400 naming the parameter.
fn list_request(params: &Params) -> Result<ListFlowsRequest, ApiError> {
    let (size, number) = params.page(10)?.unwrap_or((10, 1));
    let statuses = [
        ("active", "active"),
        ("1", "active"),
        ("inactive", "inactive"),
        ("0", "inactive"),
        ("starting", "starting"),
        ("stopping", "stopping"),
    ];
    let (sort_field, descending) = params.sort(SORT_FIELDS)?;
    Ok(ListFlowsRequest {
        page: Some(PageRequest { size, number }),
        status: params.choice("filter[status]", &statuses)?,
        r#type: params.text("filter[type]")?,
        user: params.id("filter[user]")?,
        from_template: params.id("filter[fromTemplate]")?,
        sort_field,
        descending,
        search: params.search(),
    })
}

/// Flows in the caller's scope, paged, filtered, sorted and searched.
#[utoipa::path(get, path = "/flows", operation_id = "listFlows", tag = "flows", security(("bearer" = [])),
    params(("page[size]" = Option<u32>, Query), ("page[number]" = Option<u32>, Query),
           ("filter[status]" = Option<String>, Query, description = "active|1|inactive|0|starting|stopping"),
           ("filter[type]" = Option<String>, Query), ("filter[user]" = Option<String>, Query),
           ("filter[fromTemplate]" = Option<String>, Query),
           ("sort" = Option<String>, Query, description = "createdAt|updatedAt|name, '-' for descending"),
           ("search" = Option<String>, Query, description = "case-insensitive substring of name or description")),
    responses((status = 200, description = "A page of flows", body = flowmate_api::flows::FlowPage),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    params: Params,
) -> ApiResult<Json<Value>> {
    require(&caller, &[permissions::FLOWS_READ])?;
    let request = list_request(&params)?;
    let (page, per_page) = request.page.map(|p| (p.number, p.size)).unwrap_or((1, 10));
    let (flows, total) = state.flows.list(&caller.token, request).await?;
    Ok(envelope::page(flows, total, page, per_page))
}

/// One flow.
#[utoipa::path(get, path = "/flows/{id}", operation_id = "getFlow", tag = "flows", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "The flow", body = flowmate_api::flows::FlowEnvelope),
              (status = 404, description = "No flow found", body = ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
) -> ApiResult<Response> {
    // The flow repository's document is valid JSON: wrap it without parsing and re-serializing it.
    let flow = state.flows.get_json(&caller.token, &id).await?;
    let body = format!(r#"{{"data":{flow},"meta":{{}}}}"#);
    Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Creates one flow, or several from an array (needs `flows.bulk`). The caller and its tenant become owners.
#[utoipa::path(post, path = "/flows", operation_id = "createFlows", tag = "flows", security(("bearer" = [])),
    request_body(content = flowmate_api::flows::CreateFlows, description = "A flow, or an array of flows (needs flows.bulk)"),
    responses((status = 201, description = "{data: Flow} for one flow; {data: [Flow | {errors}]} for an array, one result per item",
               body = flowmate_api::flows::CreatedFlows),
              (status = 400, description = "Validation failures, each listed", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Response> {
    let is_array = body.is_array();
    reject_non_objects(&body)?;
    let mut results = state.flows.create(&caller.token, &body).await?;
    if !is_array {
        let flow = results.pop().ok_or_else(|| ApiError(Fault::internal()))??;
        return Ok((StatusCode::CREATED, data(flow)).into_response());
    }
    let items: Vec<Value> = results
        .into_iter()
        .map(|r| match r {
            Ok(flow) => flow,
            Err(fault) => item_error(&fault, None),
        })
        .collect();
    Ok((StatusCode::CREATED, data(Value::Array(items))).into_response())
}

/// An array of flows where an element is not an object (`[null, null]`) creates nothing: `400`, each such element
/// listed with its pointer; so is an empty array.
fn reject_non_objects(body: &Value) -> Result<(), ApiError> {
    let Value::Array(items) = body else {
        return Ok(());
    };
    if items.is_empty() {
        return Err(ApiError::bad_request(
            "No flows given. Expecting a flow or an array of flows",
        ));
    }
    let problems: Vec<Problem> = items
        .iter()
        .enumerate()
        .filter(|(_, item)| !item.is_object())
        .map(|(i, _)| Problem {
            message: "A flow must be a JSON object.".into(),
            field: Some(format!("/{i}")),
            detail: None,
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ApiError(Fault::invalid(problems)))
    }
}

/// Shallow-merges the body into an inactive flow and re-validates it.
#[utoipa::path(patch, path = "/flows/{id}", operation_id = "updateFlow", tag = "flows", security(("bearer" = [])),
    request_body(content = flowmate_api::flows::FlowPatch, description = "Top-level flow fields to replace (shallow merge)"), params(("id" = String, Path)),
    responses((status = 200, description = "The changed flow", body = flowmate_api::flows::FlowEnvelope),
              (status = 400, description = "Validation failures, each listed", body = ErrorBody),
              (status = 409, description = "Flow is not inactive", body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    Ok(data(state.flows.update(&caller.token, &id, &body).await?))
}

/// Applies several partial flows (each with its `id`); one result per item, failing items skipped.
#[utoipa::path(patch, path = "/flows/bulk", operation_id = "bulkUpdateFlows", tag = "flows", security(("bearer" = [])),
    request_body(content = flowmate_api::flows::BulkUpdate, description = "An array of partial flows, each with its id (a single object counts as one)"),
    responses((status = 200, description = "One result per item, in order", body = flowmate_api::flows::FlowResults),
              (status = 400, body = ErrorBody)))]
pub async fn bulk_update(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    if !(body.is_array() || body.is_object()) {
        return Err(ApiError::bad_request(
            "Expecting a partial flow or an array of partial flows",
        ));
    }
    let results = state.flows.bulk_update(&caller.token, &body).await?;
    let items: Vec<Value> = results
        .into_iter()
        .map(|(id, r)| match r {
            Ok(flow) => flow,
            Err(fault) => item_error(&fault, Some(id.as_deref().unwrap_or(""))),
        })
        .collect();
    Ok(data(Value::Array(items)))
}

/// Deletes an inactive flow.
#[utoipa::path(delete, path = "/flows/{id}", operation_id = "deleteFlow", tag = "flows", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "Flow was successfully deleted", body = flowmate_api::flows::Deleted),
              (status = 409, description = "Flow is not inactive", body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
) -> ApiResult<Json<Value>> {
    state.flows.delete(&caller.token, &id).await?;
    Ok(Json(json!({"msg": "Flow was successfully deleted"})))
}

/// Which way a start/stop request turns flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Toggle {
    /// `…/start`.
    Start,
    /// `…/stop`.
    Stop,
}

impl Toggle {
    /// Asks the flow repository to start or stop `ids`; one outcome per id.
    async fn apply(
        self,
        state: &AppState,
        token: &str,
        ids: Vec<String>,
    ) -> Result<Vec<StatusResult>, Fault> {
        match self {
            Toggle::Start => state.flows.start(token, ids).await,
            Toggle::Stop => state.flows.stop(token, ids).await,
        }
    }
}

async fn one(state: &AppState, token: &str, id: String, toggle: Toggle) -> ApiResult<Json<Value>> {
    let mut results = toggle.apply(state, token, vec![id]).await?;
    let (id, outcome) = results.pop().ok_or_else(|| ApiError(Fault::internal()))?;
    Ok(data(json!({"id": id, "status": outcome?})))
}

/// Starts a flow: `starting` until the execution service confirms; an active flow stays `active`.
#[utoipa::path(post, path = "/flows/{id}/start", operation_id = "startFlow", tag = "flows", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "The status now", body = flowmate_api::flows::FlowStateEnvelope)))]
pub async fn start(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
) -> ApiResult<Json<Value>> {
    one(&state, &caller.token, id, Toggle::Start).await
}

/// Stops a flow: `stopping` until the execution service confirms; an inactive flow stays `inactive`.
#[utoipa::path(post, path = "/flows/{id}/stop", operation_id = "stopFlow", tag = "flows", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "The status now", body = flowmate_api::flows::FlowStateEnvelope)))]
pub async fn stop(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
) -> ApiResult<Json<Value>> {
    one(&state, &caller.token, id, Toggle::Stop).await
}

async fn many(state: &AppState, token: &str, body: Value, toggle: Toggle) -> ApiResult<Json<Value>> {
    let Value::Array(items) = body else {
        return Err(ApiError::bad_request(
            "No flow ids given. Expecting an array of flow ids",
        ));
    };
    // Each entry must be a well-formed id string; anything else (`null`, a number, `SDSADGSDGH`) is that entry's
    // `400 Invalid id`, as in `PATCH /flows/bulk`, and the other entries still run.
    let given: Vec<(String, bool)> = items
        .iter()
        .map(|v| match v.as_str() {
            Some(s) => (s.to_owned(), Id::parse_public(s).is_ok()),
            None => (String::new(), false),
        })
        .collect();
    let ids: Vec<String> = given
        .iter()
        .filter(|(_, ok)| *ok)
        .map(|(id, _)| id.clone())
        .collect();
    let mut results = if ids.is_empty() {
        Vec::new()
    } else {
        toggle.apply(state, token, ids).await?
    }
    .into_iter();
    let invalid = Fault::new(flowmate_domain::ErrorCode::InvalidArgument, "Invalid id");
    let mut out = Vec::with_capacity(given.len());
    for (id, ok) in given {
        let entry = match ok.then(|| results.next()).flatten() {
            Some((id, Ok(status))) => json!({"data": {"id": id, "status": status}, "meta": {}}),
            Some((id, Err(fault))) => item_error(&fault, Some(&id)),
            None => item_error(&invalid, Some(&id)),
        };
        out.push(entry);
    }
    Ok(Json(Value::Array(out)))
}

/// Starts several flows; a bare array with one entry per id.
#[utoipa::path(post, path = "/flows/multiple/start", operation_id = "startFlows", tag = "flows", security(("bearer" = [])),
    request_body(content = Vec<serde_json::Value>, description = "An array of flow ids; an entry that is not a well-formed id string gets its own `Invalid id` entry in the answer"),
    responses((status = 200, description = "One entry per id, in order", body = [flowmate_api::flows::FlowStateResult]),
              (status = 400, description = "The body is not an array", body = ErrorBody)))]
pub async fn start_many(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    many(&state, &caller.token, body, Toggle::Start).await
}

/// Stops several flows; a bare array with one entry per id.
#[utoipa::path(post, path = "/flows/multiple/stop", operation_id = "stopFlows", tag = "flows", security(("bearer" = [])),
    request_body(content = Vec<serde_json::Value>, description = "An array of flow ids; an entry that is not a well-formed id string gets its own `Invalid id` entry in the answer"),
    responses((status = 200, description = "One entry per id, in order", body = [flowmate_api::flows::FlowStateResult]),
              (status = 400, description = "The body is not an array", body = ErrorBody)))]
pub async fn stop_many(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    many(&state, &caller.token, body, Toggle::Stop).await
}
