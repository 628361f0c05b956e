//! A small client for the public REST API: every call returns the status, headers and JSON body.

use reqwest::{header::HeaderMap, Method, StatusCode};
use serde_json::{json, Value};

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body as JSON (`Value::Null` when empty, a string when not JSON).
    pub body: Value,
}

impl Reply {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The first error message of an error body.
    pub fn error(&self) -> &str {
        self.body["errors"][0]["message"].as_str().unwrap_or("")
    }

    /// Asserts that this is the API's error answer with one error (API.md §1): status `status` and the body
    /// `{"errors":[{"message":message,"code":status}]}`, nothing more.
    #[track_caller]
    pub fn assert_error(&self, status: u16, message: &str) {
        self.assert_errors(status, &[json!({"message": message, "code": status})]);
    }

    /// Like [`Reply::assert_error`] for a validation error naming its field (a JSON pointer).
    #[track_caller]
    pub fn assert_field_error(&self, status: u16, message: &str, field: &str) {
        self.assert_errors(
            status,
            &[json!({"message": message, "code": status, "field": field})],
        );
    }

    /// Like [`Reply::assert_error`] for identity's errors, which name the rule that failed in `detail`.
    #[track_caller]
    pub fn assert_error_detail(&self, status: u16, message: &str, detail: &str) {
        self.assert_errors(
            status,
            &[json!({"message": message, "code": status, "detail": detail})],
        );
    }

    /// Asserts status `status` and the body `{"errors": errors}`, exactly.
    #[track_caller]
    pub fn assert_errors(&self, status: u16, errors: &[Value]) {
        let expected = json!({ "errors": errors });
        assert_eq!(
            (self.status.as_u16(), &self.body),
            (status, &expected),
            "expected the error answer on the right"
        );
    }
}

/// The REST API at a base URL.
#[derive(Clone)]
pub struct Api {
    /// `http://127.0.0.1:port`.
    pub base: String,
    client: reqwest::Client,
}

impl Api {
    /// A client of the API at `base`.
    pub fn new(base: impl Into<String>) -> Self {
        Api {
            base: base.into(),
            client: reqwest::Client::new(),
        }
    }

    /// A request with optional bearer token.
    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let mut r = self.client.request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r
    }

    /// Sends a request and reads the reply.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body read");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(self.request(Method::GET, path, token)).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.send(self.request(Method::DELETE, path, token)).await
    }

    /// `method path` with a JSON body.
    pub async fn json(&self, method: Method, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.send(self.request(method, path, token).json(body)).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.json(Method::POST, path, token, body).await
    }

    /// `PATCH path` with a JSON body.
    pub async fn patch(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.json(Method::PATCH, path, token, body).await
    }

    /// Logs in and returns the token; panics unless the login succeeds.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let r = self
            .post(
                "/login",
                None,
                &serde_json::json!({"username": username, "password": password}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "login of {username} failed: {:?}",
            r.body
        );
        r.body["token"].as_str().expect("token").to_owned()
    }
}
