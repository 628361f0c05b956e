//! `POST /login` and `POST /logout`.

use axum::{extract::State, http::StatusCode, routing::post, Json, Router};
use flowmate_api::{identity::LoginRequest, identity::LoginResponse, ErrorBody};
use flowmate_domain::identity::Revocation;

use crate::{
    error::ApiResult,
    extract::{ApiJson, AuthUser},
    state::AppState,
};

/// The login routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
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
    ApiJson(body): ApiJson<LoginRequest>,
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
    responses((status = 204, description = "Logged out"), (status = 401, body = ErrorBody)))]
pub async fn logout(State(state): State<AppState>, AuthUser(caller): AuthUser) -> ApiResult<StatusCode> {
    state.identity.logout(&caller.token).await?;
    state.verifier.revocations().apply(&Revocation::Token {
        jti: caller.claims.jti.clone(),
        expires_at: caller.claims.exp,
    });
    Ok(StatusCode::NO_CONTENT)
}
