//! Console security: sessions and their cookies, the login redirect, CSRF, the CSP, login throttling, logout
//! revocation, escaping of hostile names and outputs, the assets and the offline API docs.

use serde_json::json;

use super::support::{finished, started, webhook, Browser};
use crate::harness::{App, ADMIN, ADMIN_PASSWORD, MAX_FAILURES};

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

async fn signing_in_sets_an_http_only_strict_session_cookie_and_a_strict_csp(app: &App) {
    let b = Browser::new(app);
    let login = b.get("/console").await;
    assert_eq!(login.status, 200);
    assert_eq!(login.header("content-security-policy"), CSP);
    assert_eq!(login.header("x-frame-options"), "DENY");
    assert_eq!(login.header("x-content-type-options"), "nosniff");
    assert_eq!(login.header("cache-control"), "no-store");
    let nonce = login.cookie("flowmate_login");
    assert!(
        nonce.contains("HttpOnly") && nonce.contains("SameSite=Strict") && !nonce.contains("Secure"),
        "{nonce}"
    );
    assert!(
        !login.body.contains("<script>") && !login.body.contains("style="),
        "no inline script or style"
    );
    let r = b.sign_in(ADMIN, ADMIN_PASSWORD).await;
    assert_eq!((r.status.as_u16(), r.header("location")), (303, "/console/flows"));
    let session = r.cookie("flowmate_session");
    for part in ["Path=/console", "HttpOnly", "SameSite=Strict", "Max-Age="] {
        assert!(session.contains(part), "{session} lacks {part}");
    }
    assert!(!session.contains("Secure"), "plain HTTP: not Secure");
    let token = b.session().unwrap();
    assert_eq!(
        app.api.get("/api/users/me", Some(&token)).await.status,
        200,
        "the cookie holds a FlowMate token"
    );
    assert_eq!(
        b.get("/console").await.header("location"),
        "/console/flows",
        "signed in: on to the flows"
    );
    // Behind a TLS proxy the cookies are Secure.
    let tls = Browser::new(app);
    let page = tls.get_with("/console", &[("x-forwarded-proto", "https")]).await;
    assert!(page.cookie("flowmate_login").contains("; Secure"));
}

async fn pages_without_a_session_send_the_browser_to_the_login_with_next(app: &App) {
    let b = Browser::new(app);
    for path in [
        "/console/flows",
        "/console/flows/abc",
        "/console/executions?status=failed",
        "/console/executions/abc",
        "/console/templates",
        "/console/users",
        "/console/tenants",
    ] {
        let r = b.get(path).await;
        assert_eq!(r.status, 303, "{path}");
        let expected = format!(
            "/console?{}",
            serde_urlencoded::to_string([("next", path)]).unwrap()
        );
        assert_eq!(r.header("location"), expected, "{path}");
    }
    // A live update (htmx) gets HX-Redirect instead of a redirect htmx would follow inside the page.
    let r = b.get_with("/console/executions", &[("hx-request", "true")]).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("hx-redirect"), "/console?next=%2Fconsole%2Fexecutions");
    // After signing in, `next` is where the browser goes; a foreign `next` is ignored.
    let login = b.get("/console?next=%2Fconsole%2Ftemplates").await;
    assert_eq!(
        super::support::field(&login.body, "next").unwrap(),
        "/console/templates"
    );
    let r = b
        .post(
            "/console/login",
            &[
                ("csrf", &login.csrf()),
                ("username", ADMIN),
                ("password", ADMIN_PASSWORD),
                ("next", "/console/templates"),
            ],
        )
        .await;
    assert_eq!(r.header("location"), "/console/templates");
    let b2 = Browser::new(app);
    let login = b2.get("/console").await;
    let r = b2
        .post(
            "/console/login",
            &[
                ("csrf", &login.csrf()),
                ("username", ADMIN),
                ("password", ADMIN_PASSWORD),
                ("next", "//evil.example/x"),
            ],
        )
        .await;
    assert_eq!(r.header("location"), "/console/flows");
}

