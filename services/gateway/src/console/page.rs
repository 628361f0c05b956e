//! What every console page shares: the layout (title, navigation, the user, the CSRF token), the error pages,
//! and the headers every console response carries (a strict Content-Security-Policy among them).

use askama::Template;
use axum::{
    extract::Request,
    http::{header, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::{Html, IntoResponse, Response},
};
use flowmate_domain::{ErrorCode, Fault};

use super::{assets, session::Session};

/// No script but FlowMate's own files, no inline script or style, no framing, forms only to FlowMate.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A response header that sends the browser to the login page (with the page it asked for as `next`).
const LOGIN_MARK: &str = "x-console-login";

/// What the base template shows around every page.
pub struct Layout {
    /// The page title.
    pub title: String,
    /// Which navigation entry is current (`flows`, `executions`, …).
    pub nav: &'static str,
    /// The signed-in user's name; empty on the login and error pages.
    pub user: String,
    /// The session's CSRF token for the forms on the page.
    pub csrf: String,
    /// The assets' version path segment.
    pub stamp: &'static str,
    /// Whether to show the users entry (the identity service still decides).
    pub show_users: bool,
    /// Whether to show the tenants entry.
    pub show_tenants: bool,
}

impl Layout {
    /// The layout of a page for a signed-in user.
    pub fn new(session: &Session, title: impl Into<String>, nav: &'static str) -> Layout {
        let p = &session.principal;
        Layout {
            title: title.into(),
            nav,
            user: p.claims.username.clone(),
            csrf: session.csrf.clone(),
            stamp: assets::stamp(),
            show_users: p.can("tenant.account.read") || p.is_tenant_admin(),
            show_tenants: p.is_tenant_admin() || p.can("iam.tenant.create"),
        }
    }

    /// The layout of a page shown without a session.
    pub fn anonymous(title: impl Into<String>) -> Layout {
        Layout {
            title: title.into(),
            nav: "",
            user: String::new(),
            csrf: String::new(),
            stamp: assets::stamp(),
            show_users: false,
            show_tenants: false,
        }
    }
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage {
    layout: Layout,
    status: u16,
    heading: String,
    messages: Vec<String>,
}

/// Why a page could not be shown.
#[derive(Debug)]
pub enum PageError {
    /// No session, or the services no longer accept its token: sign in (again).
    Login,
    /// A POST without the right CSRF token.
    Csrf,
    /// A service's answer or a bad request, shown as an error page with its status.
    Fault(Fault),
}

impl PageError {
    /// A `400` page with one message.
    pub fn bad_request(message: impl Into<String>) -> PageError {
        PageError::Fault(Fault::new(ErrorCode::InvalidArgument, message))
    }
}

impl From<Fault> for PageError {
    fn from(fault: Fault) -> Self {
        if fault.code == ErrorCode::Unauthenticated {
            PageError::Login
        } else {
            PageError::Fault(fault)
        }
    }
}

impl From<askama::Error> for PageError {
    fn from(e: askama::Error) -> Self {
        PageError::Fault(Fault::new(ErrorCode::Internal, format!("template: {e}")))
    }
}

/// Page handler results.
pub type PageResult = Result<Response, PageError>;

/// Renders a template as an HTML response.
pub fn render(template: &impl Template) -> PageResult {
    Ok(Html(template.render()?).into_response())
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, heading, messages) = match self {
            PageError::Login => {
                let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, "/console")]).into_response();
                r.headers_mut().insert(LOGIN_MARK, HeaderValue::from_static("1"));
                return r;
            }
            PageError::Csrf => (
                StatusCode::FORBIDDEN,
                "This form has expired",
                vec!["Reload the page and try again.".to_owned()],
            ),
            PageError::Fault(fault) => describe(fault),
        };
        let page = ErrorPage {
            layout: Layout::anonymous(heading),
            status: status.as_u16(),
            heading: heading.to_owned(),
            messages,
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => status.into_response(),
        }
    }
}

/// A fault as a status, a heading and the messages to show; 5xx causes go to the log only.
fn describe(fault: Fault) -> (StatusCode, &'static str, Vec<String>) {
    let status = StatusCode::from_u16(fault.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_server_error() {
        tracing::error!(
            code = fault.code.as_str(),
            cause = fault.message(),
            "console page failed"
        );
        let text = match fault.code {
            ErrorCode::Unavailable | ErrorCode::Timeout => {
                "A FlowMate service did not answer. Try again shortly."
            }
            _ => "Something went wrong. The details are in FlowMate's log.",
        };
        return (status, "Something went wrong", vec![text.to_owned()]);
    }
    let heading = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::CONFLICT => "Not possible right now",
        StatusCode::TOO_MANY_REQUESTS => "Too many requests",
        _ => "That did not work",
    };
    let messages = fault
        .problems
        .iter()
        .map(|p| {
            let text = match p.message.as_str() {
                "MISSING_PERMISSION" | "FORBIDDEN" => "Your account does not have the permission for this.",
                other => other,
            };
            match (&p.field, &p.detail) {
                (Some(field), _) => format!("{field}: {text}"),
                (None, Some(detail)) if !detail.is_empty() => format!("{text} ({detail})"),
                _ => text.to_owned(),
            }
        })
        .collect();
    (status, heading, messages)
}

/// Unknown console paths.
pub async fn not_found() -> PageError {
    PageError::Fault(Fault::new(ErrorCode::NotFound, "There is no such console page."))
}

/// Adds the security headers to every console response, turns a "sign in" answer into a redirect that
/// remembers the page, and answers htmx requests (live updates) with `HX-Redirect` instead of a redirect htmx
/// would follow inside the page.
pub async fn headers(request: Request, next: Next) -> Response {
    let htmx = request.headers().contains_key("hx-request");
    let wanted = (request.method() == Method::GET)
        .then(|| request.uri().path_and_query().map(|p| p.as_str().to_owned()))
        .flatten()
        .filter(|p| p != "/console" && p != "/console/");
    let mut response = next.run(request).await;
    if response.headers_mut().remove(LOGIN_MARK).is_some() {
        if let Some(path) = wanted {
            let query = serde_urlencoded::to_string([("next", path)]).unwrap_or_default();
            if let Ok(v) = HeaderValue::from_str(&format!("/console?{query}")) {
                response.headers_mut().insert(header::LOCATION, v);
            }
        }
    }
    if htmx && response.status().is_redirection() {
        if let Some(location) = response.headers_mut().remove(header::LOCATION) {
            *response.status_mut() = StatusCode::OK;
            response.headers_mut().insert("hx-redirect", location);
        }
    }
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// A path id; a malformed one is a `400` page (as `400 Invalid id` in the API).
pub fn path_id(raw: &str) -> Result<String, PageError> {
    flowmate_domain::Id::parse(raw)
        .map(|_| raw.to_owned())
        .map_err(|_| PageError::bad_request("Invalid id"))
}

/// `303 See Other` to a console `location`; anything that is not a plain console path goes to the flows.
pub fn redirect(location: &str) -> Response {
    let safe = location.starts_with("/console")
        && !location.starts_with("//")
        && location.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    let location = if safe { location } else { "/console/flows" };
    match HeaderValue::from_str(location) {
        Ok(v) => (StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response(),
        Err(_) => (StatusCode::SEE_OTHER, [(header::LOCATION, "/console/flows")]).into_response(),
    }
}
