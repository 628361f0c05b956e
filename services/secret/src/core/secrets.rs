//! Secret rules (API.md §9): permissions, tenant scope (another tenant's secret is 404, as for flows), per-type
//! validation with every problem reported, write-only values (`"***"` keeps a stored field), and 409 on deleting a
//! secret that started flows use unless forced.

use std::{collections::HashMap, sync::Arc};

use flowmate_auth::{secrets::SecretBox, Principal};
use flowmate_domain::{error::Problems, event::types, permissions, time, Envelope, Fault, Id, Problem};
use serde_json::{Map, Value};

use crate::{
    error::{Result, SecretError},
    model::{ListQuery, RefreshState, SecretRecord, SecretStore, SecretType},
    oauth::TokenClient,
    values::{self, Plain},
};

/// The event source name of this service.
pub const SOURCE: &str = "flowmate/secret";

/// The longest secret or auth client name.
const MAX_NAME: usize = 200;
const UPDATE_ATTEMPTS: usize = 3;

/// Business rules of the secret context.
pub struct SecretCore {
    pub(super) store: Arc<dyn SecretStore>,
    pub(super) keys: Arc<SecretBox>,
    pub(super) tokens: TokenClient,
    /// Names this replica as a refresh lease holder.
    pub(super) replica: String,
    /// One refresh at a time per secret within this replica (the lease does it across replicas).
    pub(super) local: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

pub(super) fn require(caller: &Principal, permission: &str) -> Result<()> {
    if caller.can(permission) {
        Ok(())
    } else {
        Err(SecretError::MissingPermission)
    }
}

/// The tenant a caller's lists are limited to (`None`: a global admin sees every tenant).
pub(super) fn tenant_scope(caller: &Principal) -> Option<&str> {
    (!caller.is_admin()).then(|| caller.tenant())
}

/// The document of a write: `{"data": {...}}` (OIH's shape) or the object itself, and the pointer prefix of its
/// fields in the body as sent.
pub(super) fn document(body: &Value) -> Result<(&Map<String, Value>, &'static str)> {
    match body {
        Value::Object(outer) => match outer.get("data") {
            Some(Value::Object(inner)) => Ok((inner, "/data")),
            _ => Ok((outer, "")),
        },
        _ => Err(SecretError::Invalid(Fault::invalid(vec![Problem {
            message: "The body must be a JSON object: {\"data\": {…}}.".into(),
            field: Some(String::new()),
            detail: None,
        }]))),
    }
}

/// A required, bounded name.
pub(super) fn name_of(doc: &Map<String, Value>, at: &str, what: &str, p: &mut Problems) -> String {
    match doc.get("name") {
        Some(Value::String(n)) if !n.trim().is_empty() && n.chars().count() <= MAX_NAME => {
            n.trim().to_owned()
        }
        Some(Value::String(n)) if !n.trim().is_empty() => {
            p.add(
                &format!("{at}/name"),
                format!("name must be at most {MAX_NAME} characters."),
            );
            String::new()
        }
        _ => {
            p.add(&format!("{at}/name"), format!("{what} require a name."));
            String::new()
        }
    }
}

fn kind_of(doc: &Map<String, Value>, at: &str, p: &mut Problems) -> Option<SecretType> {
    match doc.get("type") {
        Some(Value::String(t)) => SecretType::parse(t).or_else(|| {
            let all: Vec<&str> = SecretType::ALL.iter().map(|t| t.as_str()).collect();
            p.add(
                &format!("{at}/type"),
                format!("Unknown secret type \"{t}\"; one of {}.", all.join(", ")),
            );
            None
        }),
        _ => {
            p.add(&format!("{at}/type"), "Secrets require a type.");
            None
        }
    }
}

fn secret_event(kind: &str, s: &SecretRecord, user: &str) -> Envelope {
    Envelope::new(kind, SOURCE, s.event_data(user)).with_tenant(&s.tenant)
}

impl SecretCore {
    /// A core over `store`, sealing with `keys`, calling token endpoints with `tokens`.
    pub fn new(store: Arc<dyn SecretStore>, keys: Arc<SecretBox>, tokens: TokenClient) -> Self {
        SecretCore {
            store,
            keys,
            tokens,
            replica: uuid::Uuid::new_v4().simple().to_string(),
            local: std::sync::Mutex::new(HashMap::new()),
        }
    }

