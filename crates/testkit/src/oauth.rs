//! A simulated OAuth2 provider on loopback for tests: a token endpoint that counts its calls and can be told to
//! fail (500, garbage, hanging), an authorization endpoint for the consent round trip, and a protected resource
//! that accepts only the access token issued last.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use axum::{
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, post},
    Form, Json, Router,
};
use serde_json::json;

/// How the token endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A token response (`at-<n>-<uuid>`, `rt-<n>-<uuid>`).
    Ok = 0,
    /// `500 {"error":"server_error"}`.
    Error500 = 1,
    /// `200` with an HTML page.
    Garbage = 2,
    /// Never answers (well, after a minute).
    Hang = 3,
}

#[derive(Default)]
struct Shared {
    calls: AtomicUsize,
    mode: AtomicU8,
    /// Token lifetime given out, in seconds.
    expires_in: AtomicU64,
    /// How long the token endpoint takes, in ms (widens races on purpose).
    delay_ms: AtomicU64,
    issued: Mutex<Option<String>>,
    every_token: Mutex<Vec<String>>,
    grants: Mutex<Vec<HashMap<String, String>>>,
    resource_calls: AtomicUsize,
}

/// A running provider.
#[derive(Clone)]
pub struct OAuthProvider {
    /// `http://127.0.0.1:port`.
    pub base: String,
    shared: Arc<Shared>,
}

async fn token(State(s): State<Arc<Shared>>, Form(form): Form<HashMap<String, String>>) -> Response {
    let n = s.calls.fetch_add(1, Ordering::SeqCst) + 1;
    s.grants.lock().unwrap().push(form);
    tokio::time::sleep(Duration::from_millis(s.delay_ms.load(Ordering::SeqCst))).await;
    match s.mode.load(Ordering::SeqCst) {
        1 => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": "server_error"})),
        )
            .into_response(),
        2 => (StatusCode::OK, "<html>not a token</html>").into_response(),
        3 => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        _ => {
            let access = format!("at-{n}-{}", uuid::Uuid::new_v4().simple());
            let refresh = format!("rt-{n}-{}", uuid::Uuid::new_v4().simple());
            *s.issued.lock().unwrap() = Some(access.clone());
            s.every_token
                .lock()
                .unwrap()
                .extend([access.clone(), refresh.clone()]);
            Json(json!({"access_token": access, "token_type": "Bearer",
                        "expires_in": s.expires_in.load(Ordering::SeqCst), "refresh_token": refresh}))
            .into_response()
        }
    }
}

async fn resource(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    s.resource_calls.fetch_add(1, Ordering::SeqCst);
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let current = s.issued.lock().unwrap().clone();
    match current {
        Some(t) if given == format!("Bearer {t}") => Json(json!({"ok": true})).into_response(),
        _ => (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_token"}))).into_response(),
    }
}

async fn authorize(Query(q): Query<HashMap<String, String>>) -> Json<serde_json::Value> {
    Json(json!({"query": q}))
}

impl OAuthProvider {
    /// Starts a provider whose tokens live an hour and whose token endpoint takes 50 ms.
    pub async fn start() -> OAuthProvider {
        let shared = Arc::new(Shared::default());
        shared.expires_in.store(3600, Ordering::SeqCst);
        shared.delay_ms.store(50, Ordering::SeqCst);
        let app = Router::new()
            .route("/token", post(token))
            .route("/resource", get(resource))
            .route("/authorize", get(authorize))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        OAuthProvider { base, shared }
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.base)
    }

    /// The authorization (consent) endpoint.
    pub fn auth_url(&self) -> String {
        format!("{}/authorize", self.base)
    }

    /// A resource that accepts only `Bearer <the token issued last>` (else 401).
    pub fn resource_url(&self) -> String {
        format!("{}/resource", self.base)
    }

    /// How the token endpoint answers from now on.
    pub fn set_mode(&self, mode: Mode) {
        self.shared.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// The lifetime of the tokens given out from now on.
    pub fn set_expires_in(&self, secs: u64) {
        self.shared.expires_in.store(secs, Ordering::SeqCst);
    }

    /// Calls of the token endpoint so far.
    pub fn calls(&self) -> usize {
        self.shared.calls.load(Ordering::SeqCst)
    }

    /// Calls of the protected resource so far.
    pub fn resource_calls(&self) -> usize {
        self.shared.resource_calls.load(Ordering::SeqCst)
    }

    /// The access token issued last.
    pub fn issued(&self) -> Option<String> {
        self.shared.issued.lock().unwrap().clone()
    }

    /// Every access and refresh token issued so far.
    pub fn every_token(&self) -> Vec<String> {
        self.shared.every_token.lock().unwrap().clone()
    }

    /// Forgets the token issued last, so the resource refuses every token until the next one is issued (as when
    /// a provider revokes tokens).
    pub fn revoke(&self) {
        *self.shared.issued.lock().unwrap() = Some(format!("revoked-{}", uuid::Uuid::new_v4()));
    }

    /// The form of every token request so far.
    pub fn grants(&self) -> Vec<HashMap<String, String>> {
        self.shared.grants.lock().unwrap().clone()
    }
}
