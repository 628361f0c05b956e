//! Flow rules: scope, permissions, validation, owners, versions, and the shallow-merge update of API.md §3.
//! Start, stop and the execution service's confirmations live in `lifecycle.rs`.

use flowmate_domain::permissions;
use std::sync::Arc;

use flowmate_auth::Principal;
use flowmate_domain::{
    event::{
        payload::{FlowChanged, FlowDeleted, Payload},
        types,
    },
    flow::{validate_body, Flow, FlowBody, FlowStatus, Owner, OwnerKind, SERVER_FIELDS},
    time, Envelope, Fault, FlowId, Id,
};
use serde_json::Value;

use crate::{
    error::{FlowError, Result},
    model::{FlowStore, ListQuery, Scope, TenantScope},
};

/// The event source name of this service.
pub const SOURCE: &str = "flowmate/flow-repository";

/// How often an update is retried when another writer changed the flow in between.
const UPDATE_ATTEMPTS: usize = 3;

/// Business rules of the flow context, over a [`FlowStore`].
pub struct FlowCore {
    pub(crate) store: Arc<dyn FlowStore>,
    secrets: Option<Arc<flowmate_auth::secrets::SecretBox>>,
}

/// Fails with `MISSING_PERMISSION` unless the caller holds `permission`.
pub(crate) fn require(caller: &Principal, permission: &str) -> Result<()> {
    if caller.can(permission) {
        Ok(())
    } else {
        Err(FlowError::MissingPermission)
    }
}

/// What a caller sees: everything for global admins, else its tenant's flows owned by it or its tenant.
pub(crate) fn scope_of(caller: &Principal) -> Scope {
    (!caller.is_admin()).then(|| TenantScope {
        tenant: caller.tenant().to_owned(),
        owners: vec![caller.user_id().to_owned(), caller.tenant().to_owned()],
    })
}

fn in_scope(flow: &Flow, scope: &Scope) -> bool {
    match scope {
        None => true,
        Some(s) => {
            flow.body.tenant == s.tenant
                && flow.is_owned_by_any(&s.owners.iter().map(String::as_str).collect::<Vec<_>>())
        }
    }
}

/// The event data announcing a change of `flow` by `caller`.
fn change_event(kind: &str, flow: &Flow, caller: &Principal) -> Result<Envelope> {
    let data = FlowChanged {
        flow_id: flow.id.to_string(),
        tenant: flow.body.tenant.to_string(),
        user: caller.user_id().to_owned(),
        flow: flow.clone(),
    };
    let data = serde_json::to_value(&data).map_err(|e| FlowError::Internal(e.to_string()))?;
    Ok(Envelope::new(kind, SOURCE, data).with_tenant(&flow.body.tenant))
}

impl FlowCore {
    /// A core over `store`.
    pub fn new(store: Arc<dyn FlowStore>) -> Self {
        FlowCore { store, secrets: None }
    }

    /// Seals webhook HMAC secrets with `secrets` (without it, flows cannot store one).
    pub fn with_secrets(mut self, secrets: Option<Arc<flowmate_auth::secrets::SecretBox>>) -> Self {
        self.secrets = secrets;
        self
    }

    /// A page of flows in the caller's scope (`filter[user]` narrows it, never widens it).
    pub async fn list(&self, caller: &Principal, query: ListQuery) -> Result<(Vec<Flow>, u64)> {
        require(caller, permissions::FLOWS_READ)?;
        self.store.list(&scope_of(caller), &query).await
    }

    /// One flow in the caller's scope.
    pub async fn get(&self, caller: &Principal, id: &str) -> Result<Flow> {
        require(caller, permissions::FLOWS_READ)?;
        self.visible(caller, id, FlowError::NotFound).await
    }

    /// A flow the caller may see, else `missing`.
    pub(crate) async fn visible(&self, caller: &Principal, id: &str, missing: FlowError) -> Result<Flow> {
        Id::parse(id).map_err(|_| FlowError::InvalidId)?;
        match self.store.get(id).await? {
            Some(flow) if in_scope(&flow, &scope_of(caller)) => Ok(flow),
            _ => Err(missing),
        }
    }

