//! The execution service as the gateway sees it. Executions travel as JSON documents.

use std::time::Duration;

use async_trait::async_trait;
use flowmate_domain::{
    quota::{Quota, QuotaState},
    Fault,
};
use flowmate_proto::executions::v1::{self as pb, executions_client::ExecutionsClient};
use flowmate_proto::transport::Transport;
use serde_json::Value;
use tonic::Request;

use super::call::fault;

/// Execution operations; `token` is the caller's bearer token.
#[async_trait]
pub trait ExecutionsApi: Send + Sync + 'static {
    /// A page of executions and the total.
    async fn list(&self, token: &str, query: pb::ListExecutionsRequest) -> Result<(Vec<Value>, u64), Fault>;
    /// One execution with its steps.
    async fn get(&self, token: &str, id: &str) -> Result<Value, Fault>;
    /// Counts grouped by user, flow or component.
    async fn count(&self, token: &str, query: pb::CountExecutionsRequest) -> Result<Value, Fault>;
    /// Runs an execution again; returns the new one.
    async fn retry(&self, token: &str, id: &str, from: &str) -> Result<Value, Fault>;
    /// Cancels an execution.
    async fn cancel(&self, token: &str, id: &str) -> Result<Value, Fault>;
    /// Triggers an active flow by hand.
    async fn run(&self, token: &str, flow_id: &str, body: &Value) -> Result<Value, Fault>;
    /// The component catalogue.
    async fn components(&self, token: &str) -> Result<Value, Fault>;
    /// Resumes a waiting `wait.event` node with `body`; its single-use `token` is the credential.
    async fn resume(&self, id: &str, node_id: &str, token: &str, body: &Value) -> Result<(), Fault>;
    /// A tenant's quota and usage (API.md §12).
    async fn quota(&self, token: &str, tenant: &str) -> Result<QuotaState, Fault>;
    /// Sets a tenant's quota (global admins); returns the new quota and the usage.
    async fn set_quota(&self, token: &str, tenant: &str, quota: &Quota) -> Result<QuotaState, Fault>;
}

/// [`ExecutionsApi`] over gRPC.
#[derive(Clone)]
pub struct GrpcExecutions {
    client: ExecutionsClient<Transport>,
    timeout: Duration,
}

impl GrpcExecutions {
    /// A client of the execution service at `url`.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, http::uri::InvalidUri> {
        let client = ExecutionsClient::new(super::call::channel(url)?)
            .max_decoding_message_size(flowmate_proto::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(flowmate_proto::MAX_MESSAGE_BYTES);
        Ok(GrpcExecutions { client, timeout })
    }

    fn request<T>(&self, token: &str, message: T) -> Request<T> {
        super::call::request(Some(token), self.timeout, message)
    }
}

fn parse(json: &str) -> Result<Value, Fault> {
    serde_json::from_str(json).map_err(|_| Fault::internal())
}

#[async_trait]
impl ExecutionsApi for GrpcExecutions {
    async fn list(&self, token: &str, query: pb::ListExecutionsRequest) -> Result<(Vec<Value>, u64), Fault> {
        let r = self
            .client
            .clone()
            .list_executions(self.request(token, query))
            .await
            .map_err(fault)?
            .into_inner();
        let items = r
            .executions
            .iter()
            .map(|e| parse(&e.json))
            .collect::<Result<_, _>>()?;
        Ok((items, r.total))
    }

    async fn get(&self, token: &str, id: &str) -> Result<Value, Fault> {
        let m = pb::GetExecutionRequest { id: id.to_owned() };
        let r = self
            .client
            .clone()
            .get_execution(self.request(token, m))
            .await
            .map_err(fault)?;
        parse(&r.into_inner().json)
    }

    async fn count(&self, token: &str, query: pb::CountExecutionsRequest) -> Result<Value, Fault> {
        let r = self
            .client
            .clone()
            .count_executions(self.request(token, query))
            .await
            .map_err(fault)?;
        parse(&r.into_inner().json)
    }

    async fn retry(&self, token: &str, id: &str, from: &str) -> Result<Value, Fault> {
        let m = pb::RetryExecutionRequest {
            id: id.to_owned(),
            from: from.to_owned(),
        };
        let r = self
            .client
            .clone()
            .retry_execution(self.request(token, m))
            .await
            .map_err(fault)?;
        parse(&r.into_inner().json)
    }

    async fn cancel(&self, token: &str, id: &str) -> Result<Value, Fault> {
        let m = pb::CancelExecutionRequest { id: id.to_owned() };
        let r = self
            .client
            .clone()
            .cancel_execution(self.request(token, m))
            .await
            .map_err(fault)?;
        parse(&r.into_inner().json)
    }

    async fn run(&self, token: &str, flow_id: &str, body: &Value) -> Result<Value, Fault> {
        let m = pb::RunFlowRequest {
            flow_id: flow_id.to_owned(),
            body_json: body.to_string(),
        };
        let r = self
            .client
            .clone()
            .run_flow(self.request(token, m))
            .await
            .map_err(fault)?;
        parse(&r.into_inner().json)
    }

    async fn components(&self, token: &str) -> Result<Value, Fault> {
        let r = self
            .client
            .clone()
            .list_components(self.request(token, pb::ListComponentsRequest {}))
            .await
            .map_err(fault)?;
        parse(&r.into_inner().json)
    }

    async fn resume(&self, id: &str, node_id: &str, token: &str, body: &Value) -> Result<(), Fault> {
        let m = pb::ResumeExecutionRequest {
            id: id.to_owned(),
            node_id: node_id.to_owned(),
            token: token.to_owned(),
            body_json: body.to_string(),
        };
        let request = super::call::request(None, self.timeout, m);
        self.client
            .clone()
            .resume_execution(request)
            .await
            .map_err(fault)?;
        Ok(())
    }

    async fn quota(&self, token: &str, tenant: &str) -> Result<QuotaState, Fault> {
        let m = pb::TenantQuotaRequest {
            tenant_id: tenant.to_owned(),
        };
        let r = self
            .client
            .clone()
            .get_tenant_quota(self.request(token, m))
            .await
            .map_err(fault)?;
        serde_json::from_str(&r.into_inner().json).map_err(|_| Fault::internal())
    }

    async fn set_quota(&self, token: &str, tenant: &str, quota: &Quota) -> Result<QuotaState, Fault> {
        let m = pb::SetTenantQuotaRequest {
            tenant_id: tenant.to_owned(),
            quota_json: serde_json::to_string(quota).map_err(|_| Fault::internal())?,
        };
        let r = self
            .client
            .clone()
            .set_tenant_quota(self.request(token, m))
            .await
            .map_err(fault)?;
        serde_json::from_str(&r.into_inner().json).map_err(|_| Fault::internal())
    }
}
