//! `/console/executions` (filters by flow, status and time; rows update live while anything may change) and
//! `/console/executions/{id}` (the step timeline with durations, each step's input, output, logs and error;
//! retry from the start or from the failed step; cancel).

use std::collections::HashMap;

use askama::Template;
use axum::{
    extract::{Path, Query, State},
    Form,
};
use flowmate_domain::Id;
use flowmate_proto::{
    common::v1::PageRequest, executions::v1::ListExecutionsRequest, flows::v1::ListFlowsRequest,
};
use futures::future::join_all;
use serde::Deserialize;
use serde_json::Value;

use super::{
    graph::status_class,
    page::{path_id, redirect, render, Layout, PageError, PageResult},
    session::Session,
    view::{self, text, Pager},
};
use crate::state::AppState;

const PER_PAGE: u32 = 25;
const STATUSES: &[&str] = &["queued", "running", "succeeded", "failed", "cancelled"];
/// Flows offered in the flow filter.
const FLOW_CHOICES: u32 = 200;

/// An execution in a list.
pub struct ExecutionRow {
    pub(super) id: String,
    pub(super) short_id: String,
    pub(super) status: String,
    pub(super) flow_id: String,
    pub(super) flow_name: Option<String>,
    pub(super) trigger: String,
    pub(super) started: String,
    pub(super) started_raw: String,
    pub(super) duration: String,
    pub(super) succeeded: u64,
    pub(super) errors: u64,
}

impl ExecutionRow {
    /// A row of execution document `e`; `flow_name` when known.
    pub fn new(e: &Value, flow_name: Option<String>) -> ExecutionRow {
        let id = text(e, "id");
        let status = text(e, "status");
        let started_raw = text(e, "startedAt");
        let duration = match e.get("durationMs").and_then(Value::as_i64) {
            Some(ms) => view::duration(ms),
            None if status == "running" || status == "queued" => "…".to_owned(),
            None => String::new(),
        };
        ExecutionRow {
            short_id: id.chars().take(13).collect::<String>()
                + if id.chars().count() > 13 { "…" } else { "" },
            id,
            flow_id: text(e, "flowId"),
            flow_name,
            trigger: e
                .pointer("/trigger/type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            started: view::time(&started_raw),
            started_raw,
            duration,
            succeeded: e
                .pointer("/counters/succeeded")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            errors: e.pointer("/counters/errors").and_then(Value::as_u64).unwrap_or(0),
            status,
        }
    }

    /// Queued or running: it may still change.
    pub fn unfinished(&self) -> bool {
        self.status == "queued" || self.status == "running"
    }
}

/// The list's query. Times are the browser's `datetime-local` values, read as UTC.
#[derive(Debug, Deserialize, Default)]
pub struct ExecutionsQuery {
    #[serde(default)]
    flow: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    page: Option<String>,
}

/// A `datetime-local` value (`2026-01-02T03:04`, seconds optional) or RFC 3339, as RFC 3339 UTC.
fn instant(raw: &str, name: &str) -> Result<Option<String>, PageError> {
    if raw.is_empty() {
        return Ok(None);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Ok(Some(flowmate_domain::time::format(t.with_timezone(&chrono::Utc))));
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(raw, f).ok())
        .map(|t| Some(flowmate_domain::time::format(t.and_utc())))
        .ok_or_else(|| PageError::bad_request(format!("The {name} time is not a date and time")))
}

#[derive(Template)]
#[template(path = "console/executions.html")]
struct ExecutionsPage {
    layout: Layout,
    rows: Vec<ExecutionRow>,
    flows: Vec<(String, String)>,
    statuses: &'static [&'static str],
    q: ExecutionsQuery,
    pager: Pager,
    here: String,
    poll: bool,
    filtered: bool,
    /// The flow filter names a flow that is not among the choices (shown by id).
    flow_unlisted: bool,
}

