//! `ApiError`: the one way the gateway renders a failure (API.md §1 error shape).

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use flowmate_api::ErrorBody;
use flowmate_domain::{ErrorCode, Fault};

/// A failed request. 5xx bodies are generic; the cause is logged inside the request's span (with its id).
#[derive(Debug)]
pub struct ApiError(pub Fault);

impl ApiError {
    /// A failure with one message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError(Fault::new(code, message))
    }

    /// `400` with one message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::InvalidArgument, message)
    }
}

impl From<Fault> for ApiError {
    fn from(f: Fault) -> Self {
        ApiError(f)
    }
}

impl From<flowmate_auth::AuthError> for ApiError {
    fn from(e: flowmate_auth::AuthError) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut fault = self.0;
        let status =
            StatusCode::from_u16(fault.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(
                code = fault.code.as_str(),
                cause = fault.message(),
                "request failed"
            );
            let message = match fault.code {
                ErrorCode::Unavailable => "service unavailable",
                ErrorCode::Timeout => "upstream timeout",
                _ => "internal error",
            };
            fault = Fault::new(fault.code, message);
        }
        let mut response = (status, Json(ErrorBody::from(&fault))).into_response();
        let headers = response.headers_mut();
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = fault.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// Handler results.
pub type ApiResult<T> = Result<T, ApiError>;
