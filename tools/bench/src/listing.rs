//! Scenario 11: a tenant member's flow list (the fairness issue's listing targets). A tenant holds
//! [`FLOWS`] flows, one in ten of them a teammate's private flow the member may not see; the member pages through
//! `GET /flows?page[size]=50` (the first page and page 200, each with its total), and the admin reads the same
//! first page over the whole store for comparison. Runs after scenario 4, so the store also holds its flows.

use std::{fmt::Write, path::Path, time::Duration};

use anyhow::Context;
use reqwest::Method;
use serde_json::{json, Value};

use crate::{
    api::{chain, node, Client},
    children::FlowMate,
    wrk::{self, Load, Request},
    CONNECTIONS,
};

/// Flows of the member's tenant.
pub const FLOWS: usize = 20_000;
/// One flow in this many is the teammate's alone.
const PRIVATE_EVERY: usize = 10;
/// The member's password.
const PASSWORD: &str = "bench-member-password";

/// The scenario's figures.
#[derive(Debug, Clone, Default)]
pub struct ListingFigures {
    /// Flows in the member's tenant.
    pub flows: usize,
    /// Of which the member sees.
    pub visible: u64,
    /// The member's first page.
    pub first: Load,
    /// The member's page 200.
    pub deep: Load,
    /// The admin's first page.
    pub admin: Load,
}

/// `n` flows created by `client` in bulk (1,000 a request); their ids.
async fn seed(client: &Client, n: usize, prefix: &str) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::with_capacity(n);
    while ids.len() < n {
        let batch: Vec<Value> = (ids.len()..n.min(ids.len() + 1000))
            .map(|i| {
                chain(
                    &format!("{prefix} {i:05}"),
                    vec![node("in", "webhook", "receive", json!({}))],
                    json!({}),
                )
            })
            .collect();
        let (status, body) = client
            .call(Method::POST, "/flows", Some(&Value::Array(batch)))
            .await?;
        anyhow::ensure!(status == 201, "seeding flows: {status} {body}");
        for f in body["data"].as_array().context("created flows")? {
            ids.push(f["id"].as_str().context("flow id")?.to_owned());
        }
    }
    Ok(ids)
}

/// Makes each of `ids` the flow of `user` alone (its owners no longer name the tenant), 16 requests at a time.
async fn make_private(client: &Client, user: &str, ids: Vec<String>) -> anyhow::Result<()> {
    let owners = json!({"owners": [{"id": user, "type": "user"}]});
    let mut running = tokio::task::JoinSet::new();
    for id in ids {
        if running.len() >= 16 {
            running.join_next().await.context("a PATCH")???;
        }
        let (client, owners) = (client.clone(), owners.clone());
        running.spawn(async move {
            let (status, body) = client
                .call(Method::PATCH, &format!("/flows/{id}"), Some(&owners))
                .await?;
            anyhow::ensure!(status == 200, "making a flow private: {status} {body}");
            Ok(())
        });
    }
    while let Some(done) = running.join_next().await {
        done??;
    }
    Ok(())
}

/// `GET url` as `token` for `d`.
fn list(url: &str, token: &str, d: Duration, dir: &Path) -> anyhow::Result<Load> {
    let auth = format!("Bearer {token}");
    wrk::run(
        &Request {
            method: "GET",
            url,
            body: None,
            headers: &[("Authorization", auth.as_str())],
        },
        CONNECTIONS,
        d,
        dir,
    )
}

/// Runs the scenario with `flows` flows in the member's tenant, `d` of load per page.
pub async fn run(
    admin: &Client,
    flowmate: &FlowMate,
    flows: usize,
    d: Duration,
    dir: &Path,
) -> anyhow::Result<ListingFigures> {
    let tenant = admin.tenant("bench listing").await?;
    let permissions = ["flows.read", "flows.write", "flows.bulk"];
    let mut users = Vec::new();
    for name in ["member", "teammate"] {
        let username = format!("{name}@listing.bench");
        let (status, body) = admin
            .call(
                Method::POST,
                "/api/users",
                Some(
                    &json!({"username": username, "password": PASSWORD, "firstname": "Bench",
                             "lastname": name, "tenant": tenant, "permissions": permissions}),
                ),
            )
            .await?;
        anyhow::ensure!(status == 200, "create user: {status} {body}");
        let id = body["id"].as_str().context("user id")?.to_owned();
        users.push((id, Client::login_as(&flowmate.base, &username, PASSWORD).await?));
    }
    let (member, (teammate_id, teammate)) = (&users[0].1, &users[1]);
    let private = flows / PRIVATE_EVERY;
    seed(member, flows - private, "shared flow").await?;
    let hidden = seed(teammate, private, "teammate's flow").await?;
    make_private(teammate, teammate_id, hidden).await?;
    let (status, body) = member.call(Method::GET, "/flows?page[size]=50", None).await?;
    anyhow::ensure!(status == 200, "member's list: {status} {body}");
    let visible = body["meta"]["total"].as_u64().context("total")?;
    anyhow::ensure!(
        visible == (flows - private) as u64,
        "the member sees {visible} flows, not {}",
        flows - private
    );
    let base = &flowmate.base;
    Ok(ListingFigures {
        flows,
        visible,
        first: list(&format!("{base}/flows?page[size]=50"), &member.token, d, dir)?,
        deep: list(
            &format!("{base}/flows?page[size]=50&page[number]=200"),
            &member.token,
            d,
            dir,
        )?,
        admin: list(&format!("{base}/flows?page[size]=50"), &admin.token, d, dir)?,
    })
}

/// The report section.
pub fn render(out: &mut String, l: &ListingFigures, secs: f64) {
    let _ = writeln!(
        out,
        "Scenario 11, a tenant member's flow list: {} flows in the tenant, {} of them visible to the member (the rest a \
         teammate's private flows), {CONNECTIONS} connections; targets of the fairness issue: p99 < 15 ms for the \
         first page, < 30 ms for page 200:\n\n\
         | request | requests/s | p50 | p99 | target | |\n|---|---|---|---|---|---|",
        l.flows, l.visible
    );
    for (name, load, target) in [
        ("member, `GET /flows?page[size]=50`", &l.first, Some(15.0)),
        ("member, `…&page[number]=200`", &l.deep, Some(30.0)),
        (
            "admin, `GET /flows?page[size]=50` (every flow stored)",
            &l.admin,
            None,
        ),
    ] {
        let (target, verdict) = match target {
            Some(t) => (
                format!("p99 < {t:.0} ms"),
                if load.p99 < t && load.errors == 0 {
                    "met"
                } else {
                    "**missed**"
                },
            ),
            None => (String::new(), ""),
        };
        let _ = writeln!(
            out,
            "| {name} | {:.0} | {:.2} ms | {:.2} ms | {target} | {verdict} |",
            load.ok_rate(secs),
            load.p50,
            load.p99
        );
    }
    let _ = writeln!(out);
}