/// `GET /console/executions`.
pub async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<ExecutionsQuery>,
) -> PageResult {
    if !q.flow.is_empty() && Id::parse(&q.flow).is_err() {
        return Err(PageError::bad_request("Invalid flow id"));
    }
    if !q.status.is_empty() && !STATUSES.contains(&q.status.as_str()) {
        return Err(PageError::bad_request("Unknown status filter"));
    }
    let page = view::page_number(q.page.as_deref());
    let request = ListExecutionsRequest {
        page: Some(PageRequest {
            size: PER_PAGE,
            number: page,
        }),
        flow_id: Some(q.flow.clone()).filter(|f| !f.is_empty()),
        status: Some(q.status.clone()).filter(|s| !s.is_empty()),
        from: instant(&q.from, "from")?,
        to: instant(&q.to, "to")?,
        ascending: false,
        parent_id: None,
    };
    let token = &session.principal.token;
    let choices = ListFlowsRequest {
        page: Some(PageRequest {
            size: FLOW_CHOICES,
            number: 1,
        }),
        sort_field: "name".into(),
        ..Default::default()
    };
    let (listed, flows) = tokio::join!(
        state.executions.list(token, request),
        state.flows.list(token, choices)
    );
    let (items, total) = listed?;
    // The flow filter is a convenience: without flows.read the page still lists executions.
    let flows: Vec<(String, String)> = flows
        .map(|(f, _)| f.iter().map(|f| (text(f, "id"), text(f, "name"))).collect())
        .unwrap_or_default();
    let names = flow_names(&state, token, &items, &flows).await;
    let rows: Vec<ExecutionRow> = items
        .iter()
        .map(|e| ExecutionRow::new(e, names.get(&text(e, "flowId")).cloned()))
        .collect();
    let pairs = |n: &str| -> Vec<(&str, String)> {
        vec![
            ("flow", q.flow.clone()),
            ("status", q.status.clone()),
            ("from", q.from.clone()),
            ("to", q.to.clone()),
            ("page", n.to_owned()),
        ]
    };
    let link = |n: u32| {
        let p = pairs(&n.to_string());
        view::url(
            "/console/executions",
            &p.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>(),
        )
    };
    render(&ExecutionsPage {
        layout: Layout::new(&session, "Executions", "executions"),
        // New executions appear on the first page unless the time filter ends in the past.
        poll: (page == 1 && q.to.is_empty()) || rows.iter().any(ExecutionRow::unfinished),
        here: link(page),
        pager: Pager::new(page, PER_PAGE, total, link),
        filtered: !(q.flow.is_empty() && q.status.is_empty() && q.from.is_empty() && q.to.is_empty()),
        flow_unlisted: !q.flow.is_empty() && !flows.iter().any(|(id, _)| *id == q.flow),
        rows,
        flows,
        statuses: STATUSES,
        q,
    })
}

/// Names of the flows the executions ran: from the filter's list, the rest asked for one by one (at most a page).
async fn flow_names(
    state: &AppState,
    token: &str,
    items: &[Value],
    known: &[(String, String)],
) -> HashMap<String, String> {
    let mut names: HashMap<String, String> = known.iter().cloned().collect();
    let mut missing: Vec<String> = items
        .iter()
        .map(|e| text(e, "flowId"))
        .filter(|id| !names.contains_key(id))
        .collect();
    missing.sort();
    missing.dedup();
    let found = join_all(missing.iter().map(|id| state.flows.get(token, id))).await;
    for (id, flow) in missing.into_iter().zip(found) {
        if let Ok(flow) = flow {
            names.insert(id, text(&flow, "name"));
        }
    }
    names
}

/// One step of the timeline.
struct StepView {
    seq: usize,
    step_id: String,
    kind: String,
    status: &'static str,
    attempt: u64,
    started_raw: String,
    duration: String,
    bar_x: i64,
    bar_w: i64,
    input: Option<String>,
    output: Option<String>,
    logs: Option<String>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/execution.html")]
struct ExecutionPage {
    layout: Layout,
    e: ExecutionRow,
    flow_version: String,
    request_id: String,
    finished: String,
    error: Option<String>,
    steps: Vec<StepView>,
    trigger_data: Option<String>,
    can_retry: bool,
    can_retry_failed: bool,
    can_cancel: bool,
}

fn millis(t: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.timestamp_millis())
}

