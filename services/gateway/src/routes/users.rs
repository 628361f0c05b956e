//! `/api/users` (also under `/users` and `/api/v1/users`): list, create, me, get, change (`PATCH` or `PUT`),
//! delete.

use axum::{extract::State, http::StatusCode, response::Response, routing::get, Router};
use flowmate_api::{
    identity::{CreateUser, ListedUser, UpdateUser},
    ErrorBody,
};
use flowmate_domain::{identity::Revocation, permissions};

use crate::{
    clients::UserFilter,
    envelope,
    error::{ApiError, ApiResult},
    extract::{require, ApiObject, AuthUser, Params, PathId},
    state::AppState,
};

/// The most values one repeatable filter parameter may carry.
const MAX_FILTER_VALUES: usize = 500;

/// The users routes, relative to their mount point.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(list).post(create))
        .route("/me", get(me))
        .route("/{id}", get(get_one).patch(update).put(replace).delete(remove))
}

/// Users in the caller's scope, with `roles` as role ids (as OIH lists them). `username` and `userId` may repeat;
/// `meta=true` wraps the list with its total.
#[utoipa::path(get, path = "/api/users", operation_id = "listUsers", tag = "users", security(("bearer" = [])),
    params(("username" = Option<Vec<String>>, Query, description = "Exact username; repeatable"),
           ("userId" = Option<Vec<String>>, Query, description = "User id; repeatable"),
           ("page[size]" = Option<u32>, Query), ("page[number]" = Option<u32>, Query)),
    responses((status = 200, body = flowmate_api::answers::ListedUsersAnswer), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    params: Params,
) -> ApiResult<Response> {
    require(
        &caller,
        &[permissions::TENANT_ACCOUNT_READ, permissions::IAM_ACCOUNT_READ],
    )?;
    list_in(&state, &caller.token, &params, None).await
}

/// The users list, of one tenant if `tenant` is given (`GET /api/tenants/{id}/users`).
pub(crate) async fn list_in(
    state: &AppState,
    token: &str,
    params: &Params,
    tenant: Option<String>,
) -> ApiResult<Response> {
    let meta = params.meta()?;
    let (usernames, ids) = (params.all("username"), params.all("userId"));
    for (name, values) in [("username", &usernames), ("userId", &ids)] {
        if values.len() > MAX_FILTER_VALUES {
            return Err(ApiError::bad_request(format!(
                "Invalid {name} parameter: at most {MAX_FILTER_VALUES} values"
            )));
        }
    }
    let filter = UserFilter {
        usernames,
        ids,
        page: params.page(10)?,
        tenant,
    };
    let (users, total) = state.identity.list_users(token, filter).await?;
    let users: Vec<ListedUser> = users.into_iter().map(Into::into).collect();
    Ok(envelope::list(meta, users, total))
}

/// Creates a user in the caller's tenant (or any tenant with `iam.account.create`).
#[utoipa::path(post, path = "/api/users", operation_id = "createUser", tag = "users", security(("bearer" = [])), request_body = CreateUser,
    responses((status = 200, body = flowmate_api::answers::UserAnswer), (status = 400, description = "INPUT_INVALID", body = ErrorBody),
              (status = 403, description = "MISSING_PERMISSION or FORBIDDEN", body = ErrorBody),
              (status = 409, description = "DUPLICATE_KEY", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    params: Params,
    ApiObject(body): ApiObject<CreateUser>,
) -> ApiResult<Response> {
    let meta = params.meta()?;
    let user = state.identity.create_user(&caller.token, body).await?;
    Ok(envelope::object(StatusCode::OK, meta, user))
}

/// The caller.
#[utoipa::path(get, path = "/api/users/me", operation_id = "getCurrentUser", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = flowmate_api::answers::UserAnswer), (status = 401, body = ErrorBody)))]
pub async fn me(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    params: Params,
) -> ApiResult<Response> {
    let meta = params.meta()?;
    let user = state.identity.get_user(&caller.token, caller.user_id()).await?;
    Ok(envelope::object(StatusCode::OK, meta, user))
}

/// One user of the caller's tenant (any tenant for admins).
#[utoipa::path(get, path = "/api/users/{id}", operation_id = "getUser", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = flowmate_api::answers::UserAnswer), (status = 400, description = "Invalid id", body = ErrorBody),
              (status = 404, description = "USER_NOT_FOUND", body = ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
    params: Params,
) -> ApiResult<Response> {
    let meta = params.meta()?;
    let user = state.identity.get_user(&caller.token, &id).await?;
    Ok(envelope::object(StatusCode::OK, meta, user))
}

/// Changes a user (`PATCH`, and `PUT` as OIH clients send it). A change of rights, password or status revokes the
/// user's tokens at once (names and profile do not); nobody may disable itself; the last global admin keeps `all`.
#[utoipa::path(patch, path = "/api/users/{id}", operation_id = "updateUser", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = UpdateUser,
    responses((status = 200, body = flowmate_api::answers::UserAnswer), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
    params: Params,
    ApiObject(body): ApiObject<UpdateUser>,
) -> ApiResult<Response> {
    let meta = params.meta()?;
    let user = state.identity.update_user(&caller.token, &id, body).await?;
    if flowmate_domain::identity::Status::parse(&user.status)
        != Some(flowmate_domain::identity::Status::Active)
    {
        cut_off(&state, &user.id);
    }
    Ok(envelope::object(StatusCode::OK, meta, user))
}

/// `PUT /api/users/{id}` as OIH clients send it: the same as `PATCH` (absent fields stay unchanged).
#[utoipa::path(put, path = "/api/users/{id}", operation_id = "replaceUser", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = UpdateUser,
    responses((status = 200, body = flowmate_api::answers::UserAnswer), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn replace(
    state: State<AppState>,
    caller: AuthUser,
    id: PathId,
    params: Params,
    body: ApiObject<UpdateUser>,
) -> ApiResult<Response> {
    update(state, caller, id, params, body).await
}

/// Deletes a user and revokes its tokens; nobody may delete itself; the last global admin stays.
#[utoipa::path(delete, path = "/api/users/{id}", operation_id = "deleteUser", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "Deleted", body = flowmate_api::answers::Empty), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
) -> ApiResult<Response> {
    delete_user(&state, &caller.token, &id).await
}

/// Deletes a user and applies its cut-off here at once; `200 {}` (OIH's status).
pub(crate) async fn delete_user(state: &AppState, token: &str, id: &str) -> ApiResult<Response> {
    state.identity.delete_user(token, id).await?;
    cut_off(state, id);
    Ok(envelope::object(StatusCode::OK, false, serde_json::json!({})))
}

/// Applies a user cut-off here at once; other gateway replicas learn it from identity's event.
pub(crate) fn cut_off(state: &AppState, user_id: &str) {
    state
        .verifier
        .revocations()
        .apply(&Revocation::cut_off_now(user_id));
}
