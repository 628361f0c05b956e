//! `/api/tenants` (also under `/api/v1`): list and create; read, change (`PATCH`/`PUT`) and delete by id; a
//! tenant's users, and removing a user from its tenant (API.md §2, §11).

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::Response,
    routing::{delete, get},
    Router,
};
use flowmate_api::{
    identity::{CreateTenant, Tenant, UpdateTenant},
    ErrorBody,
};
use flowmate_domain::{ErrorCode, Id};

use crate::{
    envelope,
    error::{ApiError, ApiResult},
    extract::{ApiObject, AuthUser, Params, PathId},
    state::AppState,
};

/// The tenant routes, relative to their mount point.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(list).post(create))
        .route("/{id}", get(get_one).patch(update).put(replace).delete(remove))
        .route("/{id}/users", get(users))
        .route("/{id}/user/{user_id}", delete(remove_user))
}

/// Every tenant for admins, else the caller's own.
#[utoipa::path(get, path = "/api/tenants", operation_id = "listTenants", tag = "tenants", security(("bearer" = [])),
    responses((status = 200, body = flowmate_api::answers::TenantsAnswer), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    params: Params,
) -> ApiResult<Response> {
    let meta = params.meta()?;
    let tenants = state.identity.list_tenants(&caller.token).await?;
    let total = tenants.len() as u64;
    Ok(envelope::list(meta, tenants, total))
}

/// Creates a tenant (`all` or `iam.tenant.create`); `200` as in OIH.
#[utoipa::path(post, path = "/api/tenants", operation_id = "createTenant", tag = "tenants", security(("bearer" = [])), request_body = CreateTenant,
    responses((status = 200, body = flowmate_api::answers::TenantAnswer), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, description = "DUPLICATE_KEY", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    params: Params,
    ApiObject(body): ApiObject<CreateTenant>,
) -> ApiResult<Response> {
    let meta = params.meta()?;
    let tenant = state
        .identity
        .create_tenant(&caller.token, body.name.unwrap_or_default(), body.status)
        .await?;
    Ok(envelope::object(StatusCode::OK, meta, tenant))
}

/// One tenant: the caller's own, or any for admins (`iam.tenant.read`).
#[utoipa::path(get, path = "/api/tenants/{id}", operation_id = "getTenant", tag = "tenants", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = flowmate_api::answers::TenantAnswer), (status = 400, description = "Invalid id", body = ErrorBody),
              (status = 404, description = "tenant not found", body = ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
    params: Params,
) -> ApiResult<Response> {
    let meta = params.meta()?;
    let tenant = state.identity.get_tenant(&caller.token, &id).await?;
    let tenant = with_quota(&state, &caller.token, tenant).await;
    Ok(envelope::object(StatusCode::OK, meta, tenant))
}

/// The tenant with its quota and usage (API.md §12), from the execution service. Without them when the caller
/// may not see them (a tenant admin reading another tenant) or the execution service does not answer: the
/// tenant itself is identity's, and reading it does not depend on another service.
async fn with_quota(state: &AppState, token: &str, mut tenant: Tenant) -> Tenant {
    match state.executions.quota(token, &tenant.id).await {
        Ok(q) => {
            tenant.quota = Some(q.into());
            tenant.usage = Some(q.into());
        }
        Err(e) if e.code == ErrorCode::Forbidden => {}
        Err(e) => tracing::warn!(error = %e, tenant = %tenant.id, "tenant quota unavailable"),
    }
    tenant
}

