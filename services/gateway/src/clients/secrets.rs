//! The secret service as the gateway sees it. Secrets and auth clients travel as JSON documents (values masked).

use std::time::Duration;

use async_trait::async_trait;
use flowmate_domain::Fault;
use flowmate_proto::secrets::v1::{self as pb, secrets_client::SecretsClient};
use flowmate_proto::transport::Transport;
use serde_json::Value;
use tonic::Request;

use super::call::fault;

/// Which of the two resources a call is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// `/secrets`.
    Secrets,
    /// `/auth-clients`.
    AuthClients,
}

/// Secret operations; `token` is the caller's bearer token.
#[async_trait]
pub trait SecretsApi: Send + Sync + 'static {
    /// A page of secrets or auth clients and the total.
    async fn list(
        &self,
        token: &str,
        what: Resource,
        query: pb::ListRequest,
    ) -> Result<(Vec<Value>, u64), Fault>;
    /// One secret or auth client.
    async fn get(&self, token: &str, what: Resource, id: &str) -> Result<Value, Fault>;
    /// Creates one.
    async fn create(&self, token: &str, what: Resource, body: &Value) -> Result<Value, Fault>;
    /// Changes one.
    async fn update(&self, token: &str, what: Resource, id: &str, patch: &Value) -> Result<Value, Fault>;
    /// Deletes one (`force`: even when in use).
    async fn delete(&self, token: &str, what: Resource, id: &str, force: bool) -> Result<(), Fault>;
    /// The provider's consent URL for an auth client.
    async fn start_consent(
        &self,
        token: &str,
        auth_client_id: &str,
        secret_name: &str,
        scope: &str,
    ) -> Result<String, Fault>;
    /// The callback: creates the secret (no token: the state authenticates).
    async fn complete_consent(&self, state: &str, code: &str, error: &str) -> Result<Value, Fault>;
}

/// [`SecretsApi`] over gRPC.
#[derive(Clone)]
pub struct GrpcSecrets {
    client: SecretsClient<Transport>,
    timeout: Duration,
}

impl GrpcSecrets {
    /// A client of the secret service at `url`. Calls may wait for a token endpoint, so `timeout` should exceed
    /// the secret service's token timeout.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, http::uri::InvalidUri> {
        let client = SecretsClient::new(super::call::channel(url)?)
            .max_decoding_message_size(flowmate_proto::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(flowmate_proto::MAX_MESSAGE_BYTES);
        Ok(GrpcSecrets { client, timeout })
    }

    fn request<T>(&self, token: Option<&str>, message: T) -> Request<T> {
        super::call::request(token, self.timeout, message)
    }
}

fn parse(json: &str) -> Result<Value, Fault> {
    serde_json::from_str(json).map_err(|_| Fault::internal())
}

#[async_trait]
impl SecretsApi for GrpcSecrets {
    async fn list(
        &self,
        token: &str,
        what: Resource,
        query: pb::ListRequest,
    ) -> Result<(Vec<Value>, u64), Fault> {
        let mut c = self.client.clone();
        let r = self.request(Some(token), query);
        let reply = match what {
            Resource::Secrets => c.list_secrets(r).await,
            Resource::AuthClients => c.list_auth_clients(r).await,
        }
        .map_err(fault)?
        .into_inner();
        let items = reply
            .items
            .iter()
            .map(|d| parse(&d.json))
            .collect::<Result<_, _>>()?;
        Ok((items, reply.total))
    }

    async fn get(&self, token: &str, what: Resource, id: &str) -> Result<Value, Fault> {
        let mut c = self.client.clone();
        let r = self.request(Some(token), pb::IdRequest { id: id.to_owned() });
        let reply = match what {
            Resource::Secrets => c.get_secret(r).await,
            Resource::AuthClients => c.get_auth_client(r).await,
        };
        parse(&reply.map_err(fault)?.into_inner().json)
    }

    async fn create(&self, token: &str, what: Resource, body: &Value) -> Result<Value, Fault> {
        let mut c = self.client.clone();
        let m = pb::WriteRequest {
            id: String::new(),
            json: body.to_string(),
        };
        let r = self.request(Some(token), m);
        let reply = match what {
            Resource::Secrets => c.create_secret(r).await,
            Resource::AuthClients => c.create_auth_client(r).await,
        };
        parse(&reply.map_err(fault)?.into_inner().json)
    }

    async fn update(&self, token: &str, what: Resource, id: &str, patch: &Value) -> Result<Value, Fault> {
        let mut c = self.client.clone();
        let m = pb::WriteRequest {
            id: id.to_owned(),
            json: patch.to_string(),
        };
        let r = self.request(Some(token), m);
        let reply = match what {
            Resource::Secrets => c.update_secret(r).await,
            Resource::AuthClients => c.update_auth_client(r).await,
        };
        parse(&reply.map_err(fault)?.into_inner().json)
    }

    async fn delete(&self, token: &str, what: Resource, id: &str, force: bool) -> Result<(), Fault> {
        let mut c = self.client.clone();
        let r = self.request(
            Some(token),
            pb::DeleteRequest {
                id: id.to_owned(),
                force,
            },
        );
        match what {
            Resource::Secrets => c.delete_secret(r).await,
            Resource::AuthClients => c.delete_auth_client(r).await,
        }
        .map_err(fault)?;
        Ok(())
    }

    async fn start_consent(
        &self,
        token: &str,
        auth_client_id: &str,
        secret_name: &str,
        scope: &str,
    ) -> Result<String, Fault> {
        let m = pb::StartConsentRequest {
            auth_client_id: auth_client_id.to_owned(),
            secret_name: secret_name.to_owned(),
            scope: scope.to_owned(),
        };
        let reply = self
            .client
            .clone()
            .start_consent(self.request(Some(token), m))
            .await
            .map_err(fault)?;
        Ok(reply.into_inner().redirect_url)
    }

    async fn complete_consent(&self, state: &str, code: &str, error: &str) -> Result<Value, Fault> {
        let m = pb::CompleteConsentRequest {
            state: state.to_owned(),
            code: code.to_owned(),
            error: error.to_owned(),
        };
        let reply = self
            .client
            .clone()
            .complete_consent(self.request(None, m))
            .await
            .map_err(fault)?;
        parse(&reply.into_inner().json)
    }
}
