//! `/console/flows` (status badges, filters, search, paging, start/stop) and `/console/flows/{id}` (the graph as
//! SVG coloured by the last execution, the webhook URL, recent executions and the flow's JSON).

use std::collections::HashMap;

use askama::Template;
use axum::{
    extract::{Path, Query, State},
    http::HeaderMap,
    Form,
};
use flowmate_domain::{ErrorCode, Fault};
use flowmate_proto::{
    common::v1::PageRequest, executions::v1::ListExecutionsRequest, flows::v1::ListFlowsRequest,
};
use serde::Deserialize;
use serde_json::Value;

use super::{
    executions::ExecutionRow,
    graph::{self, Graph},
    page::{path_id, redirect, render, Layout, PageError, PageResult},
    session::Session,
    view::{self, text, Pager},
};
use crate::state::AppState;

const PER_PAGE: u32 = 25;
const STATUSES: &[&str] = &["active", "inactive", "starting", "stopping"];

/// The list's query.
#[derive(Debug, Deserialize, Default)]
pub struct FlowsQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    search: String,
    page: Option<String>,
}

/// A flow in the list.
pub struct FlowRow {
    id: String,
    name: String,
    description: String,
    status: String,
    kind: String,
    updated: String,
    updated_raw: String,
    reason: String,
}

impl FlowRow {
    fn new(f: &Value) -> FlowRow {
        FlowRow {
            id: text(f, "id"),
            name: text(f, "name"),
            description: text(f, "description"),
            status: text(f, "status"),
            kind: text(f, "type"),
            updated: view::time(&text(f, "updatedAt")),
            updated_raw: text(f, "updatedAt"),
            reason: text(f, "statusReason"),
        }
    }

    fn transitioning(&self) -> bool {
        self.status == "starting" || self.status == "stopping"
    }
}

#[derive(Template)]
#[template(path = "console/flows.html")]
struct FlowsPage {
    layout: Layout,
    flows: Vec<FlowRow>,
    statuses: &'static [&'static str],
    status: String,
    search: String,
    pager: Pager,
    here: String,
    live: bool,
    filtered: bool,
    origin: String,
}

/// `GET /console/flows`.
pub async fn list(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Query(q): Query<FlowsQuery>,
) -> PageResult {
    if !q.status.is_empty() && !STATUSES.contains(&q.status.as_str()) {
        return Err(PageError::bad_request("Unknown status filter"));
    }
    let page = view::page_number(q.page.as_deref());
    let request = ListFlowsRequest {
        page: Some(PageRequest {
            size: PER_PAGE,
            number: page,
        }),
        status: Some(q.status.clone()).filter(|s| !s.is_empty()),
        sort_field: "createdAt".into(),
        descending: true,
        search: Some(q.search.clone()).filter(|s| !s.is_empty()),
        ..Default::default()
    };
    let (items, total) = state.flows.list(&session.principal.token, request).await?;
    let flows: Vec<FlowRow> = items.iter().map(FlowRow::new).collect();
    let link = |n: u32| {
        let n = n.to_string();
        view::url(
            "/console/flows",
            &[("status", &q.status), ("search", &q.search), ("page", &n)],
        )
    };
    let page_str = page.to_string();
    render(&FlowsPage {
        layout: Layout::new(&session, "Flows", "flows"),
        live: flows.iter().any(FlowRow::transitioning),
        flows,
        statuses: STATUSES,
        here: view::url(
            "/console/flows",
            &[("status", &q.status), ("search", &q.search), ("page", &page_str)],
        ),
        filtered: !q.status.is_empty() || !q.search.is_empty(),
        pager: Pager::new(page, PER_PAGE, total, link),
        status: q.status,
        search: q.search,
        origin: view::origin(&headers),
    })
}

#[derive(Template)]
#[template(path = "console/flow.html")]
struct FlowPage {
    layout: Layout,
    flow: FlowRow,
    version: String,
    cron: String,
    graph: Graph,
    webhook: Option<String>,
    manual: bool,
    origin: String,
    executions: Option<Vec<ExecutionRow>>,
    last_status: String,
    json: String,
    live: bool,
}

