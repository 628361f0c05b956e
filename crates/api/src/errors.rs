//! The one error shape of the API: `{"errors":[{"message","code","field"?,"detail"?}]}`.

use flowmate_domain::Fault;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One error entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorItem {
    /// Message or OIH machine code (`USER_NOT_FOUND`, `INPUT_INVALID`, ...).
    pub message: String,
    /// The HTTP status.
    pub code: u16,
    /// JSON pointer of the offending field, for validation failures.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub field: Option<String>,
    /// Explanation when `message` is a machine code.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
}

/// Every error response body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// At least one entry; validation failures list every problem.
    pub errors: Vec<ErrorItem>,
}

impl From<&Fault> for ErrorBody {
    fn from(f: &Fault) -> Self {
        let code = f.code.http_status();
        ErrorBody {
            errors: f
                .problems
                .iter()
                .map(|p| ErrorItem {
                    message: p.message.clone(),
                    code,
                    field: p.field.clone(),
                    detail: p.detail.clone(),
                })
                .collect(),
        }
    }
}