    pub(super) fn seal(&self, plain: &Plain) -> Result<String> {
        Ok(self.keys.seal(&Value::Object(plain.0.clone()).to_string())?)
    }

    pub(super) fn open(&self, s: &SecretRecord) -> Result<Plain> {
        let text = self.keys.open(&s.sealed)?;
        match serde_json::from_str(&text) {
            Ok(Value::Object(map)) => Ok(Plain(map)),
            _ => Err(SecretError::Internal(format!("secret {} holds no object", s.id))),
        }
    }

    /// A page of secrets in the caller's scope.
    pub async fn list(&self, caller: &Principal, query: ListQuery) -> Result<(Vec<SecretRecord>, u64)> {
        require(caller, permissions::SECRETS_READ)?;
        self.store.list_secrets(tenant_scope(caller), &query).await
    }

    /// One secret in the caller's scope.
    pub async fn get(&self, caller: &Principal, id: &str) -> Result<SecretRecord> {
        require(caller, permissions::SECRETS_READ)?;
        self.visible(caller, id).await
    }

    pub(super) async fn visible(&self, caller: &Principal, id: &str) -> Result<SecretRecord> {
        Id::parse(id).map_err(|_| SecretError::InvalidId)?;
        let s = self
            .store
            .get_secret(id)
            .await?
            .ok_or(SecretError::SecretNotFound)?;
        if caller.is_admin() || s.tenant == caller.tenant() {
            Ok(s)
        } else {
            Err(SecretError::SecretNotFound)
        }
    }

    /// Whether `id` names an auth client of `tenant`.
    async fn auth_client_in(&self, id: &str, tenant: &str) -> Result<bool> {
        if Id::parse(id).is_err() {
            return Ok(false);
        }
        Ok(self
            .store
            .get_auth_client(id)
            .await?
            .is_some_and(|c| c.tenant == tenant))
    }

    async fn check_auth_client(
        &self,
        kind: SecretType,
        plain: &Plain,
        tenant: &str,
        at: &str,
        p: &mut Problems,
    ) -> Result<()> {
        if kind != SecretType::Oa2AuthorizationCode {
            return Ok(());
        }
        if let Some(id) = plain.text("authClientId") {
            if !self.auth_client_in(id, tenant).await? {
                p.add(
                    &format!("{at}/value/authClientId"),
                    "No auth client found with this id in the tenant.",
                );
            }
        }
        Ok(())
    }

    /// Creates a secret in the caller's tenant (a global admin may name another with `tenant`).
    pub async fn create(&self, caller: &Principal, body: Value) -> Result<SecretRecord> {
        require(caller, permissions::SECRETS_WRITE)?;
        let (doc, at) = document(&body)?;
        let mut p = Problems::default();
        let name = name_of(doc, at, "Secrets", &mut p);
        let kind = kind_of(doc, at, &mut p);
        let value = doc.get("value").cloned().unwrap_or(Value::Null);
        let tenant = match doc.get("tenant").and_then(Value::as_str) {
            Some(t) if caller.is_admin() && !t.is_empty() => t.to_owned(),
            _ => caller.tenant().to_owned(),
        };
        let plain = match kind {
            Some(kind) => {
                let plain = values::create(kind, &value, &format!("{at}/value"), &mut p);
                self.check_auth_client(kind, &plain, &tenant, at, &mut p).await?;
                Some((kind, plain))
            }
            None => None,
        };
        p.finish().map_err(SecretError::Invalid)?;
        let Some((kind, plain)) = plain else {
            return Err(SecretError::Internal("validated secret without a type".into()));
        };
        let s = self.record(&tenant, caller.user_id(), name, kind, &plain)?;
        self.store
            .insert_secret(&s, &[secret_event(types::SECRET_CREATED, &s, caller.user_id())])
            .await?;
        tracing::info!(secret_id = %s.id, kind = kind.as_str(), "secret created");
        Ok(s)
    }

