//! `/console/users` and `/console/tenants`: who is in scope, for admins (identity decides what each caller sees;
//! a member without the permission gets the `403` page).

use askama::Template;
use axum::extract::{Query, State};
use flowmate_api::identity::{Tenant, User};
use serde::Deserialize;

use super::{
    page::{render, Layout, PageResult},
    session::Session,
    view::{self, Pager},
};
use crate::{clients::UserFilter, state::AppState};

const PER_PAGE: u32 = 50;

/// The users list's query.
#[derive(Debug, Deserialize, Default)]
pub struct UsersQuery {
    page: Option<String>,
}

#[derive(Template)]
#[template(path = "console/users.html")]
struct UsersPage {
    layout: Layout,
    users: Vec<User>,
    pager: Pager,
}

impl UsersPage {
    fn time(&self, t: &str) -> String {
        view::time(t)
    }
}

impl TenantsPage {
    fn time(&self, t: &str) -> String {
        view::time(t)
    }
}

/// `GET /console/users`.
pub async fn users(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<UsersQuery>,
) -> PageResult {
    let page = view::page_number(q.page.as_deref());
    let filter = UserFilter {
        page: Some((PER_PAGE, page)),
        ..Default::default()
    };
    let (users, total) = state
        .identity
        .list_users(&session.principal.token, filter)
        .await?;
    render(&UsersPage {
        layout: Layout::new(&session, "Users", "users"),
        users,
        pager: Pager::new(page, PER_PAGE, total, |n| format!("/console/users?page={n}")),
    })
}

#[derive(Template)]
#[template(path = "console/tenants.html")]
struct TenantsPage {
    layout: Layout,
    tenants: Vec<Tenant>,
    own: String,
}

/// `GET /console/tenants`.
pub async fn tenants(State(state): State<AppState>, session: Session) -> PageResult {
    let tenants = state.identity.list_tenants(&session.principal.token).await?;
    render(&TenantsPage {
        layout: Layout::new(&session, "Tenants", "tenants"),
        own: session.principal.claims.tenant.clone(),
        tenants,
    })
}
