//! Signing in and out: `GET /console` (the login form, or on to the flows with a session), `POST /console/login`
//! (the same identity login as `POST /login`, so lockout and throttling apply) and `POST /console/logout` (the
//! same revocation as `POST /logout`).

use askama::Template;
use axum::{
    extract::{Query, State},
    http::{header, HeaderMap, StatusCode},
    response::{Html, IntoResponse},
    Extension, Form,
};
use flowmate_domain::{identity::Revocation, ErrorCode};
use serde::Deserialize;

use super::{
    page::{redirect, Layout, PageError, PageResult},
    session::{self, Session, LOGIN_COOKIE, SESSION_COOKIE},
    ConsoleConfig,
};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    layout: Layout,
    nonce: String,
    next: String,
    username: String,
    error: Option<String>,
}

/// The login page's query.
#[derive(Debug, Deserialize, Default)]
pub struct LoginQuery {
    next: Option<String>,
}

/// The login form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// Only console pages are places to go after login (no open redirect).
fn destination(next: &str) -> &str {
    let ok = (next == "/console" || next.starts_with("/console/"))
        && !next.contains(['\\', '\r', '\n'])
        && !next.starts_with("/console/login");
    if ok && next != "/console" {
        next
    } else {
        "/console/flows"
    }
}

fn login_form(
    config: &ConsoleConfig,
    headers: &HeaderMap,
    status: StatusCode,
    next: &str,
    username: &str,
    error: Option<String>,
) -> PageResult {
    let nonce = session::nonce();
    let page = LoginPage {
        layout: Layout::anonymous("Sign in"),
        nonce: nonce.clone(),
        next: next.to_owned(),
        username: username.to_owned(),
        error,
    };
    let cookie = session::set_cookie(LOGIN_COOKIE, &nonce, 3600, session::secure(config, headers));
    Ok((status, [(header::SET_COOKIE, cookie)], Html(page.render()?)).into_response())
}

/// `GET /console`: the login form, or the flows (or `next`) when the browser has a valid session.
pub async fn page(
    State(state): State<AppState>,
    Extension(config): Extension<ConsoleConfig>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> PageResult {
    let next = query.next.unwrap_or_default();
    let signed_in =
        session::cookie(&headers, SESSION_COOKIE).is_some_and(|t| state.verifier.verify(t).is_ok());
    if signed_in {
        return Ok(redirect(destination(&next)));
    }
    login_form(&config, &headers, StatusCode::OK, &next, "", None)
}

/// `POST /console/login`: signs in through identity and sets the session cookie.
pub async fn login(
    State(state): State<AppState>,
    Extension(config): Extension<ConsoleConfig>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> PageResult {
    let outcome = state.identity.login(form.username.clone(), form.password).await;
    let fault = match outcome {
        Ok(login) => {
            let max_age = chrono::DateTime::parse_from_rfc3339(&login.expires_at)
                .map(|t| t.timestamp() - chrono::Utc::now().timestamp())
                .unwrap_or(3 * 3600)
                .max(1);
            let secure = session::secure(&config, &headers);
            let mut response = redirect(destination(&form.next));
            let h = response.headers_mut();
            for cookie in [
                session::set_cookie(SESSION_COOKIE, &login.token, max_age, secure),
                session::set_cookie(LOGIN_COOKIE, "", 0, secure),
            ] {
                if let Ok(v) = cookie.parse() {
                    h.append(header::SET_COOKIE, v);
                }
            }
            return Ok(response);
        }
        Err(fault) => fault,
    };
    let (status, message) = match (fault.code, fault.message()) {
        (ErrorCode::TooManyRequests, _) => (
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Too many failed sign-ins. Try again in {} seconds.",
                fault.retry_after.unwrap_or(60)
            ),
        ),
        (_, "ENTITY_DISABLED") => (StatusCode::UNAUTHORIZED, "This account is disabled.".to_owned()),
        (ErrorCode::InvalidArgument, _) => (
            StatusCode::BAD_REQUEST,
            "Enter your username and password.".to_owned(),
        ),
        (ErrorCode::Unauthenticated, _) => {
            (StatusCode::UNAUTHORIZED, "Wrong username or password.".to_owned())
        }
        _ => return Err(PageError::Fault(fault)),
    };
    let mut response = login_form(
        &config,
        &headers,
        status,
        &form.next,
        &form.username,
        Some(message),
    )?;
    if let Some(secs) = fault.retry_after {
        response.headers_mut().insert(header::RETRY_AFTER, secs.into());
    }
    Ok(response)
}

/// `POST /console/logout`: revokes the session's token (as `POST /logout` does) and clears the cookie.
pub async fn logout(
    State(state): State<AppState>,
    Extension(config): Extension<ConsoleConfig>,
    headers: HeaderMap,
    session: Session,
) -> PageResult {
    let p = &session.principal;
    state.identity.logout(&p.token).await?;
    state.verifier.revocations().apply(&Revocation::Token {
        jti: p.claims.jti.clone(),
        expires_at: p.claims.exp,
    });
    let cookie = session::set_cookie(SESSION_COOKIE, "", 0, session::secure(&config, &headers));
    Ok(([(header::SET_COOKIE, cookie)], redirect("/console")).into_response())
}

#[cfg(test)]
mod tests {
    use super::destination;

    #[test]
    fn only_console_pages_are_destinations_after_login() {
        assert_eq!(destination("/console/executions?x=1"), "/console/executions?x=1");
        for bad in [
            "",
            "/console",
            "//evil.example",
            "https://evil.example",
            "/api/users",
            "/console/login",
            "/console/\\x",
        ] {
            assert_eq!(destination(bad), "/console/flows", "{bad}");
        }
    }
}