    /// A new secret's record.
    pub(super) fn record(
        &self,
        tenant: &str,
        owner: &str,
        name: String,
        kind: SecretType,
        plain: &Plain,
    ) -> Result<SecretRecord> {
        let now = time::now_string();
        Ok(SecretRecord {
            id: Id::new().into_string(),
            tenant: tenant.to_owned(),
            owner_id: owner.to_owned(),
            name,
            kind,
            display: plain.display(kind),
            sealed: self.seal(plain)?,
            auth_client_id: plain.text("authClientId").map(str::to_owned),
            version: 1,
            refresh: RefreshState::default(),
            created_at: now.clone(),
            updated_at: now,
        })
    }

    /// Changes a secret's name and value fields (`"***"` keeps a field, `null` removes an optional one); its
    /// type cannot change.
    pub async fn update(&self, caller: &Principal, id: &str, body: Value) -> Result<SecretRecord> {
        require(caller, permissions::SECRETS_WRITE)?;
        let (doc, at) = document(&body)?;
        for _ in 0..UPDATE_ATTEMPTS {
            let current = self.visible(caller, id).await?;
            let mut p = Problems::default();
            let name = match doc.get("name") {
                None => current.name.clone(),
                Some(_) => name_of(doc, at, "Secrets", &mut p),
            };
            if let Some(t) = doc.get("type") {
                if t.as_str() != Some(current.kind.as_str()) {
                    p.add(
                        &format!("{at}/type"),
                        "A secret's type cannot be changed; create a new secret.",
                    );
                }
            }
            let stored = self.open(&current)?;
            let plain = match doc.get("value") {
                None => stored,
                Some(v) => {
                    let merged = values::merge(current.kind, &stored, v, &format!("{at}/value"), &mut p);
                    self.check_auth_client(current.kind, &merged, &current.tenant, at, &mut p)
                        .await?;
                    merged
                }
            };
            p.finish().map_err(SecretError::Invalid)?;
            let s = SecretRecord {
                name,
                display: plain.display(current.kind),
                sealed: self.seal(&plain)?,
                auth_client_id: plain.text("authClientId").map(str::to_owned),
                version: current.version + 1,
                refresh: RefreshState::default(),
                updated_at: time::now_string(),
                ..current.clone()
            };
            let event = secret_event(types::SECRET_MODIFIED, &s, caller.user_id());
            if self.store.update_secret(&s, current.version, &[event]).await? {
                return Ok(s);
            }
        }
        Err(SecretError::Conflict)
    }

    /// Deletes a secret; `409` while started flows use it, unless `force`.
    pub async fn delete(&self, caller: &Principal, id: &str, force: bool) -> Result<()> {
        require(caller, permissions::SECRETS_WRITE)?;
        let s = self.visible(caller, id).await?;
        let users = self.store.secret_users(id).await?;
        if !users.is_empty() && !force {
            return Err(SecretError::InUse {
                flows: users.join(", "),
            });
        }
        let data = flowmate_domain::event::payload::Payload::to_data(
            &flowmate_domain::event::payload::SecretChanged {
                secret_id: s.id.clone(),
                tenant: s.tenant.clone(),
                user: caller.user_id().to_owned(),
                name: None,
                kind: None,
            },
        );
        let event = Envelope::new(types::SECRET_DELETED, SOURCE, data).with_tenant(&s.tenant);
        if self.store.delete_secret(id, &[event]).await? {
            tracing::info!(secret_id = %s.id, forced = force && !users.is_empty(), "secret deleted");
            Ok(())
        } else {
            Err(SecretError::SecretNotFound)
        }
    }
}
