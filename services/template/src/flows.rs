//! [`FlowCreator`] over the flow repository's gRPC, forwarding the caller's token.

use std::time::Duration;

use async_trait::async_trait;
use flowmate_domain::Fault;
use flowmate_proto::transport::{self, Transport};
use flowmate_proto::{
    fault_from_details, fault_from_status,
    flows::v1::{flow_repository_client::FlowRepositoryClient, flow_result::Outcome, CreateFlowsRequest},
    MAX_MESSAGE_BYTES,
};
use serde_json::Value;
use tonic::metadata::MetadataValue;

use crate::core::FlowCreator;

/// The flow repository at a gRPC address.
#[derive(Clone)]
pub struct GrpcFlows {
    client: FlowRepositoryClient<Transport>,
    timeout: Duration,
}

impl GrpcFlows {
    /// A lazily connecting client of the flow repository at `url`.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, http::uri::InvalidUri> {
        let channel = transport::connect(url, None)?;
        let client = FlowRepositoryClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        Ok(GrpcFlows { client, timeout })
    }
}

#[async_trait]
impl FlowCreator for GrpcFlows {
    async fn create(&self, token: &str, flow: &Value) -> Result<Value, Fault> {
        let message = CreateFlowsRequest {
            json: flow.to_string(),
        };
        let mut request = flowmate_telemetry::propagation::inject_grpc(tonic::Request::new(message));
        request.set_timeout(self.timeout);
        if let Ok(v) = MetadataValue::try_from(format!("Bearer {token}")) {
            request.metadata_mut().insert("authorization", v);
        }
        let reply = self.client.clone().create_flows(request).await.map_err(|s| {
            if s.code() != tonic::Code::InvalidArgument && s.code() != tonic::Code::PermissionDenied {
                tracing::warn!(grpc_code = ?s.code(), cause = %s.message(), "creating the generated flow failed");
            }
            fault_from_status(&s)
        })?;
        match reply
            .into_inner()
            .results
            .into_iter()
            .next()
            .and_then(|r| r.outcome)
        {
            Some(Outcome::Flow(doc)) => serde_json::from_str(&doc.json).map_err(|_| Fault::internal()),
            Some(Outcome::Error(details)) => Err(fault_from_details(details)),
            None => Err(Fault::internal()),
        }
    }
}
