//! Console sessions and CSRF.
//!
//! The session cookie holds the user's FlowMate token (the JWT identity issued at login), so any gateway replica
//! can serve any request, nothing is stored, and every call goes to the services with that token: a token the
//! services reject (expired, revoked, user disabled) ends the session at once. The cookie is `HttpOnly`,
//! `SameSite=Strict`, `Path=/console`, and `Secure` behind TLS or when configured.
//!
//! CSRF: every POST carries a `csrf` form field. With a session it must equal HMAC-SHA256 keyed by the session
//! token over a fixed label (a value only a page rendered for that session knows; it needs no server-side key
//! shared between replicas and changes with every login). The login form, which has no session yet, uses a
//! double-submit nonce: a random value in a `SameSite=Strict` cookie that the form must repeat.

use axum::{
    body::{to_bytes, Body},
    extract::{FromRequestParts, Request},
    http::{header, request::Parts, HeaderMap, Method},
    middleware::Next,
    response::Response,
};
use flowmate_auth::Principal;
use ring::hmac;

use super::{page::PageError, ConsoleConfig};
use crate::state::AppState;

/// The cookie holding the session's token.
pub const SESSION_COOKIE: &str = "flowmate_session";
/// The cookie holding the login form's nonce.
pub const LOGIN_COOKIE: &str = "flowmate_login";
/// The largest console form accepted (forms are small; JSON never goes through them).
const FORM_LIMIT: usize = 64 * 1024;
const CSRF_LABEL: &[u8] = b"flowmate console csrf v1";

/// A signed-in user: the verified principal and the CSRF token its forms carry.
pub struct Session {
    /// The verified caller; `principal.token` goes with every service call.
    pub principal: Principal,
    /// The value of every form's `csrf` field.
    pub csrf: String,
}

impl FromRequestParts<AppState> for Session {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or(PageError::Login)?;
        let principal = state.verifier.verify(token).map_err(|_| PageError::Login)?;
        let csrf = csrf_token(&principal.token);
        Ok(Session { principal, csrf })
    }
}

/// The CSRF token of the session whose token is `token`.
pub fn csrf_token(token: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, token.as_bytes());
    hex(hmac::sign(&key, CSRF_LABEL).as_ref())
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value for a console cookie; `max_age` 0 deletes it.
pub fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/console; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")
}

/// Whether cookies must be `Secure`: configured, or the request came over TLS.
pub fn secure(config: &ConsoleConfig, headers: &HeaderMap) -> bool {
    config.secure_cookie
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// A fresh random nonce (two UUIDv4: 244 random bits from the OS).
pub fn nonce() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Equality in time independent of where the values differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Rejects every console POST whose `csrf` field is missing or wrong (`403`), before any handler runs. The login
/// form is checked against its nonce cookie; every other form against the session. A POST without a session
/// goes to the login page.
pub async fn csrf_guard(request: Request, next: Next) -> Result<Response, PageError> {
    if request.method() != Method::POST {
        return Ok(next.run(request).await);
    }
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, FORM_LIMIT)
        .await
        .map_err(|_| PageError::bad_request("This form is too large."))?;
    let given = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
        .ok()
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "csrf").map(|(_, v)| v))
        .unwrap_or_default();
    let expected = if parts.uri.path() == "/console/login" {
        cookie(&parts.headers, LOGIN_COOKIE).map(str::to_owned)
    } else {
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or(PageError::Login)?;
        Some(csrf_token(token))
    };
    match expected {
        Some(expected) if !given.is_empty() && same(&given, &expected) => {
            Ok(next.run(Request::from_parts(parts, Body::from(bytes))).await)
        }
        _ => Err(PageError::Csrf),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_csrf_token_depends_on_the_session_and_is_stable() {
        assert_eq!(csrf_token("a.b.c"), csrf_token("a.b.c"));
        assert_ne!(csrf_token("a.b.c"), csrf_token("a.b.d"));
        assert_eq!(csrf_token("a.b.c").len(), 64);
    }

    #[test]
    fn cookies_are_found_among_several_headers_and_pairs() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, "x=1; flowmate_session=tok".parse().unwrap());
        h.append(header::COOKIE, "flowmate_login=n".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie(&h, LOGIN_COOKIE), Some("n"));
        assert_eq!(cookie(&h, "y"), None);
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_when_asked() {
        let c = set_cookie("a", "b", 10, true);
        assert_eq!(
            c,
            "a=b; Path=/console; Max-Age=10; HttpOnly; SameSite=Strict; Secure"
        );
        assert!(!set_cookie("a", "b", 10, false).contains("Secure"));
    }
}
