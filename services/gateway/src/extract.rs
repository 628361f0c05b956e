//! Extractors whose rejections render the API error shape: the caller (`AuthUser`), JSON bodies (`ApiJson`),
//! bracketed query parameters (`Params`) and path ids (`PathId`).

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Path, RawQuery, Request},
    http::{header, request::Parts, StatusCode},
    response::IntoResponse,
};
use flowmate_auth::{bearer_token, Principal};
use flowmate_domain::{ErrorCode, Fault, Id, Problem};
use serde::de::DeserializeOwned;

use crate::{error::ApiError, state::AppState};

/// The largest `page[number]` (the stores' signed 32-bit range); anything above is `400` like `0` is.
pub const MAX_PAGE_NUMBER: u32 = i32::MAX as u32;

/// Fails with `403 MISSING_PERMISSION` unless the caller holds one of `permissions`. Handlers call it before they
/// read their parameters, so a caller without the right learns nothing about them.
pub fn require(caller: &Principal, permissions: &[&str]) -> Result<(), ApiError> {
    if permissions.iter().any(|p| caller.can(p)) {
        Ok(())
    } else {
        Err(ApiError::new(ErrorCode::Forbidden, "MISSING_PERMISSION"))
    }
}

/// The verified caller. Missing or bad tokens are `401` with `WWW-Authenticate: Bearer`.
pub struct AuthUser(pub Principal);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let token = bearer_token(header)?;
        Ok(AuthUser(state.verifier.verify(token)?))
    }
}

/// A JSON body: `415` unless `Content-Type` is JSON, `413` over the body limit, `400` for malformed JSON (with the
/// position) or a value of the wrong type (with the field's JSON pointer).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        parse_json(&json_bytes(req, state).await?).map(ApiJson)
    }
}

/// The body of a JSON request: `415` unless `Content-Type` is JSON, `413` over the body limit.
async fn json_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    require_json(req.headers())?;
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.into_response().status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(ErrorCode::PayloadTooLarge, "Request body is too large")
        } else {
            ApiError::bad_request("Request body could not be read")
        }
    })
}

/// A JSON body that must be an object (the identity request types): as [`ApiJson`], and `400` for any other JSON
/// value (serde would otherwise read a struct from an array such as `[null, null]`).
pub struct ApiObject<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiObject<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = json_bytes(req, state).await?;
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            // Malformed JSON keeps its parse error; well-formed JSON of another kind is refused as such.
            parse_json::<serde_json::Value>(&bytes)?;
            return Err(ApiError::bad_request("The request body must be a JSON object"));
        }
        parse_json(&bytes).map(ApiObject)
    }
}

/// Parses JSON, reporting syntax errors with their position and type errors with the field's pointer.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let inner = e.inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::bad_request(format!("Invalid JSON: {inner}"));
        }
        let pointer = pointer_of(e.path());
        ApiError(Fault::invalid(vec![Problem {
            message: "INPUT_INVALID".into(),
            field: Some(pointer),
            detail: Some(inner.to_string()),
        }]))
    })
}

fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        out.push('/');
        match seg {
            Segment::Seq { index } => out.push_str(&index.to_string()),
            Segment::Map { key } | Segment::Enum { variant: key } => out.push_str(key),
            Segment::Unknown => out.push('?'),
        }
    }
    out
}

/// A path id; malformed ids are `400 Invalid id`.
pub struct PathId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::bad_request("Invalid id"))?;
        Id::parse_public(&raw).map_err(|_| ApiError::bad_request("Invalid id"))?;
        Ok(PathId(raw))
    }
}

/// Query parameters in bracket syntax (`page[size]=20&username=a&username=b`); repeated keys form lists.
pub struct Params(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let RawQuery(raw) = RawQuery::from_request_parts(parts, state)
            .await
            .unwrap_or(RawQuery(None));
        let pairs = serde_urlencoded::from_str::<Vec<(String, String)>>(raw.as_deref().unwrap_or(""))
            .map_err(|_| ApiError::bad_request("Invalid query string"))?;
        Ok(Params(pairs))
    }
}

