//! The public API as the benchmark uses it: log in, create and start flows, count executions.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{json, Value};

use crate::children::{ADMIN, PASSWORD};

/// A logged-in API client.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    /// The admin's bearer token.
    pub token: String,
}

impl Client {
    /// The admin, logged in.
    pub async fn login(base: &str) -> anyhow::Result<Client> {
        Client::login_as(base, ADMIN, PASSWORD).await
    }

    /// `username`, logged in.
    pub async fn login_as(base: &str, username: &str, password: &str) -> anyhow::Result<Client> {
        let http = reqwest::Client::new();
        let r: Value = http
            .post(format!("{base}/login"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await?
            .json()
            .await?;
        let token = r["token"].as_str().context("login")?.to_owned();
        Ok(Client {
            http,
            base: base.to_owned(),
            token,
        })
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            r = r.json(b);
        }
        let r = r.send().await?;
        let status = r.status().as_u16();
        let text = r.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// A new tenant named `name`, by id.
    pub async fn tenant(&self, name: &str) -> anyhow::Result<String> {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/api/tenants",
                Some(&json!({"name": name})),
            )
            .await?;
        anyhow::ensure!(status == 200, "create tenant: {status} {body}");
        Ok(body["id"].as_str().context("tenant id")?.to_owned())
    }

    /// Creates and starts a flow; returns its id once webhooks reach it.
    pub async fn active_flow(&self, flow: Value) -> anyhow::Result<String> {
        let (status, body) = self.call(reqwest::Method::POST, "/flows", Some(&flow)).await?;
        anyhow::ensure!(status == 201, "create flow: {status} {body}");
        let id = body["data"]["id"].as_str().context("flow id")?.to_owned();
        self.call(
            reqwest::Method::POST,
            &format!("/flows/{id}/start"),
            Some(&json!({})),
        )
        .await?;
        for _ in 0..300 {
            let r = self.http.head(format!("{}/hook/{id}", self.base)).send().await?;
            if r.status() == 200 {
                return Ok(id);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!("flow {id} never became callable")
    }

    /// Succeeded executions of a flow.
    pub async fn succeeded(&self, flow: &str) -> anyhow::Result<u64> {
        let (_, body) = self
            .call(
                reqwest::Method::GET,
                &format!("/executions?filter[flowId]={flow}&filter[status]=succeeded&page[size]=1"),
                None,
            )
            .await?;
        Ok(body["meta"]["total"].as_u64().unwrap_or(0))
    }

    /// Waits until `flow` has at least `accepted` succeeded executions and no more arrive; returns when the
    /// last one was recorded. wrk stops with up to `in_flight` requests sent but not counted (it closes the
    /// connections at the deadline), and those may still have been accepted: more than `accepted + in_flight`
    /// executions would mean duplicates.
    pub async fn drained(
        &self,
        flow: &str,
        accepted: u64,
        in_flight: u64,
        limit: Duration,
    ) -> anyhow::Result<(Instant, u64)> {
        let until = Instant::now() + limit;
        let mut last = (Instant::now(), 0);
        loop {
            let n = self.succeeded(flow).await?;
            if n != last.1 {
                last = (Instant::now(), n);
            }
            if n >= accepted && last.0.elapsed() > Duration::from_millis(500) {
                anyhow::ensure!(
                    n <= accepted + in_flight,
                    "{n} executions recorded for {accepted} accepted webhooks"
                );
                return Ok(last);
            }
            anyhow::ensure!(
                Instant::now() < until,
                "only {n} of {accepted} executions recorded"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// A node.
pub fn node(id: &str, component: &str, function: &str, fields: Value) -> Value {
    json!({"id": id, "componentId": component, "function": function, "fields": fields})
}

/// A flow whose nodes are joined in a line.
pub fn chain(name: &str, nodes: Vec<Value>, settings: Value) -> Value {
    let edges: Vec<Value> = nodes
        .windows(2)
        .map(|w| json!({"source": w[0]["id"], "target": w[1]["id"]}))
        .collect();
    json!({"name": name, "flowSettings": settings, "graph": {"nodes": nodes, "edges": edges}})
}
