//! The state every handler shares.

use std::sync::Arc;

use flowmate_auth::Verifier;

use crate::clients::{ExecutionsApi, FlowsApi, IdentityApi, SecretsApi, TemplatesApi, WebhooksApi};

/// Clients of the services behind the gateway, and the token verifier.
#[derive(Clone)]
pub struct AppState {
    /// The identity service.
    pub identity: Arc<dyn IdentityApi>,
    /// The flow repository.
    pub flows: Arc<dyn FlowsApi>,
    /// The template service.
    pub templates: Arc<dyn TemplatesApi>,
    /// The execution service.
    pub executions: Arc<dyn ExecutionsApi>,
    /// The webhook service.
    pub webhooks: Arc<dyn WebhooksApi>,
    /// The secret service.
    pub secrets: Arc<dyn SecretsApi>,
    /// Verifies bearer tokens locally with identity's public key and the revocation list.
    pub verifier: Arc<Verifier>,
}
