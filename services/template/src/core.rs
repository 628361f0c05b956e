//! Template rules (API.md §4): scope and permissions as for flows, shallow-merge updates that keep the previous
//! version, and generate: the template deep-merged with the caller's overrides, created as a flow through the flow
//! repository on the caller's behalf.

use flowmate_domain::permissions;
use std::sync::Arc;

use async_trait::async_trait;
use flowmate_auth::Principal;
use flowmate_domain::{
    event::types,
    template::{
        deep_merge, validate_template, SERVER_FIELDS, TEMPLATE_ONLY_FIELDS, TEMPLATE_ONLY_NODE_FIELDS,
    },
    time, Envelope, Fault, Id,
};
use serde_json::{json, Map, Value};

use crate::{
    error::{Result, TemplateError},
    model::{ListQuery, Scope, Template, TemplateStore},
};

/// The event source name of this service.
pub const SOURCE: &str = "flowmate/template";

const UPDATE_ATTEMPTS: usize = 3;

/// Creates flows on a caller's behalf (the flow repository, over gRPC).
#[async_trait]
pub trait FlowCreator: Send + Sync + 'static {
    /// Creates `flow` as the holder of `token`; the repository's faults come back unchanged.
    async fn create(&self, token: &str, flow: &Value) -> std::result::Result<Value, Fault>;
}

/// Business rules of the template context.
pub struct TemplateCore {
    store: Arc<dyn TemplateStore>,
    flows: Arc<dyn FlowCreator>,
}

fn require(caller: &Principal, permission: &str) -> Result<()> {
    if caller.can(permission) {
        Ok(())
    } else {
        Err(TemplateError::MissingPermission)
    }
}

fn scope_of(caller: &Principal) -> Scope {
    (!caller.is_admin()).then(|| {
        (
            caller.tenant().to_owned(),
            vec![caller.user_id().to_owned(), caller.tenant().to_owned()],
        )
    })
}

fn event(kind: &str, t: &Template, caller: &Principal) -> Envelope {
    let data = json!({"templateId": t.id, "tenant": t.text("tenant"), "user": caller.user_id(), "template": t.to_json()});
    Envelope::new(kind, SOURCE, data).with_tenant(t.text("tenant"))
}

impl TemplateCore {
    /// A core over `store`, generating flows through `flows`.
    pub fn new(store: Arc<dyn TemplateStore>, flows: Arc<dyn FlowCreator>) -> Self {
        TemplateCore { store, flows }
    }

    /// A page of templates in the caller's scope.
    pub async fn list(&self, caller: &Principal, query: ListQuery) -> Result<(Vec<Template>, u64)> {
        require(caller, permissions::TEMPLATES_READ)?;
        self.store.list(&scope_of(caller), &query).await
    }

    /// One template in the caller's scope.
    pub async fn get(&self, caller: &Principal, id: &str) -> Result<Template> {
        require(caller, permissions::TEMPLATES_READ)?;
        self.visible(caller, id).await
    }

    async fn visible(&self, caller: &Principal, id: &str) -> Result<Template> {
        Id::parse(id).map_err(|_| TemplateError::InvalidId)?;
        let t = self.store.get(id).await?.ok_or(TemplateError::NotFound)?;
        match scope_of(caller) {
            None => Ok(t),
            Some((tenant, owners))
                if t.text("tenant") == tenant
                    && t.owner_ids().iter().any(|o| owners.iter().any(|x| x == o)) =>
            {
                Ok(t)
            }
            Some(_) => Err(TemplateError::NotFound),
        }
    }

    /// Creates a template in the caller's tenant (an admin may name another); the caller and the tenant own it.
    pub async fn create(&self, caller: &Principal, body: Value) -> Result<Template> {
        require(caller, permissions::TEMPLATES_WRITE)?;
        let mut body = validate_template(&body).map_err(TemplateError::Invalid)?;
        let tenant = match body.get("tenant").and_then(Value::as_str) {
            Some(t) if caller.is_admin() && !t.is_empty() => t.to_owned(),
            _ => caller.tenant().to_owned(),
        };
        body.insert("tenant".into(), Value::String(tenant));
        complete_owners(&mut body, caller)?;
        let now = time::now_string();
        let t = Template {
            id: Id::new().into_string(),
            body,
            version: 1,
            created_at: now.clone(),
            updated_at: now,
        };
        self.store
            .insert(&t, &[event(types::TEMPLATE_CREATED, &t, caller)])
            .await?;
        Ok(t)
    }

