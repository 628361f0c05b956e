//! Clients of the services behind the gateway.

mod call;
mod executions;
mod flows;
mod identity;
mod secrets;
mod templates;
mod webhooks;

pub use executions::{ExecutionsApi, GrpcExecutions};
pub use flows::{FlowsApi, GrpcFlows, ItemResult, StatusResult};
pub use identity::{GrpcIdentity, IdentityApi, UserFilter};
pub use secrets::{GrpcSecrets, Resource, SecretsApi};
pub use templates::{GrpcTemplates, TemplatesApi};
pub use webhooks::{GrpcWebhooks, WebhooksApi};
