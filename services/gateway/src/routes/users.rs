//! `/api/users` (also under `/users`): list, create, me, get, change, delete.

use axum::{extract::State, http::StatusCode, response::Response, routing::get, Router};
use flowmate_api::{
    identity::{CreateUser, UpdateUser, User},
    ErrorBody,
};
use flowmate_domain::identity::Revocation;

use crate::{
    clients::UserFilter,
    envelope,
    error::{ApiError, ApiResult},
    extract::{ApiJson, AuthUser, Params, PathId},
    state::AppState,
};

/// The most values one repeatable filter parameter may carry.
const MAX_FILTER_VALUES: usize = 500;

/// The users routes, relative to their mount point.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(list).post(create))
        .route("/me", get(me))
        .route("/{id}", get(get_one).patch(update).delete(remove))
}

/// Users in the caller's scope. `username` and `userId` may repeat; `meta=true` wraps the list with its total.
#[utoipa::path(get, path = "/api/users", operation_id = "listUsers", tag = "users", security(("bearer" = [])),
    params(("username" = Option<Vec<String>>, Query, description = "Exact username; repeatable"),
           ("userId" = Option<Vec<String>>, Query, description = "User id; repeatable"),
           ("meta" = Option<bool>, Query, description = "Wrap in {data, meta:{total}}"),
           ("page[size]" = Option<u32>, Query), ("page[number]" = Option<u32>, Query)),
    responses((status = 200, body = [User]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    params: Params,
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
    };
    let (users, total) = state.identity.list_users(&caller.token, filter).await?;
    Ok(envelope::list(meta, users, total))
}

/// Creates a user in the caller's tenant (or any tenant with `iam.account.create`).
#[utoipa::path(post, path = "/api/users", operation_id = "createUser", tag = "users", security(("bearer" = [])), request_body = CreateUser,
    responses((status = 201, body = User), (status = 400, description = "INPUT_INVALID", body = ErrorBody),
              (status = 403, description = "MISSING_PERMISSION or FORBIDDEN", body = ErrorBody),
              (status = 409, description = "DUPLICATE_KEY", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    params: Params,
    ApiJson(body): ApiJson<CreateUser>,
) -> ApiResult<Response> {
    let meta = params.meta()?;
    let user = state.identity.create_user(&caller.token, body).await?;
    Ok(envelope::object(StatusCode::CREATED, meta, user))
}

/// The caller.
#[utoipa::path(get, path = "/api/users/me", operation_id = "getCurrentUser", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = User), (status = 401, body = ErrorBody)))]
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
    responses((status = 200, body = User), (status = 400, description = "Invalid id", body = ErrorBody),
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

/// Changes a user. Disabling a user revokes its tokens at once; nobody may disable itself.
#[utoipa::path(patch, path = "/api/users/{id}", operation_id = "updateUser", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = UpdateUser,
    responses((status = 200, body = User), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
    params: Params,
    ApiJson(body): ApiJson<UpdateUser>,
) -> ApiResult<Response> {
    let meta = params.meta()?;
    let user = state.identity.update_user(&caller.token, &id, body).await?;
    if user.status != "ACTIVE" {
        cut_off(&state, &user.id);
    }
    Ok(envelope::object(StatusCode::OK, meta, user))
}

/// Deletes a user and revokes its tokens; nobody may delete itself.
#[utoipa::path(delete, path = "/api/users/{id}", operation_id = "deleteUser", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
) -> ApiResult<StatusCode> {
    state.identity.delete_user(&caller.token, &id).await?;
    cut_off(&state, &id);
    Ok(StatusCode::NO_CONTENT)
}

/// Applies a user cut-off here at once; other gateway replicas learn it from identity's event.
fn cut_off(state: &AppState, user_id: &str) {
    let not_before = flowmate_domain::time::now().timestamp() + 1;
    state.verifier.revocations().apply(&Revocation::User {
        user_id: user_id.to_owned(),
        not_before,
    });
}
