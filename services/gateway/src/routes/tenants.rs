//! `/api/tenants`: list and create.

use axum::{extract::State, http::StatusCode, response::Response, routing::get, Router};
use flowmate_api::{
    identity::{CreateTenant, Tenant},
    ErrorBody,
};

use crate::{
    envelope,
    error::ApiResult,
    extract::{ApiJson, AuthUser, Params},
    state::AppState,
};

/// The tenant routes, relative to their mount point.
pub fn router() -> Router<AppState> {
    Router::new().route("/", get(list).post(create))
}

/// Every tenant for admins, else the caller's own.
#[utoipa::path(get, path = "/api/tenants", operation_id = "listTenants", tag = "tenants", security(("bearer" = [])),
    params(("meta" = Option<bool>, Query)),
    responses((status = 200, body = [Tenant]), (status = 401, body = ErrorBody)))]
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

/// Creates a tenant (`all` or `iam.tenant.create`).
#[utoipa::path(post, path = "/api/tenants", operation_id = "createTenant", tag = "tenants", security(("bearer" = [])), request_body = CreateTenant,
    responses((status = 201, body = Tenant), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, description = "DUPLICATE_KEY", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    params: Params,
    ApiJson(body): ApiJson<CreateTenant>,
) -> ApiResult<Response> {
    let meta = params.meta()?;
    let tenant = state
        .identity
        .create_tenant(&caller.token, body.name.unwrap_or_default(), body.status)
        .await?;
    Ok(envelope::object(StatusCode::CREATED, meta, tenant))
}