/// Changes a tenant's name or status (`all` or `iam.tenant.update`), or its quota (global admins, API.md §12);
/// `PUT` does the same.
#[utoipa::path(patch, path = "/api/tenants/{id}", operation_id = "updateTenant", tag = "tenants", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = UpdateTenant,
    responses((status = 200, body = flowmate_api::answers::TenantAnswer), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, description = "DUPLICATE_KEY", body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
    params: Params,
    ApiObject(body): ApiObject<UpdateTenant>,
) -> ApiResult<Response> {
    let meta = params.meta()?;
    let quota = body.quota;
    if quota.is_some() && !caller.is_admin() {
        return Err(ApiError::new(ErrorCode::Forbidden, "MISSING_PERMISSION"));
    }
    if let Some(Some(q)) = &quota {
        let problems = flowmate_domain::quota::Quota::from(*q).problems();
        if let Some((field, problem)) = problems.first() {
            return Err(ApiError::bad_request(format!("quota.{field} {problem}")));
        }
    }
    let tenant = if quota.is_some() && body.name.is_none() && body.status.is_none() {
        state.identity.get_tenant(&caller.token, &id).await?
    } else {
        state.identity.update_tenant(&caller.token, &id, body).await?
    };
    if let Some(q) = quota {
        let q = q.map(flowmate_domain::quota::Quota::from).unwrap_or_default();
        state.executions.set_quota(&caller.token, &id, &q).await?;
    }
    let tenant = with_quota(&state, &caller.token, tenant).await;
    Ok(envelope::object(StatusCode::OK, meta, tenant))
}

/// `PUT /api/tenants/{id}` as OIH clients send it: the same as `PATCH` (absent fields stay unchanged).
#[utoipa::path(put, path = "/api/tenants/{id}", operation_id = "replaceTenant", tag = "tenants", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = UpdateTenant,
    responses((status = 200, body = flowmate_api::answers::TenantAnswer),
              (status = 409, description = "DUPLICATE_KEY", body = ErrorBody)))]
pub async fn replace(
    state: State<AppState>,
    caller: AuthUser,
    id: PathId,
    params: Params,
    body: ApiObject<UpdateTenant>,
) -> ApiResult<Response> {
    update(state, caller, id, params, body).await
}

/// Deletes a tenant that has no users left, with its own roles (`all` or `iam.tenant.delete`).
#[utoipa::path(delete, path = "/api/tenants/{id}", operation_id = "deleteTenant", tag = "tenants", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "Deleted", body = flowmate_api::answers::Empty), (status = 403, description = "MISSING_PERMISSION, or the tenant still has users", body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
) -> ApiResult<Response> {
    state.identity.delete_tenant(&caller.token, &id).await?;
    Ok(envelope::object(StatusCode::OK, false, serde_json::json!({})))
}

/// The tenant's users (its own for non-admins), listed as `GET /api/users` lists them.
#[utoipa::path(get, path = "/api/tenants/{id}/users", operation_id = "listTenantUsers", tag = "tenants", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = flowmate_api::answers::ListedUsersAnswer), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn users(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
    params: Params,
) -> ApiResult<Response> {
    crate::extract::require(
        &caller,
        &[
            flowmate_domain::permissions::TENANT_ACCOUNT_READ,
            flowmate_domain::permissions::IAM_ACCOUNT_READ,
        ],
    )?;
    super::users::list_in(&state, &caller.token, &params, Some(id)).await
}

/// Removes a user from the tenant. A FlowMate user belongs to exactly one tenant, so this deletes the user (with
/// the rules of `DELETE /api/users/{id}`); a user of another tenant is `404 USER_NOT_FOUND`.
#[utoipa::path(delete, path = "/api/tenants/{id}/user/{userId}", operation_id = "removeTenantUser", tag = "tenants", security(("bearer" = [])),
    params(("id" = String, Path), ("userId" = String, Path)),
    responses((status = 200, description = "Removed", body = flowmate_api::answers::Empty), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove_user(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    Path((id, user_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    for raw in [&id, &user_id] {
        Id::parse_public(raw).map_err(|_| ApiError::bad_request("Invalid id"))?;
    }
    let user = state.identity.get_user(&caller.token, &user_id).await?;
    if user.tenant != id {
        return Err(ApiError::new(ErrorCode::NotFound, "USER_NOT_FOUND"));
    }
    super::users::delete_user(&state, &caller.token, &user_id).await
}
