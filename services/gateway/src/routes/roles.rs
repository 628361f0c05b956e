//! `/api/roles`: list and create.

use axum::{extract::State, http::StatusCode, response::Response, routing::get, Router};
use flowmate_api::{
    identity::{CreateRole, Role},
    ErrorBody,
};

use crate::{
    envelope,
    error::ApiResult,
    extract::{ApiJson, AuthUser, Params},
    state::AppState,
};

/// The role routes, relative to their mount point.
pub fn router() -> Router<AppState> {
    Router::new().route("/", get(list).post(create))
}

/// Global roles and the caller's tenant's.
#[utoipa::path(get, path = "/api/roles", operation_id = "listRoles", tag = "roles", security(("bearer" = [])),
    params(("meta" = Option<bool>, Query)),
    responses((status = 200, body = [Role]), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    params: Params,
) -> ApiResult<Response> {
    let meta = params.meta()?;
    let roles = state.identity.list_roles(&caller.token).await?;
    let total = roles.len() as u64;
    Ok(envelope::list(meta, roles, total))
}

/// Creates a role; permissions are validated against the vocabulary, global roles need `all`.
#[utoipa::path(post, path = "/api/roles", operation_id = "createRole", tag = "roles", security(("bearer" = [])), request_body = CreateRole,
    responses((status = 201, body = Role), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, description = "DUPLICATE_KEY", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    params: Params,
    ApiJson(body): ApiJson<CreateRole>,
) -> ApiResult<Response> {
    let meta = params.meta()?;
    let role = state.identity.create_role(&caller.token, body).await?;
    Ok(envelope::object(StatusCode::CREATED, meta, role))
}
