//! `/templates` (API.md §4): list, read, create, change, delete, versions, and generating a flow.

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use flowmate_api::ErrorBody;
use flowmate_domain::permissions;
use flowmate_proto::{common::v1::PageRequest, templates::v1::ListTemplatesRequest};
use serde_json::{json, Value};

use crate::{
    envelope,
    error::{ApiError, ApiResult},
    extract::{optional_json, require, ApiJson, AuthUser, Params, PathId, SORT_FIELDS},
    state::AppState,
};

/// The template routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/templates", get(list).post(create))
        .route("/templates/{id}", get(get_one).patch(update).delete(remove))
        .route("/templates/{id}/versions", get(versions))
        .route("/templates/{id}/generate", post(generate))
}

fn data(value: Value) -> Json<Value> {
    Json(json!({"data": value, "meta": {}}))
}

/// Reads the list query of API.md §4; a bad value is 400 naming the parameter.
fn list_request(params: &Params) -> Result<ListTemplatesRequest, ApiError> {
    let (size, number) = params.page(10)?.unwrap_or((10, 1));
    let statuses = [
        ("published", "published"),
        ("1", "published"),
        ("draft", "draft"),
        ("0", "draft"),
    ];
    let (sort_field, descending) = params.sort(SORT_FIELDS)?;
    Ok(ListTemplatesRequest {
        page: Some(PageRequest { size, number }),
        status: params.choice("filter[status]", &statuses)?,
        r#type: params.text("filter[type]")?,
        user: params.id("filter[user]")?,
        sort_field,
        descending,
        search: params.search(),
    })
}

/// Templates in the caller's scope, paged, filtered, sorted and searched; `total` counts the same filter.
#[utoipa::path(get, path = "/templates", operation_id = "listTemplates", tag = "templates", security(("bearer" = [])),
    params(("page[size]" = Option<u32>, Query), ("page[number]" = Option<u32>, Query),
           ("filter[status]" = Option<String>, Query, description = "published|1|draft|0"),
           ("filter[type]" = Option<String>, Query), ("filter[user]" = Option<String>, Query),
           ("sort" = Option<String>, Query), ("search" = Option<String>, Query)),
    responses((status = 200, description = "A page of templates", body = flowmate_api::templates::TemplatePage),
              (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    params: Params,
) -> ApiResult<Json<Value>> {
    require(&caller, &[permissions::TEMPLATES_READ])?;
    let request = list_request(&params)?;
    let (page, per_page) = request.page.map(|p| (p.number, p.size)).unwrap_or((1, 10));
    let (items, total) = state.templates.list(&caller.token, request).await?;
    Ok(envelope::page(items, total, page, per_page))
}

/// Creates a template; the caller and its tenant own it; `status` defaults to `draft`.
#[utoipa::path(post, path = "/templates", operation_id = "createTemplate", tag = "templates", security(("bearer" = [])),
    request_body(content = flowmate_api::templates::TemplateInput, description = "A template: a flow graph document plus status (draft | published)"),
    responses((status = 201, description = "The template", body = flowmate_api::templates::TemplateEnvelope),
              (status = 400, description = "Validation failures, each listed", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Response> {
    let t = state.templates.create(&caller.token, &body).await?;
    Ok((StatusCode::CREATED, data(t)).into_response())
}

/// One template.
#[utoipa::path(get, path = "/templates/{id}", operation_id = "getTemplate", tag = "templates", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "The template", body = flowmate_api::templates::TemplateEnvelope),
              (status = 404, description = "Template not found", body = ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
) -> ApiResult<Json<Value>> {
    Ok(data(state.templates.get(&caller.token, &id).await?))
}

/// Shallow-merges the body, re-validates, and keeps the previous version.
#[utoipa::path(patch, path = "/templates/{id}", operation_id = "updateTemplate", tag = "templates", security(("bearer" = [])),
    request_body(content = flowmate_api::templates::TemplatePatch, description = "Top-level template fields to replace (shallow merge)"), params(("id" = String, Path)),
    responses((status = 200, description = "The changed template", body = flowmate_api::templates::TemplateEnvelope),
              (status = 400, description = "Validation failures, each listed", body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    Ok(data(state.templates.update(&caller.token, &id, &body).await?))
}

/// Deletes a template and its versions.
#[utoipa::path(delete, path = "/templates/{id}", operation_id = "deleteTemplate", tag = "templates", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "Template was successfully deleted", body = flowmate_api::flows::Deleted)))]
pub async fn remove(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
) -> ApiResult<Json<Value>> {
    state.templates.delete(&caller.token, &id).await?;
    Ok(Json(json!({"msg": "Template was successfully deleted"})))
}

/// The template's previous versions, newest first.
#[utoipa::path(get, path = "/templates/{id}/versions", operation_id = "listTemplateVersions", tag = "templates", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "Previous versions, newest first", body = flowmate_api::templates::TemplateVersions)))]
pub async fn versions(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
) -> ApiResult<Json<Value>> {
    Ok(data(Value::Array(
        state.templates.versions(&caller.token, &id).await?,
    )))
}

/// Generates a flow from the template (permission `flows.write`). The optional body holds flow fields deep-merged
/// over the template (objects by key, arrays by index). The flow repository's 400/403 pass through unchanged.
#[utoipa::path(post, path = "/templates/{id}/generate", operation_id = "generateFlow", tag = "templates", security(("bearer" = [])), params(("id" = String, Path)),
    request_body(content = Option<flowmate_api::templates::GenerateFlow>, description = "Optional flow fields deep-merged over the template"),
    responses((status = 201, description = "The new flow", body = flowmate_api::flows::FlowEnvelope),
              (status = 400, description = "The flow repository's validation failures", body = ErrorBody)))]
pub async fn generate(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    // The body is optional: none at all means "no overrides"; when present it must be JSON.
    let overrides = optional_json(&headers, &body)?.unwrap_or_else(|| Value::Object(Default::default()));
    let flow = state.templates.generate(&caller.token, &id, &overrides).await?;
    Ok((StatusCode::CREATED, data(flow)).into_response())
}
