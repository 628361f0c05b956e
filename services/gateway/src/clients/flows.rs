//! The flow repository as the gateway sees it. Flows travel as JSON documents; the repository validates them.

use std::time::Duration;

use async_trait::async_trait;
use flowmate_domain::Fault;
use flowmate_proto::transport::Transport;
use flowmate_proto::{
    fault_from_details,
    flows::v1::{self as pb, flow_repository_client::FlowRepositoryClient},
};
use serde_json::Value;
use tonic::Request;

use super::call::fault;

/// One id's outcome of a start or stop.
pub type StatusResult = (String, Result<String, Fault>);

/// One item's outcome of a bulk call: the flow id it named (if any) and the flow or why it failed.
pub type ItemResult = (Option<String>, Result<Value, Fault>);

/// Flow operations; `token` is the caller's bearer token.
#[async_trait]
pub trait FlowsApi: Send + Sync + 'static {
    /// A page of flows and the total.
    async fn list(&self, token: &str, query: pb::ListFlowsRequest) -> Result<(Vec<Value>, u64), Fault>;
    /// One flow.
    async fn get(&self, token: &str, id: &str) -> Result<Value, Fault>;
    /// One flow as the JSON text the flow repository sent (the hot read path passes it through unparsed).
    async fn get_json(&self, token: &str, id: &str) -> Result<String, Fault>;
    /// Creates one flow or several; one result per item.
    async fn create(&self, token: &str, body: &Value) -> Result<Vec<Result<Value, Fault>>, Fault>;
    /// Shallow-merges a patch.
    async fn update(&self, token: &str, id: &str, patch: &Value) -> Result<Value, Fault>;
    /// Several patches; one result per item with its flow id.
    async fn bulk_update(&self, token: &str, body: &Value) -> Result<Vec<ItemResult>, Fault>;
    /// Deletes a flow.
    async fn delete(&self, token: &str, id: &str) -> Result<(), Fault>;
    /// Starts flows.
    async fn start(&self, token: &str, ids: Vec<String>) -> Result<Vec<StatusResult>, Fault>;
    /// Stops flows.
    async fn stop(&self, token: &str, ids: Vec<String>) -> Result<Vec<StatusResult>, Fault>;
}

/// [`FlowsApi`] over gRPC.
#[derive(Clone)]
pub struct GrpcFlows {
    client: FlowRepositoryClient<Transport>,
    timeout: Duration,
}

impl GrpcFlows {
    /// A client of the flow repository at `url`.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, http::uri::InvalidUri> {
        Ok(GrpcFlows {
            client: FlowRepositoryClient::new(super::call::channel(url)?)
                .max_decoding_message_size(flowmate_proto::MAX_MESSAGE_BYTES)
                .max_encoding_message_size(flowmate_proto::MAX_MESSAGE_BYTES),
            timeout,
        })
    }

    fn request<T>(&self, token: &str, message: T) -> Request<T> {
        super::call::request(Some(token), self.timeout, message)
    }
}

fn parse(doc: pb::FlowDocument) -> Result<Value, Fault> {
    serde_json::from_str(&doc.json).map_err(|_| Fault::internal())
}

fn results(r: pb::FlowResults) -> Result<Vec<ItemResult>, Fault> {
    r.results
        .into_iter()
        .map(|item| {
            let outcome = match item.outcome {
                Some(pb::flow_result::Outcome::Flow(doc)) => Ok(parse(doc)?),
                Some(pb::flow_result::Outcome::Error(details)) => Err(fault_from_details(details)),
                None => return Err(Fault::internal()),
            };
            Ok((item.flow_id, outcome))
        })
        .collect()
}

fn statuses(r: pb::StatusResults) -> Vec<StatusResult> {
    r.results
        .into_iter()
        .map(|item| {
            let outcome = match item.outcome {
                Some(pb::status_result::Outcome::Status(s)) => Ok(s),
                Some(pb::status_result::Outcome::Error(d)) => Err(fault_from_details(d)),
                None => Err(Fault::internal()),
            };
            (item.id, outcome)
        })
        .collect()
}

#[async_trait]
impl FlowsApi for GrpcFlows {
    async fn list(&self, token: &str, query: pb::ListFlowsRequest) -> Result<(Vec<Value>, u64), Fault> {
        let r = self
            .client
            .clone()
            .list_flows(self.request(token, query))
            .await
            .map_err(fault)?
            .into_inner();
        Ok((r.flows.into_iter().map(parse).collect::<Result<_, _>>()?, r.total))
    }

    async fn get(&self, token: &str, id: &str) -> Result<Value, Fault> {
        let message = pb::GetFlowRequest { id: id.to_owned() };
        parse(
            self.client
                .clone()
                .get_flow(self.request(token, message))
                .await
                .map_err(fault)?
                .into_inner(),
        )
    }

    async fn get_json(&self, token: &str, id: &str) -> Result<String, Fault> {
        let message = pb::GetFlowRequest { id: id.to_owned() };
        Ok(self
            .client
            .clone()
            .get_flow(self.request(token, message))
            .await
            .map_err(fault)?
            .into_inner()
            .json)
    }

    async fn create(&self, token: &str, body: &Value) -> Result<Vec<Result<Value, Fault>>, Fault> {
        let message = pb::CreateFlowsRequest {
            json: body.to_string(),
        };
        let r = self
            .client
            .clone()
            .create_flows(self.request(token, message))
            .await
            .map_err(fault)?;
        Ok(results(r.into_inner())?.into_iter().map(|(_, r)| r).collect())
    }

    async fn update(&self, token: &str, id: &str, patch: &Value) -> Result<Value, Fault> {
        let message = pb::UpdateFlowRequest {
            id: id.to_owned(),
            patch_json: patch.to_string(),
        };
        parse(
            self.client
                .clone()
                .update_flow(self.request(token, message))
                .await
                .map_err(fault)?
                .into_inner(),
        )
    }

    async fn bulk_update(&self, token: &str, body: &Value) -> Result<Vec<ItemResult>, Fault> {
        let message = pb::BulkUpdateFlowsRequest {
            json: body.to_string(),
        };
        results(
            self.client
                .clone()
                .bulk_update_flows(self.request(token, message))
                .await
                .map_err(fault)?
                .into_inner(),
        )
    }

    async fn delete(&self, token: &str, id: &str) -> Result<(), Fault> {
        let message = pb::DeleteFlowRequest { id: id.to_owned() };
        self.client
            .clone()
            .delete_flow(self.request(token, message))
            .await
            .map_err(fault)?;
        Ok(())
    }

    async fn start(&self, token: &str, ids: Vec<String>) -> Result<Vec<StatusResult>, Fault> {
        let r = self
            .client
            .clone()
            .start_flows(self.request(token, pb::FlowIds { ids }))
            .await
            .map_err(fault)?;
        Ok(statuses(r.into_inner()))
    }

    async fn stop(&self, token: &str, ids: Vec<String>) -> Result<Vec<StatusResult>, Fault> {
        let r = self
            .client
            .clone()
            .stop_flows(self.request(token, pb::FlowIds { ids }))
            .await
            .map_err(fault)?;
        Ok(statuses(r.into_inner()))
    }
}
