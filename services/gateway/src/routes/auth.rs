//! `POST /login` and `POST /logout`; OIH's token endpoints under `/api/tokens` (and `/api/v1/tokens`): introspection,
//! service-account tokens and their revocation (API.md §11); the permission vocabulary.

use axum::{
    extract::State,
    routing::{delete, get, post},
    Json, Router,
};
use flowmate_api::{
    identity::{CreateToken, IntrospectRequest, LoginRequest, LoginResponse, TokenResponse, User},
    ErrorBody,
};
use flowmate_domain::{identity::Revocation, permissions};
use serde_json::{json, Value};

use crate::{
    error::{ApiError, ApiResult},
    extract::{ApiObject, AuthUser, PathId},
    state::AppState,
};

/// Lifetime of a token from `POST /api/tokens` without `expiresIn` (seconds).
const DEFAULT_TOKEN_SECS: i64 = 3 * 3600;
/// How long a revocation by token id is remembered here (as long as the longest token lives: 100 years).
const NO_EXPIRY_SECS: i64 = 100 * 365 * 24 * 3600;

/// The login routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
}

/// The token and permission routes, relative to `/api` or `/api/v1`.
pub fn api_router() -> Router<AppState> {
    Router::new()
        .route("/tokens", post(create_token))
        .route("/tokens/introspect", post(introspect))
        .route("/tokens/{id}", delete(revoke_token))
        .route("/permissions", get(permission_names))
}

/// Exchanges a username and password for a bearer token.
#[utoipa::path(post, path = "/login", operation_id = "login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = LoginResponse),
        (status = 400, description = "Missing fields (INPUT_INVALID)", body = ErrorBody),
        (status = 401, description = "PASSWORD_INCORRECT, USER_NOT_FOUND or ENTITY_DISABLED", body = ErrorBody),
        (status = 429, description = "Too many failed logins; see Retry-After", body = ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ApiObject(body): ApiObject<LoginRequest>,
) -> ApiResult<Json<LoginResponse>> {
    let out = state
        .identity
        .login(
            body.username.unwrap_or_default(),
            body.password.unwrap_or_default(),
        )
        .await?;
    Ok(Json(out))
}

/// Revokes the presented token; it is rejected from then on.
#[utoipa::path(post, path = "/logout", operation_id = "logout", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "Logged out (OIH's answer)", body = flowmate_api::answers::LoggedOut), (status = 401, body = ErrorBody)))]
pub async fn logout(State(state): State<AppState>, AuthUser(caller): AuthUser) -> ApiResult<Json<Value>> {
    state.identity.logout(&caller.token).await?;
    state.verifier.revocations().apply(&Revocation::Token {
        jti: caller.claims.jti.clone(),
        expires_at: caller.claims.exp,
    });
    Ok(Json(json!({"loggedOut": true})))
}

/// The account a token stands for (`iam.token.introspect`): roles expanded, `permissions` = the user's own ∪
/// its roles'. Unknown, expired, revoked tokens and disabled users are `404`.
#[utoipa::path(post, path = "/api/tokens/introspect", operation_id = "introspectToken", tag = "auth", security(("bearer" = [])),
    request_body = IntrospectRequest,
    responses((status = 200, body = User), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, description = "token not found", body = ErrorBody)))]
pub async fn introspect(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiObject(body): ApiObject<IntrospectRequest>,
) -> ApiResult<Json<User>> {
    let subject = body
        .token
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("token is required"))?;
    Ok(Json(state.identity.introspect(&caller.token, subject).await?))
}

/// Issues a token for an account (`iam.token.create`), `expiresIn` seconds (`-1`: no expiry; default 3 h).
#[utoipa::path(post, path = "/api/tokens", operation_id = "createToken", tag = "auth", security(("bearer" = [])),
    request_body = CreateToken,
    responses((status = 200, body = TokenResponse), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, description = "USER_NOT_FOUND", body = ErrorBody)))]
pub async fn create_token(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiObject(body): ApiObject<CreateToken>,
) -> ApiResult<Json<TokenResponse>> {
    let account = body
        .account_id
        .filter(|a| flowmate_domain::ids::is_well_formed(a))
        .ok_or_else(|| ApiError::bad_request("accountId is required and must be a well-formed id"))?;
    let expires_in = body.expires_in.unwrap_or(DEFAULT_TOKEN_SECS);
    Ok(Json(
        state
            .identity
            .create_token(&caller.token, account, expires_in)
            .await?,
    ))
}

/// Revokes a token by its id (`iam.token.delete`); it is rejected from then on.
#[utoipa::path(delete, path = "/api/tokens/{id}", operation_id = "revokeToken", tag = "auth", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "Revoked", body = flowmate_api::answers::TokenRevoked), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
) -> ApiResult<Json<Value>> {
    state.identity.revoke_token(&caller.token, &id).await?;
    // Here at once; other replicas and services learn it from identity's event.
    state.verifier.revocations().apply(&Revocation::Token {
        jti: id.clone(),
        expires_at: caller.claims.exp.max(flowmate_domain::time::now().timestamp()) + NO_EXPIRY_SECS,
    });
    Ok(Json(json!({"id": id, "revoked": true})))
}

/// The permission names roles may carry (OIH's web UI fills its permission picker from it).
#[utoipa::path(get, path = "/api/permissions", operation_id = "listPermissions", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = [String]), (status = 401, body = ErrorBody)))]
pub async fn permission_names(AuthUser(_caller): AuthUser) -> Json<Vec<&'static str>> {
    let mut names: Vec<&'static str> = permissions::RESTRICTED
        .iter()
        .chain(permissions::COMMON)
        .chain(permissions::SERVICE)
        .copied()
        .collect();
    names.dedup();
    Json(names)
}
