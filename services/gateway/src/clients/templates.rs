//! The template service as the gateway sees it. Templates travel as JSON documents.

use std::time::Duration;

use async_trait::async_trait;
use flowmate_domain::Fault;
use flowmate_proto::templates::v1::{self as pb, template_repository_client::TemplateRepositoryClient};
use flowmate_proto::transport::Transport;
use serde_json::Value;
use tonic::Request;

use super::call::fault;

/// Template operations; `token` is the caller's bearer token.
#[async_trait]
pub trait TemplatesApi: Send + Sync + 'static {
    /// A page of templates and the total.
    async fn list(&self, token: &str, query: pb::ListTemplatesRequest) -> Result<(Vec<Value>, u64), Fault>;
    /// One template.
    async fn get(&self, token: &str, id: &str) -> Result<Value, Fault>;
    /// Creates a template.
    async fn create(&self, token: &str, body: &Value) -> Result<Value, Fault>;
    /// Shallow-merges a patch.
    async fn update(&self, token: &str, id: &str, patch: &Value) -> Result<Value, Fault>;
    /// Deletes a template and its versions.
    async fn delete(&self, token: &str, id: &str) -> Result<(), Fault>;
    /// Previous versions, newest first.
    async fn versions(&self, token: &str, id: &str) -> Result<Vec<Value>, Fault>;
    /// Generates a flow.
    async fn generate(&self, token: &str, id: &str, overrides: &Value) -> Result<Value, Fault>;
}

/// [`TemplatesApi`] over gRPC.
#[derive(Clone)]
pub struct GrpcTemplates {
    client: TemplateRepositoryClient<Transport>,
    timeout: Duration,
}

impl GrpcTemplates {
    /// A client of the template service at `url`.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, http::uri::InvalidUri> {
        let client = TemplateRepositoryClient::new(super::call::channel(url)?)
            .max_decoding_message_size(flowmate_proto::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(flowmate_proto::MAX_MESSAGE_BYTES);
        Ok(GrpcTemplates { client, timeout })
    }

    fn request<T>(&self, token: &str, message: T) -> Request<T> {
        super::call::request(Some(token), self.timeout, message)
    }
}

fn parse(json: &str) -> Result<Value, Fault> {
    serde_json::from_str(json).map_err(|_| Fault::internal())
}

#[async_trait]
impl TemplatesApi for GrpcTemplates {
    async fn list(&self, token: &str, query: pb::ListTemplatesRequest) -> Result<(Vec<Value>, u64), Fault> {
        let r = self
            .client
            .clone()
            .list_templates(self.request(token, query))
            .await
            .map_err(fault)?
            .into_inner();
        Ok((
            r.templates
                .iter()
                .map(|t| parse(&t.json))
                .collect::<Result<_, _>>()?,
            r.total,
        ))
    }

    async fn get(&self, token: &str, id: &str) -> Result<Value, Fault> {
        let m = pb::GetTemplateRequest { id: id.to_owned() };
        parse(
            &self
                .client
                .clone()
                .get_template(self.request(token, m))
                .await
                .map_err(fault)?
                .into_inner()
                .json,
        )
    }

    async fn create(&self, token: &str, body: &Value) -> Result<Value, Fault> {
        let m = pb::CreateTemplateRequest {
            json: body.to_string(),
        };
        parse(
            &self
                .client
                .clone()
                .create_template(self.request(token, m))
                .await
                .map_err(fault)?
                .into_inner()
                .json,
        )
    }

    async fn update(&self, token: &str, id: &str, patch: &Value) -> Result<Value, Fault> {
        let m = pb::UpdateTemplateRequest {
            id: id.to_owned(),
            patch_json: patch.to_string(),
        };
        parse(
            &self
                .client
                .clone()
                .update_template(self.request(token, m))
                .await
                .map_err(fault)?
                .into_inner()
                .json,
        )
    }

    async fn delete(&self, token: &str, id: &str) -> Result<(), Fault> {
        let m = pb::DeleteTemplateRequest { id: id.to_owned() };
        self.client
            .clone()
            .delete_template(self.request(token, m))
            .await
            .map_err(fault)?;
        Ok(())
    }

    async fn versions(&self, token: &str, id: &str) -> Result<Vec<Value>, Fault> {
        let m = pb::ListVersionsRequest { id: id.to_owned() };
        let r = self
            .client
            .clone()
            .list_versions(self.request(token, m))
            .await
            .map_err(fault)?
            .into_inner();
        r.versions.iter().map(|v| parse(&v.json)).collect()
    }

    async fn generate(&self, token: &str, id: &str, overrides: &Value) -> Result<Value, Fault> {
        let m = pb::GenerateRequest {
            id: id.to_owned(),
            overrides_json: overrides.to_string(),
        };
        parse(
            &self
                .client
                .clone()
                .generate(self.request(token, m))
                .await
                .map_err(fault)?
                .into_inner()
                .json,
        )
    }
}