/// The ids of nodes no edge enters (the flow's triggers), with their component.
fn triggers(flow: &Value) -> Vec<String> {
    let empty = Vec::new();
    let nodes = flow
        .pointer("/graph/nodes")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let edges = flow
        .pointer("/graph/edges")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    nodes
        .iter()
        .filter(|n| !edges.iter().any(|e| text(e, "target") == text(n, "id")))
        .map(|n| text(n, "componentId"))
        .collect()
}

/// `GET /console/flows/{id}`.
pub async fn detail(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> PageResult {
    let id = path_id(&raw)?;
    let token = &session.principal.token;
    let flow = state.flows.get(token, &id).await?;
    let recent = ListExecutionsRequest {
        page: Some(PageRequest { size: 10, number: 1 }),
        flow_id: Some(id.clone()),
        ..Default::default()
    };
    // A member may read flows without reading executions: the page then shows the flow alone.
    let executions = match state.executions.list(token, recent).await {
        Ok((items, _)) => Some(items),
        Err(f) if f.code == ErrorCode::Forbidden => None,
        Err(f) => return Err(f.into()),
    };
    let mut statuses = HashMap::new();
    let mut last_status = String::new();
    if let Some(last) = executions.as_ref().and_then(|e| e.first()) {
        last_status = text(last, "status");
        if let Ok(full) = state.executions.get(token, &text(last, "id")).await {
            for step in full.get("steps").and_then(Value::as_array).into_iter().flatten() {
                statuses.insert(text(step, "stepId"), text(step, "status"));
            }
        }
    }
    let origin = view::origin(&headers);
    let kinds = triggers(&flow);
    let row = FlowRow::new(&flow);
    let rows: Option<Vec<ExecutionRow>> = executions.map(|items| {
        items
            .iter()
            .map(|e| ExecutionRow::new(e, Some(row.name.clone())))
            .collect()
    });
    render(&FlowPage {
        layout: Layout::new(&session, row.name.clone(), "flows"),
        live: row.transitioning() || rows.iter().flatten().any(ExecutionRow::unfinished),
        version: text(&flow, "version"),
        cron: text(&flow, "cron"),
        graph: graph::layout(flow.get("graph").unwrap_or(&Value::Null), &statuses),
        webhook: kinds
            .iter()
            .any(|k| k == "webhook")
            .then(|| format!("{origin}/hook/{id}")),
        manual: kinds.iter().any(|k| k == "manual"),
        origin,
        executions: rows,
        last_status,
        json: view::pretty(&flow),
        flow: row,
    })
}

/// A start or stop form.
#[derive(Debug, Deserialize)]
pub struct ControlForm {
    #[serde(default)]
    back: String,
}

async fn control(state: &AppState, session: &Session, raw: &str, back: &str, start: bool) -> PageResult {
    let id = path_id(raw)?;
    let token = &session.principal.token;
    let mut results = if start {
        state.flows.start(token, vec![id.clone()]).await?
    } else {
        state.flows.stop(token, vec![id.clone()]).await?
    };
    let (_, outcome) = results.pop().ok_or_else(Fault::internal)?;
    outcome?;
    let back = if back.starts_with("/console/flows") {
        back.to_owned()
    } else {
        format!("/console/flows/{id}")
    };
    Ok(redirect(&back))
}

/// `POST /console/flows/{id}/start`.
pub async fn start(
    State(state): State<AppState>,
    session: Session,
    Path(raw): Path<String>,
    Form(form): Form<ControlForm>,
) -> PageResult {
    control(&state, &session, &raw, &form.back, true).await
}

/// `POST /console/flows/{id}/stop`.
pub async fn stop(
    State(state): State<AppState>,
    session: Session,
    Path(raw): Path<String>,
    Form(form): Form<ControlForm>,
) -> PageResult {
    control(&state, &session, &raw, &form.back, false).await
}