impl Params {
    /// The last value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, in order.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The `meta` switch: `true`/`1` on, `false`/`0`/absent off, anything else (an empty value too) `400`.
    pub fn meta(&self) -> Result<bool, ApiError> {
        match self.get("meta") {
            None | Some("false") | Some("0") => Ok(false),
            Some("true") | Some("1") => Ok(true),
            Some(_) => Err(ApiError::bad_request("Invalid meta parameter: use true or false")),
        }
    }

    /// `page[size]` (1..=1000) and `page[number]` (1..=[`MAX_PAGE_NUMBER`]), or `None` when neither is given.
    pub fn page(&self, default_size: u32) -> Result<Option<(u32, u32)>, ApiError> {
        let (size, number) = (self.get("page[size]"), self.get("page[number]"));
        if size.is_none() && number.is_none() {
            return Ok(None);
        }
        let size = match size {
            None => default_size,
            Some(s) => s
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| ApiError::bad_request("Invalid page[size] parameter: must be 1..1000"))?,
        };
        let number = match number {
            None => 1,
            Some(s) => s
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_PAGE_NUMBER).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "Invalid page[number] parameter: must be 1..{MAX_PAGE_NUMBER}"
                    ))
                })?,
        };
        Ok(Some((size, number)))
    }

    /// `sort=field` or `sort=-field` (descending) with `field` among `fields`; default the first field, ascending.
    pub fn sort(&self, fields: &[&str]) -> Result<(String, bool), ApiError> {
        let Some(s) = self.get("sort") else {
            return Ok((fields.first().copied().unwrap_or_default().to_owned(), false));
        };
        let (field, descending) = s.strip_prefix('-').map(|f| (f, true)).unwrap_or((s, false));
        if fields.contains(&field) {
            Ok((field.to_owned(), descending))
        } else {
            Err(ApiError::bad_request("Invalid sort parameter"))
        }
    }

    /// An id-valued filter such as `filter[user]`; a malformed id is 400 naming the parameter.
    pub fn id(&self, key: &str) -> Result<Option<String>, ApiError> {
        self.get(key)
            .map(|v| {
                Id::parse_public(v)
                    .map(Id::into_string)
                    .map_err(|_| ApiError::bad_request(format!("Invalid {key} parameter")))
            })
            .transpose()
    }

    /// A value from a fixed set, mapped (e.g. `1` → `active`); anything else is 400 naming the parameter.
    pub fn choice(&self, key: &str, allowed: &[(&str, &str)]) -> Result<Option<String>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => allowed
                .iter()
                .find(|(given, _)| *given == v)
                .map(|(_, meant)| Some((*meant).to_owned()))
                .ok_or_else(|| ApiError::bad_request(format!("Invalid {key} parameter"))),
        }
    }

    /// A free-text filter such as `filter[type]` (flow and template types are free strings, as in OIH): at most
    /// 100 characters, else 400 naming the parameter; an empty value is no filter.
    pub fn text(&self, key: &str) -> Result<Option<String>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) if v.chars().count() <= 100 => Ok(Some(v.to_owned())),
            Some(_) => Err(ApiError::bad_request(format!(
                "Invalid {key} parameter: at most 100 characters"
            ))),
        }
    }

    /// A non-empty `search`.
    pub fn search(&self) -> Option<String> {
        self.get("search").filter(|s| !s.is_empty()).map(str::to_owned)
    }
}

/// The fields lists sort by.
pub const SORT_FIELDS: &[&str] = &["createdAt", "updatedAt", "name"];

/// An optional JSON body: empty means `None`; otherwise `Content-Type` must be JSON (415) and the body valid (400).
pub fn optional_json(
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> Result<Option<serde_json::Value>, ApiError> {
    if body.is_empty() {
        return Ok(None);
    }
    require_json(headers)?;
    parse_json(body).map(Some)
}

/// `415` unless `Content-Type` is `application/json` or `application/*+json`.
fn require_json(headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        });
    if is_json {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "Content-Type must be application/json",
        ))
    }
}
