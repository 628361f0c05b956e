//! Incoming webhooks (API.md §5): `POST|GET|HEAD /hook/{flowId}[/{suffix}]` and the alias `/webhooks/{flowId}`.
//! No bearer token is required here: the webhook service decides (it checks HMAC signatures and tokens when the
//! flow asks for them). The request is handed over as it arrived and its answer sent back unchanged.

use axum::{
    body::{Body, Bytes},
    extract::{rejection::BytesRejection, Path, State},
    http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use flowmate_api::ErrorBody;
use flowmate_domain::{ErrorCode, Id};
use flowmate_proto::webhooks::v1::{DeliverRequest, Header};

use crate::{error::ApiError, state::AppState};

/// The webhook routes.
pub fn router() -> Router<AppState> {
    let plain = || get(hook).post(hook).head(hook);
    let with_suffix = || get(hook_suffix).post(hook_suffix).head(hook_suffix);
    Router::new()
        .route("/hook/{flow_id}", plain())
        .route("/hook/{flow_id}/{*suffix}", with_suffix())
        .route("/webhooks/{flow_id}", plain())
        .route("/webhooks/{flow_id}/{*suffix}", with_suffix())
}

/// Triggers an active flow whose trigger is the `webhook` component. `200 {"data":{"requestId","message":"thank
/// you"}}` once the trigger is durably queued; sync flows (or `?sync=true`) answer with the execution's result, or
/// `202` with a `statusUrl` past the sync timeout.
#[utoipa::path(post, path = "/hook/{flowId}", operation_id = "triggerWebhook", tag = "webhooks",
    params(("flowId" = String, Path), ("sync" = Option<bool>, Query, description = "wait for the execution's result"),
           ("Idempotency-Key" = Option<String>, Header, description = "a repeat within 24 h returns the first answer")),
    request_body(description = "The trigger's data: JSON, text/plain (parsed as JSON when it is JSON), a form or XML (application/xml, to JSON)",
        content((std::collections::BTreeMap<String, serde_json::Value> = "application/json"), (String = "text/plain"),
                (std::collections::BTreeMap<String, String> = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "Queued durably (sync flows: the execution's answer)", body = flowmate_api::answers::WebhookAccepted),
              (status = 202, description = "sync: still running", body = flowmate_api::answers::WebhookPending),
              (status = 400, body = ErrorBody), (status = 403, description = "Signature or token refused", body = ErrorBody),
              (status = 404, description = "Flow <id> either does not exist or is inactive.", body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
              (status = 429, description = "Rate limit or tenant quota; see Retry-After", body = ErrorBody),
              (status = 503, description = "Neither the broker nor the database can take the trigger", body = ErrorBody)))]
pub async fn hook(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    Path(flow_id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    deliver(state, method, uri, flow_id, String::new(), headers, body).await
}

/// `GET /hook/{flowId}`: the query is the trigger's data (documentation of the GET method of [`hook`]).
#[utoipa::path(get, path = "/hook/{flowId}", operation_id = "triggerWebhookGet", tag = "webhooks",
    params(("flowId" = String, Path), ("sync" = Option<bool>, Query, description = "wait for the execution's result")),
    responses((status = 200, description = "Queued durably (sync flows: the execution's answer)", body = flowmate_api::answers::WebhookAccepted),
              (status = 202, description = "sync: still running", body = flowmate_api::answers::WebhookPending),
              (status = 400, body = ErrorBody), (status = 403, description = "Signature or token refused", body = ErrorBody),
              (status = 404, description = "Flow <id> either does not exist or is inactive.", body = ErrorBody),
              (status = 429, description = "Rate limit or tenant quota; see Retry-After", body = ErrorBody),
              (status = 503, body = ErrorBody)))]
pub fn hook_get_doc() {}

/// `HEAD /hook/{flowId}`: `200` for an active flow, and nothing starts (documentation of the HEAD method of
/// [`hook`]).
#[utoipa::path(head, path = "/hook/{flowId}", operation_id = "checkWebhook", tag = "webhooks",
    params(("flowId" = String, Path)),
    responses((status = 200, description = "The flow is active"), (status = 400, description = "Invalid id"),
              (status = 403, description = "Signature or token refused"),
              (status = 404, description = "No such active flow")))]
pub fn hook_head_doc() {}

/// `/hook/{flowId}/{suffix}`: the same, with the suffix passed on as `pathSuffix`.
pub async fn hook_suffix(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    Path((flow_id, suffix)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    deliver(state, method, uri, flow_id, suffix, headers, body).await
}

async fn deliver(
    state: AppState,
    method: Method,
    uri: Uri,
    flow_id: String,
    suffix: String,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.into_response().status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(ErrorCode::PayloadTooLarge, "Request body is too large")
        } else {
            ApiError::bad_request("Request body could not be read")
        }
    })?;
    Id::parse(&flow_id).map_err(|_| ApiError::bad_request("Invalid id"))?;
    let request_id = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let request = DeliverRequest {
        flow_id,
        path_suffix: suffix,
        method: method.as_str().to_owned(),
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or_default().to_owned(),
        headers: headers
            .iter()
            .map(|(k, v)| Header {
                name: k.as_str().to_owned(),
                value: v.as_bytes().to_vec(),
            })
            .collect(),
        body: body.to_vec(),
        request_id,
    };
    let reply = state.webhooks.deliver(request).await?;
    let status = StatusCode::from_u16(u16::try_from(reply.status).unwrap_or(500))
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = Response::new(if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(reply.body)
    });
    *response.status_mut() = status;
    for h in reply.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(h.name.as_str()),
            HeaderValue::from_bytes(&h.value),
        ) {
            if !matches!(
                name.as_str(),
                "content-length" | "transfer-encoding" | "connection"
            ) {
                response.headers_mut().append(name, value);
            }
        }
    }
    Ok(response)
}