    /// Shallow-merges `patch`, re-validates, keeps the previous version and bumps the version.
    pub async fn update(&self, caller: &Principal, id: &str, patch: Value) -> Result<Template> {
        require(caller, permissions::TEMPLATES_WRITE)?;
        let Value::Object(patch) = patch else {
            return Err(TemplateError::Invalid(Fault::invalid(vec![
                flowmate_domain::Problem {
                    message: "A template update must be a JSON object.".into(),
                    field: Some(String::new()),
                    detail: None,
                },
            ])));
        };
        for _ in 0..UPDATE_ATTEMPTS {
            let current = self.visible(caller, id).await?;
            let mut merged = current.body.clone();
            for (k, v) in &patch {
                if !SERVER_FIELDS.contains(&k.as_str()) {
                    merged.insert(k.clone(), v.clone());
                }
            }
            let mut body = validate_template(&Value::Object(merged)).map_err(TemplateError::Invalid)?;
            if !caller.is_admin() {
                body.insert("tenant".into(), Value::String(current.text("tenant").to_owned()));
            }
            complete_owners(&mut body, caller)?;
            let t = Template {
                body,
                version: current.version + 1,
                updated_at: time::now_string(),
                ..current.clone()
            };
            if self
                .store
                .update(&t, &current, &[event(types::TEMPLATE_MODIFIED, &t, caller)])
                .await?
            {
                return Ok(t);
            }
        }
        Err(TemplateError::Conflict)
    }

    /// Deletes a template and its versions.
    pub async fn delete(&self, caller: &Principal, id: &str) -> Result<()> {
        require(caller, permissions::TEMPLATES_WRITE)?;
        let t = self.visible(caller, id).await?;
        let data = json!({"templateId": t.id, "tenant": t.text("tenant"), "user": caller.user_id()});
        let e = Envelope::new(types::TEMPLATE_DELETED, SOURCE, data).with_tenant(t.text("tenant"));
        if self.store.delete(id, &[e]).await? {
            Ok(())
        } else {
            Err(TemplateError::NotFound)
        }
    }

    /// The template's previous versions, newest first.
    pub async fn versions(&self, caller: &Principal, id: &str) -> Result<Vec<Value>> {
        require(caller, permissions::TEMPLATES_READ)?;
        self.visible(caller, id).await?;
        self.store.versions(id).await
    }

    /// Generates a flow (permission `flows.write`): the template deep-merged with `overrides` (objects by key,
    /// arrays by index), without `id`/`status` and template-only fields, with `fromTemplate` set, created through
    /// the flow repository with all of its validation. Its 400/403 pass through unchanged.
    pub async fn generate(&self, caller: &Principal, id: &str, overrides: Value) -> Result<Value> {
        require(caller, permissions::FLOWS_WRITE)?;
        let t = self.visible(caller, id).await?;
        let mut flow = Value::Object(t.body.clone());
        if let Value::Object(map) = &mut flow {
            for f in TEMPLATE_ONLY_FIELDS.iter().chain(["tenant"].iter()) {
                map.remove(*f);
            }
        }
        if !overrides.is_null() && !overrides.is_object() {
            return Err(TemplateError::Invalid(Fault::invalid(vec![
                flowmate_domain::Problem {
                    message: "The body must be a JSON object of flow fields.".into(),
                    field: Some(String::new()),
                    detail: None,
                },
            ])));
        }
        deep_merge(&mut flow, &overrides);
        if let Value::Object(map) = &mut flow {
            map.remove("id");
            map.remove("_id");
            map.remove("status");
            map.insert("fromTemplate".into(), Value::String(t.id.clone()));
            strip_node_extras(map);
        }
        self.flows
            .create(&caller.token, &flow)
            .await
            .map_err(TemplateError::Flows)
    }
}

fn strip_node_extras(flow: &mut Map<String, Value>) {
    let nodes = flow
        .get_mut("graph")
        .and_then(|g| g.get_mut("nodes"))
        .and_then(Value::as_array_mut);
    for node in nodes.into_iter().flatten() {
        if let Value::Object(n) = node {
            for f in TEMPLATE_ONLY_NODE_FIELDS {
                n.remove(*f);
            }
        }
    }
}

/// Adds the caller and the template's tenant as owners; non-admins may name no tenant owner but their own.
fn complete_owners(body: &mut Map<String, Value>, caller: &Principal) -> Result<()> {
    let tenant = body
        .get("tenant")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let owners = body.entry("owners").or_insert_with(|| Value::Array(vec![]));
    let Value::Array(list) = owners else {
        return Err(TemplateError::Internal("owners is not an array".into()));
    };
    let has = |list: &Vec<Value>, id: &str| {
        list.iter()
            .any(|o| o.get("id").and_then(Value::as_str) == Some(id))
    };
    if !caller.is_admin()
        && list.iter().any(|o| {
            o.get("type").and_then(Value::as_str) == Some("tenant")
                && o.get("id").and_then(Value::as_str) != Some(caller.tenant())
        })
    {
        return Err(TemplateError::Forbidden(
            "Templates cannot be given to another tenant",
        ));
    }
    if !has(list, caller.user_id()) {
        list.push(json!({"id": caller.user_id(), "type": "user"}));
    }
    if !has(list, &tenant) {
        list.push(json!({"id": tenant, "type": "tenant"}));
    }
    Ok(())
}
