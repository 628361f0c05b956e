//! `/console/secrets`: the secrets in scope by name and type, and the OAuth2 apps (API.md §13). Values never
//! reach this page: the secret service masks them before the gateway sees them, and the page shows no value field.

use askama::Template;
use axum::extract::{Query, State};
use flowmate_proto::{common::v1::PageRequest, secrets::v1::ListRequest};
use serde::Deserialize;
use serde_json::Value;

use super::{
    page::{render, Layout, PageResult},
    session::Session,
    view::{self, text, Pager},
};
use crate::{clients::Resource, state::AppState};

const PER_PAGE: u32 = 25;

/// The list's query.
#[derive(Debug, Deserialize, Default)]
pub struct SecretsQuery {
    #[serde(default)]
    search: String,
    page: Option<String>,
}

struct SecretRow {
    id: String,
    name: String,
    kind: String,
    failing: bool,
    updated: String,
}

struct AppRow {
    name: String,
    client_id: String,
}

#[derive(Template)]
#[template(path = "console/secrets.html")]
struct SecretsPage {
    layout: Layout,
    secrets: Vec<SecretRow>,
    apps: Vec<AppRow>,
    search: String,
    pager: Pager,
}

/// `GET /console/secrets`.
pub async fn list(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<SecretsQuery>,
) -> PageResult {
    let page = view::page_number(q.page.as_deref());
    let token = &session.principal.token;
    let request = ListRequest {
        page: Some(PageRequest {
            size: PER_PAGE,
            number: page,
        }),
        r#type: None,
        search: Some(q.search.clone()).filter(|s| !s.is_empty()),
    };
    let (items, total) = state.secrets.list(token, Resource::Secrets, request).await?;
    let secrets = items
        .iter()
        .map(|s: &Value| SecretRow {
            id: text(s, "id"),
            name: text(s, "name"),
            kind: text(s, "type"),
            failing: s.get("currentError").is_some(),
            updated: view::time(&text(s, "updatedAt")),
        })
        .collect();
    let first_page = ListRequest {
        page: Some(PageRequest { size: 100, number: 1 }),
        ..Default::default()
    };
    let (apps, _) = state
        .secrets
        .list(token, Resource::AuthClients, first_page)
        .await?;
    let apps = apps
        .iter()
        .map(|c| AppRow {
            name: text(c, "name"),
            client_id: text(c, "clientId"),
        })
        .collect();
    let link = |n: u32| {
        view::url(
            "/console/secrets",
            &[("search", &q.search), ("page", &n.to_string())],
        )
    };
    render(&SecretsPage {
        layout: Layout::new(&session, "Secrets", "secrets"),
        secrets,
        apps,
        pager: Pager::new(page, PER_PAGE, total, link),
        search: q.search,
    })
}
