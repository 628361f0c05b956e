//! `/secrets`, `/auth-clients` and `/callback` (API.md §9): credentials that steps use, OAuth2 apps, and the consent
//! round trip. Values are write-only: every response shows `"***"` in their place.

use axum::{
    extract::State,
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use flowmate_api::ErrorBody;
use flowmate_proto::{common::v1::PageRequest, secrets::v1::ListRequest};
use serde_json::{json, Value};

use crate::{
    clients::Resource,
    envelope,
    error::{ApiError, ApiResult},
    extract::{ApiJson, AuthUser, Params, PathId},
    state::AppState,
};

/// The secret routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/secrets", get(list).post(create))
        .route("/secrets/{id}", get(get_one).patch(update).delete(remove))
        .route("/auth-clients", get(list_clients).post(create_client))
        .route(
            "/auth-clients/{id}",
            get(get_client).patch(update_client).delete(remove_client),
        )
        .route("/auth-clients/{id}/start", get(start))
        .route("/callback", get(callback))
}

fn data(value: Value) -> Json<Value> {
    Json(json!({"data": value, "meta": {}}))
}

const SECRET_TYPES: &[(&str, &str)] = &[
    ("SIMPLE", "SIMPLE"),
    ("API_KEY", "API_KEY"),
    ("MIXED", "MIXED"),
    ("OA2_CLIENT_CREDENTIALS", "OA2_CLIENT_CREDENTIALS"),
    ("OA2_AUTHORIZATION_CODE", "OA2_AUTHORIZATION_CODE"),
];

fn list_request(params: &Params) -> Result<ListRequest, ApiError> {
    let (size, number) = params.page(10)?.unwrap_or((10, 1));
    Ok(ListRequest {
        page: Some(PageRequest { size, number }),
        r#type: params.choice("filter[type]", SECRET_TYPES)?,
        search: params.search(),
    })
}

/// `?force=true` (or `1`); `false`, `0` or absent: not forced.
fn force(params: &Params) -> Result<bool, ApiError> {
    match params.get("force") {
        None | Some("false") | Some("0") | Some("") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(_) => Err(ApiError::bad_request(
            "Invalid force parameter: use true or false",
        )),
    }
}

async fn page_of(state: &AppState, token: &str, what: Resource, params: &Params) -> ApiResult<Json<Value>> {
    let request = list_request(params)?;
    let (page, per_page) = request.page.map(|p| (p.number, p.size)).unwrap_or((1, 10));
    let (items, total) = state.secrets.list(token, what, request).await?;
    Ok(envelope::page(items, total, page, per_page))
}

/// The caller's tenant's secrets, paged; values masked.
#[utoipa::path(get, path = "/secrets", operation_id = "listSecrets", tag = "secrets", security(("bearer" = [])),
    params(("page[size]" = Option<u32>, Query), ("page[number]" = Option<u32>, Query),
           ("filter[type]" = Option<String>, Query, description = "SIMPLE|API_KEY|MIXED|OA2_CLIENT_CREDENTIALS|OA2_AUTHORIZATION_CODE"),
           ("search" = Option<String>, Query, description = "case-insensitive substring of the name")),
    responses((status = 200, description = "A page of secrets", body = flowmate_api::answers::SecretPage),
              (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    params: Params,
) -> ApiResult<Json<Value>> {
    page_of(&state, &caller.token, Resource::Secrets, &params).await
}

/// Creates a secret in the caller's tenant (permission `secrets.write`); every problem is listed.
#[utoipa::path(post, path = "/secrets", operation_id = "createSecret", tag = "secrets", security(("bearer" = [])),
    request_body(content = flowmate_api::answers::DataBody, description = "{data: {name, type, value}}: SIMPLE {username, passphrase}, API_KEY {key, headerName?}, MIXED {payload}, OA2_CLIENT_CREDENTIALS {clientId, clientSecret, tokenUrl, scope?}, OA2_AUTHORIZATION_CODE {authClientId, accessToken, refreshToken?, expires?, scope?}"),
    responses((status = 201, description = "The secret (values \"***\")", body = flowmate_api::answers::SecretEnvelope), (status = 400, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Response> {
    let s = state
        .secrets
        .create(&caller.token, Resource::Secrets, &body)
        .await?;
    Ok((StatusCode::CREATED, data(s)).into_response())
}

/// One secret; values masked.
#[utoipa::path(get, path = "/secrets/{id}", operation_id = "getSecret", tag = "secrets", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "The secret", body = flowmate_api::answers::SecretEnvelope), (status = 404, description = "No secret found", body = ErrorBody)))]
pub async fn get_one(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
) -> ApiResult<Json<Value>> {
    Ok(data(
        state.secrets.get(&caller.token, Resource::Secrets, &id).await?,
    ))
}

/// Changes a secret's name or value fields; `"***"` (or leaving a field out) keeps it, `null` removes an optional one.
#[utoipa::path(patch, path = "/secrets/{id}", operation_id = "updateSecret", tag = "secrets", security(("bearer" = [])), params(("id" = String, Path)),
    request_body(content = flowmate_api::answers::DataBody, description = "{data: {name?, value?}}"),
    responses((status = 200, description = "The secret", body = flowmate_api::answers::SecretEnvelope), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    Ok(data(
        state
            .secrets
            .update(&caller.token, Resource::Secrets, &id, &body)
            .await?,
    ))
}

/// Deletes a secret: `409` while started flows use it, unless `?force=true`.
#[utoipa::path(delete, path = "/secrets/{id}", operation_id = "deleteSecret", tag = "secrets", security(("bearer" = [])),
    params(("id" = String, Path), ("force" = Option<bool>, Query)),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody),
              (status = 409, description = "Used by active flows", body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
    params: Params,
) -> ApiResult<StatusCode> {
    let forced = force(&params)?;
    state
        .secrets
        .delete(&caller.token, Resource::Secrets, &id, forced)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's tenant's OAuth2 apps, paged; client secrets masked.
#[utoipa::path(get, path = "/auth-clients", operation_id = "listAuthClients", tag = "secrets", security(("bearer" = [])),
    params(("page[size]" = Option<u32>, Query), ("page[number]" = Option<u32>, Query), ("search" = Option<String>, Query)),
    responses((status = 200, description = "A page of OAuth2 apps", body = flowmate_api::answers::AuthClientPage), (status = 400, body = ErrorBody)))]
pub async fn list_clients(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    params: Params,
) -> ApiResult<Json<Value>> {
    page_of(&state, &caller.token, Resource::AuthClients, &params).await
}

/// Creates an OAuth2 app.
#[utoipa::path(post, path = "/auth-clients", operation_id = "createAuthClient", tag = "secrets", security(("bearer" = [])),
    request_body(content = flowmate_api::answers::DataBody, description = "{data: {name, type: OA2_AUTHORIZATION_CODE, clientId, clientSecret, endpoints: {auth, token}, redirectUri, predefinedScope?}}"),
    responses((status = 201, description = "The OAuth2 app", body = flowmate_api::answers::AuthClientEnvelope), (status = 400, body = ErrorBody)))]