fn error_text(v: Option<&Value>) -> Option<String> {
    let e = v.filter(|e| !e.is_null())?;
    let (name, message) = (text(e, "name"), text(e, "message"));
    Some(if name.is_empty() {
        message
    } else {
        format!("{name}: {message}")
    })
}

fn present(v: Option<&Value>) -> Option<String> {
    v.filter(|v| !v.is_null()).map(view::pretty)
}

fn steps(e: &Value) -> Vec<StepView> {
    let empty = Vec::new();
    let steps = e.get("steps").and_then(Value::as_array).unwrap_or(&empty);
    let start = millis(&text(e, "startedAt")).unwrap_or(0);
    let end = steps
        .iter()
        .filter_map(|s| millis(&text(s, "finishedAt")))
        .chain(millis(&text(e, "finishedAt")))
        .max()
        .unwrap_or(start);
    let span = (end - start).max(1);
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (from, to) = (text(s, "startedAt"), text(s, "finishedAt"));
            let (a, b) = (millis(&from).unwrap_or(start), millis(&to).unwrap_or(end));
            StepView {
                seq: i + 1,
                step_id: text(s, "stepId"),
                kind: format!("{}.{}", text(s, "componentId"), text(s, "function")),
                status: status_class(&text(s, "status")),
                attempt: s.get("attempt").and_then(Value::as_u64).unwrap_or(1),
                duration: view::between(&from, &to).map(view::duration).unwrap_or_default(),
                started_raw: from,
                bar_x: ((a - start).max(0) * 1000 / span).min(996),
                bar_w: ((b - a).max(0) * 1000 / span).clamp(4, 1000),
                input: present(s.get("input")),
                output: present(s.get("output")),
                logs: present(s.get("logs")),
                error: error_text(s.get("error")),
            }
        })
        .collect()
}

/// `GET /console/executions/{id}`.
pub async fn detail(State(state): State<AppState>, session: Session, Path(raw): Path<String>) -> PageResult {
    let id = path_id(&raw)?;
    let token = &session.principal.token;
    let e = state.executions.get(token, &id).await?;
    let flow_name = match state.flows.get(token, &text(&e, "flowId")).await {
        Ok(flow) => Some(text(&flow, "name")),
        Err(_) => None,
    };
    let row = ExecutionRow::new(&e, flow_name);
    let finished = matches!(row.status.as_str(), "succeeded" | "failed" | "cancelled");
    render(&ExecutionPage {
        layout: Layout::new(&session, format!("Execution {}", row.short_id), "executions"),
        flow_version: text(&e, "flowVersion"),
        request_id: e
            .pointer("/trigger/requestId")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        finished: view::time(&text(&e, "finishedAt")),
        error: error_text(e.get("error")),
        steps: steps(&e),
        trigger_data: present(e.pointer("/trigger/data")),
        can_retry: finished,
        can_retry_failed: row.status == "failed",
        can_cancel: row.unfinished(),
        e: row,
    })
}

/// A retry form.
#[derive(Debug, Deserialize)]
pub struct RetryForm {
    #[serde(default)]
    from: String,
}

/// `POST /console/executions/{id}/retry`: from the start or from the failed step; on to the new execution.
pub async fn retry(
    State(state): State<AppState>,
    session: Session,
    Path(raw): Path<String>,
    Form(form): Form<RetryForm>,
) -> PageResult {
    let id = path_id(&raw)?;
    let from = if form.from == "failed" { "failed" } else { "start" };
    let new = state
        .executions
        .retry(&session.principal.token, &id, from)
        .await?;
    let target = path_id(&text(&new, "id")).unwrap_or(id);
    Ok(redirect(&format!("/console/executions/{target}")))
}

/// `POST /console/executions/{id}/cancel`.
pub async fn cancel(State(state): State<AppState>, session: Session, Path(raw): Path<String>) -> PageResult {
    let id = path_id(&raw)?;
    state.executions.cancel(&session.principal.token, &id).await?;
    Ok(redirect(&format!("/console/executions/{id}")))
}
