//! Fake service clients for the gateway's own tests: every call is recorded, answers are canned. Calls a scenario
//! does not expect answer `500`, so a handler that reaches a service it should not is visible in its status.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use flowmate_api::identity::{
    CreateRole, CreateUser, LoginResponse, Role, Tenant, TokenResponse, UpdateRole, UpdateTenant, UpdateUser,
    User,
};
use flowmate_auth::{Claims, Signer, Verifier};
use flowmate_domain::Fault;
use flowmate_gateway::{
    clients::{
        ExecutionsApi, FlowsApi, IdentityApi, ItemResult, Resource, SecretsApi, StatusResult, TemplatesApi,
        UserFilter, WebhooksApi,
    },
    state::AppState,
};
use flowmate_proto::{
    executions::v1 as ex, flows::v1 as fl, secrets::v1 as se, templates::v1 as tp, webhooks::v1 as wh,
};
use serde_json::{json, Value};

/// The caller's tenant.
pub const TENANT: &str = "0192f0a4-7c1e-7d3e-9a4b-000000000001";
/// Another tenant.
pub const OTHER_TENANT: &str = "0192f0a4-7c1e-7d3e-9a4b-000000000002";
/// The user the fake identity knows.
pub const USER: &str = "0192f0a4-7c1e-7d3e-9a4b-000000000003";
/// Its role.
pub const ROLE: &str = "0192f0a4-7c1e-7d3e-9a4b-000000000004";
/// A flow id.
pub const FLOW: &str = "0192f0a4-7c1e-7d3e-9a4b-000000000005";

/// Records calls; implements every client trait.
#[derive(Default)]
pub struct Fake {
    calls: Mutex<Vec<String>>,
    /// The tenant `get_user` answers with.
    pub user_tenant: Mutex<Option<String>>,
}

impl Fake {
    fn record(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }

    /// The calls so far, as `method arg…`.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

fn unexpected() -> Fault {
    Fault::internal()
}

/// The role the fake identity knows.
pub fn role() -> Role {
    flowmate_domain::identity::Role {
        id: ROLE.into(),
        name: "USER".into(),
        permissions: vec!["tenant.profile.read".into()],
        scope: String::new(),
        created_at: "2026-12-03T00:00:00.000Z".into(),
        updated_at: "2026-12-03T00:00:00.000Z".into(),
        is_global: true,
        description: String::new(),
        tenant: None,
    }
    .into()
}

/// The user the fake identity knows, in `tenant`.
pub fn user(tenant: &str) -> User {
    flowmate_domain::identity::User {
        id: USER.into(),
        username: "jane@example.com".into(),
        firstname: "Jane".into(),
        lastname: "Doe".into(),
        status: flowmate_domain::identity::Status::Active,
        tenant: tenant.into(),
        roles: vec![flowmate_domain::identity::Role {
            id: ROLE.into(),
            name: "USER".into(),
            permissions: vec!["tenant.profile.read".into()],
            scope: String::new(),
            created_at: "2026-12-03T00:00:00.000Z".into(),
            updated_at: "2026-12-03T00:00:00.000Z".into(),
            is_global: true,
            description: String::new(),
            tenant: None,
        }],
        permissions: vec!["flows.read".into()],
        confirmed: true,
        img: None,
        created_at: "2026-12-03T00:00:00.000Z".into(),
        updated_at: "2026-12-03T00:00:00.000Z".into(),
    }
    .into()
}

fn tenant(id: &str) -> Tenant {
    flowmate_domain::identity::Tenant {
        id: id.into(),
        name: "acme".into(),
        status: flowmate_domain::identity::Status::Active,
        created_at: "2026-12-03T00:00:00.000Z".into(),
        updated_at: "2026-12-03T00:00:00.000Z".into(),
    }
    .into()
}

#[async_trait]
impl IdentityApi for Fake {
    async fn login(&self, username: String, _password: String) -> Result<LoginResponse, Fault> {
        self.record(format!("login {username}"));
        Err(unexpected())
    }
    async fn logout(&self, _token: &str) -> Result<(), Fault> {
        self.record("logout".into());
        Ok(())
    }
    async fn list_users(&self, _token: &str, filter: UserFilter) -> Result<(Vec<User>, u64), Fault> {
        self.record(format!("list_users {:?}", filter.tenant));
        Ok((vec![user(TENANT)], 1))
    }
    async fn get_user(&self, _token: &str, id: &str) -> Result<User, Fault> {
        self.record(format!("get_user {id}"));
        let tenant = self
            .user_tenant
            .lock()
            .unwrap()
            .clone()
            .unwrap_or_else(|| TENANT.into());
        Ok(user(&tenant))
    }
    async fn create_user(&self, _token: &str, input: CreateUser) -> Result<User, Fault> {
        self.record(format!("create_user {:?}", input.roles));
        Ok(user(TENANT))
    }
    async fn update_user(&self, _token: &str, id: &str, input: UpdateUser) -> Result<User, Fault> {
        self.record(format!("update_user {id} {:?}", input.roles));
        Ok(user(TENANT))
    }
    async fn delete_user(&self, _token: &str, id: &str) -> Result<(), Fault> {
        self.record(format!("delete_user {id}"));
        Ok(())
    }
    async fn list_tenants(&self, _token: &str) -> Result<Vec<Tenant>, Fault> {
        self.record("list_tenants".into());
        Ok(vec![tenant(TENANT)])
    }
    async fn create_tenant(
        &self,
        _token: &str,
        name: String,
        _status: Option<String>,
    ) -> Result<Tenant, Fault> {
        self.record(format!("create_tenant {name}"));
        Ok(tenant(TENANT))
    }
    async fn list_roles(&self, _token: &str) -> Result<Vec<Role>, Fault> {
        self.record("list_roles".into());
        Ok(vec![role()])
    }
    async fn create_role(&self, _token: &str, input: CreateRole) -> Result<Role, Fault> {
        self.record(format!("create_role {:?}", input.name));
        Ok(role())
    }
    async fn get_tenant(&self, _token: &str, id: &str) -> Result<Tenant, Fault> {
        self.record(format!("get_tenant {id}"));
        Ok(tenant(id))
    }
    async fn update_tenant(&self, _token: &str, id: &str, input: UpdateTenant) -> Result<Tenant, Fault> {
        self.record(format!("update_tenant {id} {:?}", input.name));
        Ok(tenant(id))
    }
    async fn delete_tenant(&self, _token: &str, id: &str) -> Result<(), Fault> {
        self.record(format!("delete_tenant {id}"));
        Ok(())
    }
    async fn get_role(&self, _token: &str, id: &str) -> Result<Role, Fault> {
        self.record(format!("get_role {id}"));
        Ok(role())
    }
    async fn update_role(&self, _token: &str, id: &str, input: UpdateRole) -> Result<Role, Fault> {
        self.record(format!("update_role {id} {:?}", input.permissions));
        Ok(role())
    }
    async fn delete_role(&self, _token: &str, id: &str) -> Result<(), Fault> {
        self.record(format!("delete_role {id}"));
        Ok(())
    }
    async fn introspect(&self, _token: &str, subject: String) -> Result<User, Fault> {
        self.record(format!("introspect {subject}"));
        Ok(user(TENANT))
    }
    async fn create_token(
        &self,
        _token: &str,
        account: String,
        expires_in: i64,
    ) -> Result<TokenResponse, Fault> {
        self.record(format!("create_token {account} {expires_in}"));
        Ok(TokenResponse {
            token: "t".into(),
            id: FLOW.into(),
        })
    }
    async fn revoke_token(&self, _token: &str, id: &str) -> Result<(), Fault> {
        self.record(format!("revoke_token {id}"));
        Ok(())
    }
}

#[async_trait]
impl FlowsApi for Fake {
    async fn list(&self, _token: &str, query: fl::ListFlowsRequest) -> Result<(Vec<Value>, u64), Fault> {
        self.record(format!("flows.list {:?}", query.r#type));
        Ok((vec![], 0))
    }
    async fn get(&self, _token: &str, _id: &str) -> Result<Value, Fault> {
        Err(unexpected())
    }
    async fn get_json(&self, _token: &str, id: &str) -> Result<String, Fault> {
        self.record(format!("flows.get_json {id}"));
        Ok(json!({"id": id}).to_string())
    }
    async fn create(&self, _token: &str, body: &Value) -> Result<Vec<Result<Value, Fault>>, Fault> {
        self.record(format!("flows.create {body}"));
        Ok(vec![Ok(json!({"id": FLOW}))])
    }
    async fn update(&self, _token: &str, _id: &str, _patch: &Value) -> Result<Value, Fault> {
        Err(unexpected())
    }
    async fn bulk_update(&self, _token: &str, _body: &Value) -> Result<Vec<ItemResult>, Fault> {
        Err(unexpected())
    }
    async fn delete(&self, _token: &str, _id: &str) -> Result<(), Fault> {
        Err(unexpected())
    }
    async fn start(&self, _token: &str, ids: Vec<String>) -> Result<Vec<StatusResult>, Fault> {
        self.record(format!("flows.start {ids:?}"));
        Ok(ids
            .into_iter()
            .map(|id| (id, Ok("starting".to_owned())))
            .collect())
    }
    async fn stop(&self, _token: &str, ids: Vec<String>) -> Result<Vec<StatusResult>, Fault> {
        self.record(format!("flows.stop {ids:?}"));
        Ok(ids
            .into_iter()
            .map(|id| (id, Ok("stopping".to_owned())))
            .collect())
    }
}

#[async_trait]
impl TemplatesApi for Fake {
    async fn list(&self, _token: &str, _query: tp::ListTemplatesRequest) -> Result<(Vec<Value>, u64), Fault> {
        self.record("templates.list".into());
        Ok((vec![], 0))
    }
    async fn get(&self, _token: &str, _id: &str) -> Result<Value, Fault> {
        Err(unexpected())
    }
    async fn create(&self, _token: &str, _body: &Value) -> Result<Value, Fault> {
        Err(unexpected())
    }
    async fn update(&self, _token: &str, _id: &str, _patch: &Value) -> Result<Value, Fault> {
        Err(unexpected())
    }
    async fn delete(&self, _token: &str, _id: &str) -> Result<(), Fault> {
        Err(unexpected())
    }
    async fn versions(&self, _token: &str, _id: &str) -> Result<Vec<Value>, Fault> {
        Err(unexpected())
    }
    async fn generate(&self, _token: &str, _id: &str, _overrides: &Value) -> Result<Value, Fault> {
        Err(unexpected())
    }
}

#[async_trait]
impl ExecutionsApi for Fake {
    async fn list(
        &self,
        _token: &str,
        _query: ex::ListExecutionsRequest,
    ) -> Result<(Vec<Value>, u64), Fault> {
        self.record("executions.list".into());
        Ok((vec![], 0))
    }
    async fn get(&self, _token: &str, _id: &str) -> Result<Value, Fault> {
        Err(unexpected())
    }
    async fn count(&self, _token: &str, _query: ex::CountExecutionsRequest) -> Result<Value, Fault> {
        Err(unexpected())
    }
    async fn retry(&self, _token: &str, _id: &str, _from: &str) -> Result<Value, Fault> {
        Err(unexpected())
    }
    async fn cancel(&self, _token: &str, _id: &str) -> Result<Value, Fault> {
        Err(unexpected())
    }
    async fn run(&self, _token: &str, _flow_id: &str, _body: &Value) -> Result<Value, Fault> {
        Err(unexpected())
    }
    async fn components(&self, _token: &str) -> Result<Value, Fault> {
        self.record("executions.components".into());
        Ok(
            json!([{"componentId": "webhook", "function": "receive"}, {"componentId": "log", "function": "write"}]),
        )
    }
    async fn resume(&self, _id: &str, _node_id: &str, _token: &str, _body: &Value) -> Result<(), Fault> {
        Err(unexpected())
    }
    async fn quota(&self, _token: &str, _tenant: &str) -> Result<flowmate_domain::quota::QuotaState, Fault> {
        Err(unexpected())
    }
    async fn set_quota(
        &self,
        _token: &str,
        _tenant: &str,
        _quota: &flowmate_domain::quota::Quota,
    ) -> Result<flowmate_domain::quota::QuotaState, Fault> {
        Err(unexpected())
    }
}

#[async_trait]
impl WebhooksApi for Fake {
    async fn deliver(&self, _request: wh::DeliverRequest) -> Result<wh::DeliverResponse, Fault> {
        Err(unexpected())
    }
}

#[async_trait]
impl SecretsApi for Fake {
    async fn list(&self, _t: &str, _w: Resource, _q: se::ListRequest) -> Result<(Vec<Value>, u64), Fault> {
        Err(unexpected())
    }
    async fn get(&self, _t: &str, _w: Resource, _id: &str) -> Result<Value, Fault> {
        Err(unexpected())
    }
    async fn create(&self, _t: &str, _w: Resource, _body: &Value) -> Result<Value, Fault> {
        Err(unexpected())
    }
    async fn update(&self, _t: &str, _w: Resource, _id: &str, _patch: &Value) -> Result<Value, Fault> {
        Err(unexpected())
    }
    async fn delete(&self, _t: &str, _w: Resource, _id: &str, _force: bool) -> Result<(), Fault> {
        Err(unexpected())
    }
    async fn start_consent(
        &self,
        _t: &str,
        _client: &str,
        _name: &str,
        _scope: &str,
    ) -> Result<String, Fault> {
        Err(unexpected())
    }
    async fn complete_consent(&self, _state: &str, _code: &str, _error: &str) -> Result<Value, Fault> {
        Err(unexpected())
    }
}

/// A gateway state over one [`Fake`], and a signer whose tokens its verifier accepts.
pub fn state() -> (AppState, Arc<Fake>, Signer) {
    let fake = Arc::new(Fake::default());
    let (signer, _) = Signer::generate("test").unwrap();
    let verifier = Arc::new(Verifier::new());
    verifier.set_keys(&[signer.public_key()]);
    let state = AppState {
        identity: fake.clone(),
        flows: fake.clone(),
        templates: fake.clone(),
        executions: fake.clone(),
        webhooks: fake.clone(),
        secrets: fake.clone(),
        verifier,
    };
    (state, fake, signer)
}

/// A token holding `permissions`.
pub fn token(signer: &Signer, permissions: &[&str]) -> (String, Claims) {
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        sub: USER.into(),
        tenant: TENANT.into(),
        username: "jane@example.com".into(),
        permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
        roles: vec![],
        jti: uuid::Uuid::now_v7().to_string(),
        iat: now,
        iat_ms: Some(now * 1000),
        exp: now + 600,
    };
    (signer.sign(&claims).unwrap(), claims)
}