pub async fn create_client(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Response> {
    let c = state
        .secrets
        .create(&caller.token, Resource::AuthClients, &body)
        .await?;
    Ok((StatusCode::CREATED, data(c)).into_response())
}

/// One OAuth2 app.
#[utoipa::path(get, path = "/auth-clients/{id}", operation_id = "getAuthClient", tag = "secrets", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, description = "The OAuth2 app", body = flowmate_api::answers::AuthClientEnvelope), (status = 404, body = ErrorBody)))]
pub async fn get_client(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
) -> ApiResult<Json<Value>> {
    Ok(data(
        state
            .secrets
            .get(&caller.token, Resource::AuthClients, &id)
            .await?,
    ))
}

/// Shallow-merges fields into an OAuth2 app (`clientSecret: "***"` keeps it).
#[utoipa::path(patch, path = "/auth-clients/{id}", operation_id = "updateAuthClient", tag = "secrets", security(("bearer" = [])), params(("id" = String, Path)),
    request_body(content = flowmate_api::answers::DataBody, description = "{data: {…}}"),
    responses((status = 200, description = "The OAuth2 app", body = flowmate_api::answers::AuthClientEnvelope), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_client(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<Value>> {
    Ok(data(
        state
            .secrets
            .update(&caller.token, Resource::AuthClients, &id, &body)
            .await?,
    ))
}

/// Deletes an OAuth2 app: `409` while secrets were made from it, unless `?force=true`.
#[utoipa::path(delete, path = "/auth-clients/{id}", operation_id = "deleteAuthClient", tag = "secrets", security(("bearer" = [])),
    params(("id" = String, Path), ("force" = Option<bool>, Query)),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn remove_client(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
    params: Params,
) -> ApiResult<StatusCode> {
    let forced = force(&params)?;
    state
        .secrets
        .delete(&caller.token, Resource::AuthClients, &id, forced)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Starts the consent: `302` to the provider's authorization endpoint with `client_id`, `redirect_uri`, `scope`
/// and a `state` bound to the caller (single-use, valid 10 minutes). The body carries the same URL.
#[utoipa::path(get, path = "/auth-clients/{id}/start", operation_id = "startConsent", tag = "secrets", security(("bearer" = [])),
    params(("id" = String, Path), ("secretName" = String, Query, description = "name of the secret to create"),
           ("scope" = Option<String>, Query, description = "default: the auth client's predefinedScope")),
    responses((status = 302, description = "Location: the provider's consent page", body = flowmate_api::answers::ConsentRedirectEnvelope),
              (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn start(
    State(state): State<AppState>,
    AuthUser(caller): AuthUser,
    PathId(id): PathId,
    params: Params,
) -> ApiResult<Response> {
    let name = params.get("secretName").unwrap_or_default();
    let scope = params.get("scope").unwrap_or_default();
    let url = state
        .secrets
        .start_consent(&caller.token, &id, name, scope)
        .await?;
    let body = Json(json!({"data": {"redirectUrl": url}, "meta": {}}));
    Ok((StatusCode::FOUND, [(header::LOCATION, url)], body).into_response())
}

/// Where the provider sends the user back (no bearer token: the `state` authenticates). Exchanges the code and
/// creates the secret for the user who started the consent. A forged, used or expired state is `403`.
#[utoipa::path(get, path = "/callback", operation_id = "consentCallback", tag = "secrets",
    params(("code" = Option<String>, Query), ("state" = Option<String>, Query), ("error" = Option<String>, Query)),
    responses((status = 201, description = "The secret created", body = flowmate_api::answers::SecretEnvelope),
              (status = 400, description = "The provider refused, or the code could not be exchanged", body = ErrorBody),
              (status = 403, description = "OAuth state is not valid | was already used | has expired", body = ErrorBody)))]
pub async fn callback(State(state): State<AppState>, params: Params) -> ApiResult<Response> {
    let get = |k: &str| params.get(k).unwrap_or_default();
    let s = state
        .secrets
        .complete_consent(get("state"), get("code"), get("error"))
        .await?;
    Ok((StatusCode::CREATED, data(s)).into_response())
}
