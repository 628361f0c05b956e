//! The closed error vocabulary shared by every service: one code maps to one HTTP status and one gRPC code.

use serde::{Deserialize, Serialize};

/// Every failure FlowMate reports belongs to exactly one of these codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The input is malformed or fails validation (400).
    InvalidArgument,
    /// No valid credentials were presented (401).
    Unauthenticated,
    /// The caller is known but may not do this (403).
    Forbidden,
    /// The object does not exist or is outside the caller's scope (404).
    NotFound,
    /// The path exists but not with this method (405).
    MethodNotAllowed,
    /// A unique key is already taken (409).
    AlreadyExists,
    /// The object is in a state that forbids the operation (409).
    FailedPrecondition,
    /// The body is larger than the configured limit (413).
    PayloadTooLarge,
    /// The body's content type is not accepted (415).
    UnsupportedMediaType,
    /// Too many attempts; try again later (429).
    TooManyRequests,
    /// A dependency is down (503).
    Unavailable,
    /// A dependency did not answer in time (504).
    Timeout,
    /// A bug or an unexpected failure (500); details go to the log, never to the client.
    Internal,
}

impl ErrorCode {
    /// The HTTP status this code is rendered with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidArgument => 400,
            ErrorCode::Unauthenticated => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::AlreadyExists | ErrorCode::FailedPrecondition => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::TooManyRequests => 429,
            ErrorCode::Internal => 500,
            ErrorCode::Unavailable => 503,
            ErrorCode::Timeout => 504,
        }
    }

    /// The stable name used on the wire between services.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::AlreadyExists => "already_exists",
            ErrorCode::FailedPrecondition => "failed_precondition",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::TooManyRequests => "too_many_requests",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Internal => "internal",
        }
    }

    /// Parses [`ErrorCode::as_str`] back.
    pub fn parse(s: &str) -> Option<ErrorCode> {
        use ErrorCode::*;
        [
            InvalidArgument,
            Unauthenticated,
            Forbidden,
            NotFound,
            MethodNotAllowed,
            AlreadyExists,
            FailedPrecondition,
            PayloadTooLarge,
            UnsupportedMediaType,
            TooManyRequests,
            Unavailable,
            Timeout,
            Internal,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// One problem in a failure: a message and, for validation failures, the JSON pointer of the offending field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Human- or machine-readable message (`USER_NOT_FOUND`, `password must have at least 8 characters`).
    pub message: String,
    /// JSON pointer to the field, e.g. `/username`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub field: Option<String>,
    /// Human-readable explanation when `message` is a machine code (`INPUT_INVALID`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
}

/// A failure crossing a service boundary: a code and every problem found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("{code:?}: {}", .problems.first().map(|p| p.message.as_str()).unwrap_or(""))]
pub struct Fault {
    /// What kind of failure this is.
    pub code: ErrorCode,
    /// At least one problem; validation failures list each field.
    pub problems: Vec<Problem>,
    /// Seconds until a retry may succeed (429).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub retry_after: Option<u64>,
}

impl Fault {
    /// A failure with one message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Fault {
            code,
            problems: vec![Problem {
                message: message.into(),
                field: None,
                detail: None,
            }],
            retry_after: None,
        }
    }

    /// A validation failure listing each problem.
    pub fn invalid(problems: Vec<Problem>) -> Self {
        Fault {
            code: ErrorCode::InvalidArgument,
            problems,
            retry_after: None,
        }
    }

    /// A generic internal error; the cause must be logged by the caller.
    pub fn internal() -> Self {
        Fault::new(ErrorCode::Internal, "internal error")
    }

    /// The first message, for logs.
    pub fn message(&self) -> &str {
        self.problems.first().map(|p| p.message.as_str()).unwrap_or("")
    }
}

/// Collects validation problems so that every failure is reported at once.
#[derive(Debug, Default)]
pub struct Problems(Vec<Problem>);

impl Problems {
    /// Records a problem with the field at `pointer`.
    pub fn add(&mut self, pointer: &str, message: impl Into<String>) {
        self.0.push(Problem {
            message: message.into(),
            field: Some(pointer.to_owned()),
            detail: None,
        });
    }

    /// `Ok(())` when nothing was recorded, else an `InvalidArgument` fault with every problem.
    pub fn finish(self) -> Result<(), Fault> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Fault::invalid(self.0))
        }
    }
}
