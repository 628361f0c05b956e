//! `/api/roles` (also under `/api/v1`): list and create; read, change and delete by id (API.md §2, §11).

use axum::{extract::State, http::StatusCode, response::Response, routing::get, Router};
use flowmate_api::{
    identity::{CreateRole, UpdateRole},
    ErrorBody,
};

use crate::{
    envelope,
    error::ApiResult,
    extract::{ApiObject, AuthUser, Params, PathId},
    state::AppState,
};

/// The role routes, relative to their mount point.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(list).post(create))
        .route("/{id}", get(get_one).patch(update).put(replace).delete(remove))
}

/// Global roles and the caller's tenant's.
#[utoipa::path(get, path = "/api/roles", operation_id = "listRoles", tag = "roles", security(("bearer" = [])),
        responses((status = 200, body = flowmate_api::answers::RolesAnswer), (status = 401, body = ErrorBody)))]
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

/// Creates a role; permissions are validated against the vocabulary, global roles need `all`. `200` as in OIH.
#[utoipa::path(post, path = "/api/roles", operation_id = "createRole", tag = "roles", security(("bearer" = [])), request_body = CreateRole,
    responses((status = 200, body = flowmate_api::answers::RoleAnswer), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, description = "DUPLICATE_KEY", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    params: Params,
    ApiObject(body): ApiObject<CreateRole>,
) -> ApiResult<Response> {
    let meta = params.meta()?;
    let role = state.identity.create_role(&caller.token, body).await?;
    Ok(envelope::object(StatusCode::OK, meta, role))
}

/// One role: global, the caller's tenant's, or any for admins.
#[utoipa::path(get, path = "/api/roles/{id}", operation_id = "getRole", tag = "roles", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = flowmate_api::answers::RoleAnswer), (status = 400, description = "Invalid id", body = ErrorBody),
              (status = 404, description = "role not found", body = ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
    params: Params,
) -> ApiResult<Response> {
    let meta = params.meta()?;
    let role = state.identity.get_role(&caller.token, &id).await?;
    Ok(envelope::object(StatusCode::OK, meta, role))
}

/// Changes a role (global roles: `all`; tenant roles: `tenant.roles.update`); its holders' tokens are revoked when
/// its permissions change, and the last global admin keeps `all`.
#[utoipa::path(patch, path = "/api/roles/{id}", operation_id = "updateRole", tag = "roles", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = UpdateRole,
    responses((status = 200, body = flowmate_api::answers::RoleAnswer), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
    params: Params,
    ApiObject(body): ApiObject<UpdateRole>,
) -> ApiResult<Response> {
    let meta = params.meta()?;
    let role = state.identity.update_role(&caller.token, &id, body).await?;
    Ok(envelope::object(StatusCode::OK, meta, role))
}

/// `PUT /api/roles/{id}`: the same as `PATCH` (absent fields stay unchanged).
#[utoipa::path(put, path = "/api/roles/{id}", operation_id = "replaceRole", tag = "roles", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = UpdateRole,
    responses((status = 200, body = flowmate_api::answers::RoleAnswer)))]
pub async fn replace(
    state: State<AppState>,
    caller: AuthUser,
    id: PathId,
    params: Params,
    body: ApiObject<UpdateRole>,
) -> ApiResult<Response> {
    update(state, caller, id, params, body).await
}

/// Deletes a role; its holders lose its rights (their tokens are revoked). The last global admin keeps `all`.
#[utoipa::path(delete, path = "/api/roles/{id}", operation_id = "deleteRole", tag = "roles", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "Deleted", body = flowmate_api::answers::Empty), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
) -> ApiResult<Response> {
    state.identity.delete_role(&caller.token, &id).await?;
    Ok(envelope::object(StatusCode::OK, false, serde_json::json!({})))
}