    /// Creates one flow (`body` an object) or several (`body` an array; needs `flows.bulk`). For arrays every item
    /// gets its own result; for a single flow its error is the call's error.
    pub async fn create(&self, caller: &Principal, body: Value) -> Result<Vec<Result<Flow, Fault>>> {
        require(caller, permissions::FLOWS_WRITE)?;
        match body {
            Value::Array(items) => {
                require(caller, permissions::FLOWS_BULK)?;
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    out.push(self.create_one(caller, item).await.map_err(Fault::from));
                }
                self.store.after_bulk_create().await;
                Ok(out)
            }
            single => Ok(vec![Ok(self.create_one(caller, single).await?)]),
        }
    }

    async fn create_one(&self, caller: &Principal, body: Value) -> Result<Flow> {
        let mut body = validate_body(&body).map_err(FlowError::Invalid)?;
        crate::webhooks::prepare(&mut body, None, self.secrets.as_deref()).map_err(FlowError::Invalid)?;
        if !caller.is_admin() || body.tenant.is_empty() {
            body.tenant = caller.tenant().to_owned();
        }
        complete_owners(&mut body, caller, None)?;
        let now = time::now_string();
        let flow = Flow {
            id: FlowId::new(),
            body,
            status: FlowStatus::Inactive,
            status_reason: None,
            version: 1,
            created_at: now.clone(),
            updated_at: now,
        };
        let event = change_event(types::FLOW_CREATED, &flow, caller)?;
        self.store.insert(&flow, &[event]).await?;
        Ok(flow)
    }

    /// Shallow-merges `patch` into an inactive flow, re-validates everything and bumps the version.
    pub async fn update(&self, caller: &Principal, id: &str, patch: Value) -> Result<Flow> {
        require(caller, permissions::FLOWS_WRITE)?;
        self.update_one(caller, id, patch).await
    }

    async fn update_one(&self, caller: &Principal, id: &str, patch: Value) -> Result<Flow> {
        let Value::Object(patch) = patch else {
            return Err(FlowError::Invalid(Fault::invalid(vec![
                flowmate_domain::Problem {
                    message: "A flow update must be a JSON object.".into(),
                    field: Some(String::new()),
                    detail: None,
                },
            ])));
        };
        for _ in 0..UPDATE_ATTEMPTS {
            let current = self.visible(caller, id, FlowError::NotFound).await?;
            if current.status != FlowStatus::Inactive {
                return Err(FlowError::NotInactive(current.status));
            }
            let mut merged = match serde_json::to_value(&current.body) {
                Ok(Value::Object(m)) => m,
                _ => return Err(FlowError::Internal("flow body is not an object".into())),
            };
            for (key, value) in &patch {
                if key != "status" && SERVER_FIELDS.contains(&key.as_str()) {
                    continue;
                }
                merged.insert(key.clone(), value.clone());
            }
            let mut body = validate_body(&Value::Object(merged)).map_err(FlowError::Invalid)?;
            crate::webhooks::prepare(&mut body, Some(&current.body), self.secrets.as_deref())
                .map_err(FlowError::Invalid)?;
            if !caller.is_admin() || body.tenant.is_empty() {
                body.tenant = current.body.tenant.clone();
            }
            complete_owners(&mut body, caller, Some(&current.body.tenant))?;
            let flow = Flow {
                body,
                version: current.version + 1,
                updated_at: time::now_string(),
                status_reason: None,
                ..current.clone()
            };
            let event = change_event(types::FLOW_MODIFIED, &flow, caller)?;
            if self.store.update(&flow, &current, &[event]).await? {
                return Ok(flow);
            }
        }
        Err(FlowError::Conflict)
    }

    /// Applies several partial updates; each item must carry its `id`. One result per item, in order; a failing
    /// item is skipped and reported with its `flowId`.
    pub async fn bulk_update(
        &self,
        caller: &Principal,
        body: Value,
    ) -> Result<Vec<(Option<String>, Result<Flow, Fault>)>> {
        require(caller, permissions::FLOWS_WRITE)?;
        require(caller, permissions::FLOWS_BULK)?;
        let items = match body {
            Value::Array(items) => items,
            single => vec![single],
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let id = item.get("id").and_then(Value::as_str).map(str::to_owned);
            let result = match &id {
                Some(id) => self.update_one(caller, id, item).await.map_err(Fault::from),
                None => Err(Fault::from(FlowError::InvalidId)),
            };
            out.push((id, result));
        }
        Ok(out)
    }

    /// Deletes an inactive flow.
    pub async fn delete(&self, caller: &Principal, id: &str) -> Result<()> {
        require(caller, permissions::FLOWS_WRITE)?;
        let flow = self.visible(caller, id, FlowError::NotFound).await?;
        if flow.status != FlowStatus::Inactive {
            return Err(FlowError::NotInactive(flow.status));
        }
        let data = FlowDeleted {
            flow_id: flow.id.to_string(),
            tenant: flow.body.tenant.to_string(),
            user: caller.user_id().to_owned(),
        };
        let event = Envelope::new(types::FLOW_DELETED, SOURCE, data.to_data()).with_tenant(&flow.body.tenant);
        if self.store.delete(id, &[event]).await? {
            return Ok(());
        }
        match self.store.get(id).await? {
            Some(now) => Err(FlowError::NotInactive(now.status)),
            None => Err(FlowError::NotFound),
        }
    }
}

/// Adds the caller and the flow's tenant to the owners when missing; when an admin moves a flow to another
/// tenant (`previous_tenant` differs), the old tenant's ownership goes with it. Non-admins may name no tenant owner
/// but their own.
fn complete_owners(body: &mut FlowBody, caller: &Principal, previous_tenant: Option<&str>) -> Result<()> {
    if !caller.is_admin()
        && body
            .owners
            .iter()
            .any(|o| o.kind == OwnerKind::Tenant && o.id != caller.tenant())
    {
        return Err(FlowError::Forbidden("Flows cannot be given to another tenant"));
    }
    if let Some(old) = previous_tenant.filter(|old| *old != body.tenant) {
        body.owners
            .retain(|o| !(o.kind == OwnerKind::Tenant && o.id == old));
    }
    if !body.owners.iter().any(|o| o.id == caller.user_id()) {
        body.owners.push(Owner {
            id: caller.user_id().to_owned(),
            kind: OwnerKind::User,
        });
    }
    let moved = previous_tenant.is_some_and(|old| old != body.tenant);
    if (previous_tenant.is_none() || moved) && !body.owners.iter().any(|o| o.id == body.tenant) {
        body.owners.push(Owner {
            id: body.tenant.clone(),
            kind: OwnerKind::Tenant,
        });
    }
    Ok(())
}
