//! The remaining request and response bodies of the API as schema types: identity envelopes (`?meta=true`),
//! webhook answers, execution side answers, the component catalogue, secrets and OAuth2 apps.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::{
    executions::Execution,
    flows::Owner,
    identity::{ListedUser, Role, Tenant, User},
};

crate::envelope!(
    /// `{data: User, meta: {}}` (`?meta=true`).
    UserEnvelope, User
);
crate::envelope!(
    /// `{data: Tenant, meta: {}}` (`?meta=true`).
    TenantEnvelope, Tenant
);
crate::envelope!(
    /// `{data: Role, meta: {}}` (`?meta=true`).
    RoleEnvelope, Role
);
crate::counted!(
    /// `{data: [ListedUser], meta: {total}}` (`?meta=true`).
    ListedUserList, ListedUser
);
crate::counted!(
    /// `{data: [Tenant], meta: {total}}` (`?meta=true`).
    TenantList, Tenant
);
crate::counted!(
    /// `{data: [Role], meta: {total}}` (`?meta=true`).
    RoleList, Role
);
crate::bare_or_wrapped!(
    /// A user, bare or (`?meta=true`) wrapped.
    UserAnswer, User, UserEnvelope
);
crate::bare_or_wrapped!(
    /// A tenant, bare or (`?meta=true`) wrapped.
    TenantAnswer, Tenant, TenantEnvelope
);
crate::bare_or_wrapped!(
    /// A role, bare or (`?meta=true`) wrapped.
    RoleAnswer, Role, RoleEnvelope
);
crate::bare_or_wrapped!(
    /// The users, a bare array or (`?meta=true`) wrapped with the total.
    ListedUsersAnswer, Vec<ListedUser>, ListedUserList
);
crate::bare_or_wrapped!(
    /// The tenants, a bare array or (`?meta=true`) wrapped with the total.
    TenantsAnswer, Vec<Tenant>, TenantList
);
crate::bare_or_wrapped!(
    /// The roles, a bare array or (`?meta=true`) wrapped with the total.
    RolesAnswer, Vec<Role>, RoleList
);

/// `{}`: what deleting a user, tenant or role answers (OIH's `200`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Empty {}

/// `POST /logout` answer (OIH's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoggedOut {
    /// Always true.
    pub logged_out: bool,
}

/// `DELETE /api/tokens/{id}` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenRevoked {
    /// The token id.
    pub id: String,
    /// Always true.
    pub revoked: bool,
}

/// What a webhook answers once the trigger is durably queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookReceipt {
    /// The request id: the execution's id.
    pub request_id: String,
    /// `thank you`.
    pub message: String,
}

/// A sync webhook still running past the sync timeout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookRunning {
    /// The request id: the execution's id.
    pub request_id: String,
    /// `running`.
    pub status: String,
    /// `/executions/<id>`.
    pub status_url: String,
}

/// `{data: WebhookReceipt}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WebhookAccepted {
    /// The receipt.
    pub data: WebhookReceipt,
}

/// `{data: WebhookRunning}` (`202`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WebhookPending {
    /// Where to follow it.
    pub data: WebhookRunning,
}

/// `POST /executions/{id}/retry` body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RetryRequest {
    /// `start` (default): the same trigger message again; `failed`: only the failed steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<RetryFrom>,
}

/// Where a retry starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RetryFrom {
    /// From the trigger.
    Start,
    /// From the failed steps.
    Failed,
}

/// A resumed `wait.event` step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Resumed {
    /// The execution.
    pub execution_id: String,
    /// The wait node.
    pub node_id: String,
    /// `resumed`.
    pub status: String,
}

crate::envelope!(
    /// `{data: {executionId, nodeId, status}, meta: {}}`.
    ResumedEnvelope, Resumed
);
crate::envelope!(
    /// `{data: Execution, meta: {}}` (a new or changed execution).
    QueuedExecution, Execution
);

/// One group of `GET /icenter/executions`: the `groupby` key (`user`, `flow` or `component`) with its id, and
/// the count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExecutionCount {
    /// Executions in the group.
    pub count: u64,
    /// `user`, `flow` or `component`: the group's id.
    #[serde(flatten)]
    pub key: BTreeMap<String, Value>,
}

/// `GET /icenter/executions` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ExecutionCounts {
    /// One entry per group.
    pub data: Vec<ExecutionCount>,
}

/// One component function of the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Component {
    /// The component id (OIH's web UI keys items by it).
    pub id: String,
    /// The component id.
    pub component_id: String,
    /// The function.
    pub function: String,
    /// Any other field (`name`, `description`, `trigger`, `fields`, …).
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

crate::page!(
    /// `{data: [Component], meta: {…}}` (one page with everything).
    ComponentPage, Component
);

/// The secret types (API.md §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SecretType {
    /// `{username, passphrase}`.
    Simple,
    /// `{key, headerName?}`.
    ApiKey,
    /// `{payload}`.
    Mixed,
    /// `{clientId, clientSecret, tokenUrl, scope?}`.
    #[serde(rename = "OA2_CLIENT_CREDENTIALS")]
    Oa2ClientCredentials,
    /// `{authClientId, accessToken, refreshToken?, expires?, scope?}`.
    #[serde(rename = "OA2_AUTHORIZATION_CODE")]
    Oa2AuthorizationCode,
}

/// A secret (every sensitive value shows as `***`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    /// Secret id.
    pub id: String,
    /// The same id under OIH's name.
    #[serde(rename = "_id")]
    pub oid: String,
    /// Name.
    pub name: String,
    /// Type.
    #[serde(rename = "type")]
    pub kind: SecretType,
    /// The value's fields, sensitive ones masked.
    pub value: BTreeMap<String, Value>,
    /// The user and tenant that own it.
    pub owners: Vec<Owner>,
    /// Tenant id.
    pub tenant: String,
    /// RFC 3339.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// RFC 3339.
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// The last failed token refresh (`{message, at}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_error: Option<Value>,
}

crate::envelope!(
    /// `{data: Secret, meta: {}}`.
    SecretEnvelope, Secret
);
crate::page!(
    /// `{data: [Secret], meta: {…}}`.
    SecretPage, Secret
);

/// An OAuth2 app (`clientSecret` shows as `***`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthClient {
    /// Id.
    pub id: String,
    /// The same id under OIH's name.
    #[serde(rename = "_id")]
    pub oid: String,
    /// Always `***`.
    pub client_secret: String,
    /// The user and tenant that own it.
    pub owners: Vec<Owner>,
    /// Tenant id.
    pub tenant: String,
    /// RFC 3339.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// RFC 3339.
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// `name`, `type`, `clientId`, `endpoints {auth, token}`, `redirectUri`, `predefinedScope`.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

crate::envelope!(
    /// `{data: AuthClient, meta: {}}`.
    AuthClientEnvelope, AuthClient
);
crate::page!(
    /// `{data: [AuthClient], meta: {…}}`.
    AuthClientPage, AuthClient
);

/// `{data: {…}}`: how secrets and OAuth2 apps are sent (OIH's shape). For secrets `name`, `type` and `value` are
/// required on create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DataBody {
    /// The fields.
    pub data: BTreeMap<String, Value>,
}

/// `GET /auth-clients/{id}/start` body (beside `Location`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsentRedirect {
    /// The provider's consent page.
    pub redirect_url: String,
}

crate::envelope!(
    /// `{data: {redirectUrl}, meta: {}}`.
    ConsentRedirectEnvelope, ConsentRedirect
);