async fn a_post_without_or_with_a_wrong_csrf_token_is_403_and_changes_nothing(app: &App) {
    let id = started(app, &app.admin, &super::support::hook_flow("Guarded", "data")).await;
    let b = Browser::signed_in(app, ADMIN, ADMIN_PASSWORD).await;
    let path = format!("/console/flows/{id}/stop");
    for form in [
        vec![],
        vec![("csrf", "0".repeat(64))],
        vec![(
            "csrf",
            super::support::field(&b.get("/console/flows").await.body, "csrf")
                .unwrap()
                .replace('a', "b")
                .replace('1', "2"),
        )],
    ] {
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = b.post(&path, &pairs).await;
        assert_eq!(r.status, 403, "{form:?}: {}", r.body);
        assert!(r.body.contains("This form has expired"));
    }
    // Another session's token does not fit this session.
    let other = Browser::signed_in(app, ADMIN, ADMIN_PASSWORD).await;
    let foreign = other.get("/console/flows").await.csrf();
    assert_eq!(b.post(&path, &[("csrf", &foreign)]).await.status, 403);
    let r = app.api.get(&format!("/flows/{id}"), Some(&app.admin)).await;
    assert_eq!(
        r.body["data"]["status"], "active",
        "no rejected form stopped the flow"
    );
    // The login form needs its nonce too (no login CSRF).
    let fresh = Browser::new(app);
    let r = fresh
        .post(
            "/console/login",
            &[("username", ADMIN), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(fresh.session().is_none());
    // And the right token works.
    let r = b.submit("/console/flows", &path, &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
}

async fn wrong_passwords_show_the_form_again_and_lock_the_account_like_the_api(app: &App) {
    let b = Browser::new(app);
    for _ in 0..MAX_FAILURES {
        let r = b.sign_in(ADMIN, "wrong-password").await;
        assert_eq!(r.status, 401, "{}", r.body);
        assert!(r.body.contains("Wrong username or password."));
        assert!(
            r.body.contains(&format!("value=\"{ADMIN}\"")),
            "the username stays filled in"
        );
    }
    let r = b.sign_in(ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.body.contains("Too many failed sign-ins"));
    assert!(!r.header("retry-after").is_empty());
    assert!(b.session().is_none());
    let api = app
        .api
        .post(
            "/login",
            None,
            &json!({"username": ADMIN, "password": ADMIN_PASSWORD}),
        )
        .await;
    assert_eq!(api.status, 429, "the API's login is locked as well: one counter");
}

async fn signing_out_revokes_the_token(app: &App) {
    let b = Browser::signed_in(app, ADMIN, ADMIN_PASSWORD).await;
    let token = b.session().unwrap();
    let r = b.submit("/console/flows", "/console/logout", &[]).await;
    assert_eq!((r.status.as_u16(), r.header("location")), (303, "/console"));
    assert!(r.cookie("flowmate_session").contains("Max-Age=0"));
    assert_eq!(
        app.api.get("/api/users/me", Some(&token)).await.status,
        401,
        "the token is revoked"
    );
    b.set("flowmate_session", &token);
    assert_eq!(
        b.get("/console/flows").await.status,
        303,
        "the old cookie is no session"
    );
}

async fn hostile_flow_names_and_step_outputs_render_as_text(app: &App) {
    let evil = "<script>alert(1)</script>";
    let id = started(app, &app.admin, &super::support::hook_flow(evil, "data")).await;
    let exec = webhook(
        app,
        &id,
        &json!({"html": "<img src=x onerror=alert(2)>", "quote": "\"'&"}),
    )
    .await;
    finished(app, &app.admin, &exec).await;
    let b = Browser::signed_in(app, ADMIN, ADMIN_PASSWORD).await;
    for path in [
        "/console/flows".to_owned(),
        format!("/console/flows/{id}"),
        "/console/executions".to_owned(),
        format!("/console/executions/{exec}"),
    ] {
        let r = b.get(&path).await;
        assert_eq!(r.status, 200, "{path}");
        assert!(
            !r.body.contains(evil) && !r.body.contains("<img src=x"),
            "{path} renders markup: {}",
            r.body
        );
        assert!(!r.body.contains("<script>"), "{path}: no inline script at all");
    }
    let detail = b.get(&format!("/console/flows/{id}")).await;
    assert!(
        detail.body.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "{}",
        detail.body
    );
    let exec_page = b.get(&format!("/console/executions/{exec}")).await;
    assert!(
        exec_page.body.contains("&#60;img src=x onerror=alert(2)&#62;"),
        "{}",
        exec_page.body
    );
}

async fn assets_and_the_api_docs_are_served_from_the_binary(app: &App) {
    let b = Browser::new(app);
    let login = b.get("/console").await;
    let at = login.body.find("/console/assets/").unwrap();
    let stamp = &login.body[at + 16..at + 16 + 12];
    let js = b
        .get(&format!("/console/assets/{stamp}/htmx-2.0.11.min.js"))
        .await;
    assert_eq!(js.status, 200);
    assert_eq!(js.header("cache-control"), "public, max-age=31536000, immutable");
    assert!(js.header("content-type").starts_with("text/javascript"));
    let css = b.get(&format!("/console/assets/{stamp}/console.css")).await;
    assert!(css.header("content-type").starts_with("text/css"));
    assert_eq!(
        b.get(&format!("/console/assets/{stamp}/nope.js")).await.status,
        404
    );
    assert_eq!(
        b.get("/console/assets/old/console.css")
            .await
            .header("cache-control"),
        "no-cache"
    );
    let docs = b.get("/api/docs").await;
    assert_eq!(docs.status, 200);
    assert!(
        docs.body.contains("/api/openapi.json") && !docs.body.contains("https://"),
        "{}",
        docs.body
    );
    assert!(docs
        .header("content-security-policy")
        .contains("script-src 'self'"));
    let viewer = b
        .get_with(
            "/api/docs/assets/rapidoc-9.3.8-min.js",
            &[("accept-encoding", "gzip")],
        )
        .await;
    assert_eq!(viewer.status, 200);
    assert_eq!(viewer.header("content-encoding"), "gzip");
    assert!(viewer.header("content-type").starts_with("text/javascript"));
    let plain = b
        .get_with(
            "/api/docs/assets/rapidoc-9.3.8-min.js",
            &[("accept-encoding", "identity")],
        )
        .await;
    assert_eq!(plain.status, 406);
    let html = b
        .get_with("/", &[("accept", "text/html,application/xhtml+xml")])
        .await;
    assert_eq!((html.status.as_u16(), html.header("location")), (303, "/console"));
    let json = app.api.get("/", None).await;
    assert_eq!(json.body["console"], "/console");
}

crate::both_modes!(
    signing_in_sets_an_http_only_strict_session_cookie_and_a_strict_csp,
    pages_without_a_session_send_the_browser_to_the_login_with_next,
    a_post_without_or_with_a_wrong_csrf_token_is_403_and_changes_nothing,
    wrong_passwords_show_the_form_again_and_lock_the_account_like_the_api,
    signing_out_revokes_the_token,
    hostile_flow_names_and_step_outputs_render_as_text,
    assets_and_the_api_docs_are_served_from_the_binary,
);
