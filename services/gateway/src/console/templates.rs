//! `/console/templates`: the templates in scope, and generating a flow from one.

use askama::Template;
use axum::{
    extract::{Path, Query, State},
    Form,
};
use flowmate_proto::{common::v1::PageRequest, templates::v1::ListTemplatesRequest};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    page::{path_id, redirect, render, Layout, PageResult},
    session::Session,
    view::{self, text, Pager},
};
use crate::state::AppState;

const PER_PAGE: u32 = 25;

/// The list's query.
#[derive(Debug, Deserialize, Default)]
pub struct TemplatesQuery {
    #[serde(default)]
    search: String,
    page: Option<String>,
}

struct TemplateRow {
    id: String,
    name: String,
    description: String,
    status: String,
    nodes: usize,
    updated: String,
}

#[derive(Template)]
#[template(path = "console/templates.html")]
struct TemplatesPage {
    layout: Layout,
    templates: Vec<TemplateRow>,
    search: String,
    pager: Pager,
}

/// `GET /console/templates`.
pub async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<TemplatesQuery>,
) -> PageResult {
    let page = view::page_number(q.page.as_deref());
    let request = ListTemplatesRequest {
        page: Some(PageRequest {
            size: PER_PAGE,
            number: page,
        }),
        sort_field: "name".into(),
        search: Some(q.search.clone()).filter(|s| !s.is_empty()),
        ..Default::default()
    };
    let (items, total) = state.templates.list(&session.principal.token, request).await?;
    let templates = items
        .iter()
        .map(|t: &Value| TemplateRow {
            id: text(t, "id"),
            name: text(t, "name"),
            description: text(t, "description"),
            status: text(t, "status"),
            nodes: t
                .pointer("/graph/nodes")
                .and_then(Value::as_array)
                .map_or(0, Vec::len),
            updated: view::time(&text(t, "updatedAt")),
        })
        .collect();
    let link = |n: u32| {
        view::url(
            "/console/templates",
            &[("search", &q.search), ("page", &n.to_string())],
        )
    };
    render(&TemplatesPage {
        layout: Layout::new(&session, "Templates", "templates"),
        templates,
        pager: Pager::new(page, PER_PAGE, total, link),
        search: q.search,
    })
}

/// The generate form: an optional name for the new flow.
#[derive(Debug, Deserialize)]
pub struct GenerateForm {
    #[serde(default)]
    name: String,
}

/// `POST /console/templates/{id}/generate`: creates the flow (validated by the flow repository) and opens it.
pub async fn generate(
    State(state): State<AppState>,
    session: Session,
    Path(raw): Path<String>,
    Form(form): Form<GenerateForm>,
) -> PageResult {
    let id = path_id(&raw)?;
    let name = form.name.trim();
    let overrides = if name.is_empty() {
        json!({})
    } else {
        json!({"name": name})
    };
    let flow = state
        .templates
        .generate(&session.principal.token, &id, &overrides)
        .await?;
    Ok(redirect(&format!(
        "/console/flows/{}",
        path_id(&text(&flow, "id"))?
    )))
}
