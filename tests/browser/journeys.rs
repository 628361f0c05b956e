//! What a person does in the console, in a real browser.

use std::time::Duration;

use serde_json::json;

use crate::{
    driver::{available, Browser},
    harness::{App, ADMIN, ADMIN_PASSWORD},
    support::{create, finished, flow, hook_flow, member, started, wait_flow, webhook, MEMBER_PASSWORD},
};

fn prefix(app: &App, name: &str) -> String {
    let mode = if app.executions_db().starts_with("sqlite") {
        "standalone"
    } else {
        "distributed"
    };
    format!("{name}-{mode}")
}

/// Sign in, see a webhook's execution appear as succeeded without reloading, read a step's output, retry a
/// failed execution, stop the flow.
async fn a_user_watches_executions_live_reads_outputs_retries_and_stops_the_flow(app: &App) {
    if !available() {
        return;
    }
    let b = Browser::open(&app.api.base, &prefix(app, "journey")).await;
    b.go("/console").await;
    b.wait("#login-form").await;
    b.shot("login").await;
    b.sign_in(ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(b.path().await, "/console/flows");
    assert!(
        b.has("#flows-empty").await,
        "a new installation shows the empty state"
    );
    b.shot("flows-empty").await;
    let (orders, broken) = two_flows(app).await;
    let (exec, failing) = executions_appear_live(app, &b, &orders, &broken).await;
    read_and_retry(app, &b, &exec, &failing).await;
    flow_pages_and_stop(app, &b, &orders, &broken).await;
    other_pages(app, &b).await;
    b.close().await;
}

/// A webhook flow that succeeds and one whose third step fails.
async fn two_flows(app: &App) -> (String, String) {
    let orders = started(
        app,
        &app.admin,
        &hook_flow(
            "Orders in",
            "{\"order\": id, \"total\": $sum(items.(price * qty))}",
        ),
    )
    .await;
    let broken = started(
        app,
        &app.admin,
        &flow(
            "Invoice export",
            &[
                ("in", "webhook", "receive", json!({})),
                ("check", "log", "write", json!({})),
                (
                    "calc",
                    "transform",
                    "map",
                    json!({"expression": "$notAFunction(1)"}),
                ),
                ("log", "log", "write", json!({})),
            ],
            &[("in", "check"), ("check", "calc"), ("calc", "log")],
        ),
    )
    .await;
    (orders, broken)
}

/// The executions page, open while webhooks arrive, shows each run without a reload.
async fn executions_appear_live(app: &App, b: &Browser, orders: &str, broken: &str) -> (String, String) {
    b.go("/console/executions").await;
    b.wait("#executions-empty").await;
    // The page is open; the webhook arrives; the row shows up (and as succeeded) without a reload.
    let exec = webhook(
        app,
        orders,
        &json!({"id": "ord-1", "items": [{"price": 3.5, "qty": 2}, {"price": 10, "qty": 1}]}),
    )
    .await;
    b.wait(&format!(
        "tr[data-execution-id=\"{exec}\"][data-status=\"succeeded\"]"
    ))
    .await;
    assert!(b.has("#executions-empty").await.eq(&false));
    let failing = webhook(app, broken, &json!({"invoice": 7})).await;
    b.wait(&format!(
        "tr[data-execution-id=\"{failing}\"][data-status=\"failed\"]"
    ))
    .await;
    let styles = b
        .client
        .execute(
            "return document.querySelectorAll('style, [style]').length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        styles,
        json!(0),
        "htmx injected no inline style (the CSP would block it)"
    );
    b.shot("executions").await;

    (exec, failing)
}

/// One execution's steps and output; a failed one retried from its failed step.
async fn read_and_retry(app: &App, b: &Browser, exec: &str, failing: &str) {
    b.click(&format!("tr[data-execution-id=\"{exec}\"] a")).await;
    b.wait("#execution-status").await;
    assert_eq!(b.path().await, format!("/console/executions/{exec}"));
    let output = b.text("[data-step-id=\"out\"] .step-output").await;
    assert!(output.contains("\"total\": 17"), "{output}");
    b.shot("execution").await;

    b.go(&format!("/console/executions/{failing}")).await;
    assert_eq!(b.text("#execution-status").await, "failed");
    assert!(b
        .text("[data-step-id=\"calc\"] .step-error")
        .await
        .contains("ExpressionError"));
    b.shot("execution-failed").await;
    b.click("#retry-failed").await;
    b.client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(fantoccini::Locator::Css("#execution-status"))
        .await
        .unwrap();
    let retried = b.path().await;
    assert!(
        retried.starts_with("/console/executions/") && !retried.ends_with(failing),
        "{retried}"
    );
    let retried_id = retried.trim_start_matches("/console/executions/").to_owned();
    assert_eq!(
        finished(app, &app.admin, &retried_id).await["trigger"]["type"],
        "retry"
    );
}

/// A flow's graph coloured by its last execution, its webhook URL, and stopping it.
async fn flow_pages_and_stop(app: &App, b: &Browser, orders: &str, broken: &str) {
    b.go(&format!("/console/flows/{broken}")).await;
    b.wait("#graph svg").await;
    // Its last execution is the retry from the failed step: that step ran (and failed) again, the others did not.
    assert!(
        b.has("#graph .node.status-failed").await,
        "the failed step is drawn red"
    );
    assert!(b.has("#graph .node.status-none").await);
    b.shot("flow-failed").await;
    b.go(&format!("/console/flows/{orders}")).await;
    assert_eq!(
        b.text("#webhook-url").await,
        format!("{}/hook/{orders}", app.api.base)
    );
    b.shot("flow").await;
    b.click("#flow-stop").await;
    wait_flow(app, &app.admin, orders, "inactive").await;
    b.wait("#flow-start").await;
    assert_eq!(b.text("#flow-status").await, "inactive");
}

/// The flows list, templates, users, and the API docs rendering offline.
async fn other_pages(app: &App, b: &Browser) {
    b.go("/console/flows").await;
    b.wait("#flow-rows").await;
    b.shot("flows").await;
    let t = app
        .api
        .post(
            "/templates",
            Some(&app.admin),
            &json!({"name": "Order intake", "description": "Webhook to log",
            "graph": {"nodes": [{"id": "in", "componentId": "webhook", "function": "receive"},
                                {"id": "log", "componentId": "log", "function": "write"}],
                      "edges": [{"source": "in", "target": "log"}]}}),
        )
        .await;
    assert_eq!(t.status, 201);
    b.go("/console/templates").await;
    b.wait("table").await;
    b.shot("templates").await;
    b.go("/console/users").await;
    b.wait("table").await;
    b.shot("users").await;
    b.go("/api/docs").await;
    let rendered = b
        .client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(fantoccini::Locator::Css("rapi-doc"))
        .await;
    assert!(rendered.is_ok());
    let mut text = json!("");
    for _ in 0..100 {
        text = b
            .client
            .execute("var r = document.querySelector('rapi-doc'); return r && r.shadowRoot ? r.shadowRoot.textContent : ''", vec![])
            .await
            .unwrap();
        if text
            .as_str()
            .unwrap_or("")
            .contains("Exchanges a username and password")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        text.as_str()
            .unwrap()
            .contains("Exchanges a username and password"),
        "the docs viewer rendered offline"
    );
    b.shot("api-docs").await;
}

/// A member of another tenant sees none of it; hostile names and outputs render as text.
async fn another_tenant_sees_nothing_and_hostile_text_stays_text(app: &App) {
    if !available() {
        return;
    }
    let evil = "<script>alert(1)</script>";
    let id = started(app, &app.admin, &hook_flow(evil, "{\"html\": html}")).await;
    let exec = webhook(
        app,
        &id,
        &json!({"html": "<img src=x onerror=alert(2)><b>bold</b>"}),
    )
    .await;
    finished(app, &app.admin, &exec).await;
    let b = Browser::open(&app.api.base, &prefix(app, "scope")).await;
    b.sign_in(ADMIN, ADMIN_PASSWORD).await;
    b.go(&format!("/console/flows/{id}")).await;
    assert_eq!(b.text("#flow-name").await, evil);
    b.assert_no_alert().await;
    b.go(&format!("/console/executions/{exec}")).await;
    let output = b.text("[data-step-id=\"out\"] .step-output").await;
    assert!(
        output.contains("<img src=x onerror=alert(2)><b>bold</b>"),
        "{output}"
    );
    assert!(
        !b.has(".step-output b").await && !b.has(".step-output img").await,
        "no markup from the output"
    );
    b.assert_no_alert().await;
    b.click("#logout").await;
    b.wait("#login-form").await;

    member(
        app,
        "elsewhere",
        "elsewhere@example.com",
        &["flows.read", "flows.write", "executions.read", "templates.read"],
    )
    .await;
    let mine = create(
        app,
        &app.api.login("elsewhere@example.com", MEMBER_PASSWORD).await,
        &hook_flow("Their own flow", "data"),
    )
    .await;
    b.sign_in("elsewhere@example.com", MEMBER_PASSWORD).await;
    let page = b.text("main").await;
    assert!(
        page.contains("Their own flow") && !page.contains(evil),
        "{} {page:?} {:?}",
        b.path().await,
        b.client.source().await
    );
    assert!(
        !b.has("nav a[href=\"/console/users\"]").await,
        "no admin menu for a member"
    );
    b.go("/console/executions").await;
    assert!(!b.has(&format!("tr[data-execution-id=\"{exec}\"]")).await);
    b.go(&format!("/console/flows/{id}")).await;
    assert_eq!(b.text("#error-heading").await, "Not found");
    b.go(&format!("/console/executions/{exec}")).await;
    assert_eq!(b.text("#error-heading").await, "Not found");
    b.go(&format!("/console/flows/{mine}")).await;
    assert_eq!(b.text("#flow-name").await, "Their own flow");
    b.close().await;
}

crate::both_modes!(
    a_user_watches_executions_live_reads_outputs_retries_and_stops_the_flow,
    another_tenant_sees_nothing_and_hostile_text_stays_text,
);
