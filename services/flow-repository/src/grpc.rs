//! The flow repository's gRPC service: decode, authenticate the caller, call the core, encode.

use std::sync::Arc;

use flowmate_auth::{Principal, Verifier};
use flowmate_domain::{
    flow::{Flow, FlowStatus},
    ErrorCode, Fault,
};
use flowmate_proto::{details_from_fault, flows::v1 as pb, status_from_fault};
use serde_json::Value;
use tonic::{Request, Response, Status};

use crate::{
    core::FlowCore,
    error::FlowError,
    model::{ListQuery, SortField},
};

/// The tonic service over the flow core.
#[derive(Clone)]
pub struct FlowGrpc {
    core: Arc<FlowCore>,
    verifier: Arc<Verifier>,
}

impl FlowGrpc {
    /// Serves `core`, verifying callers' tokens with `verifier`.
    pub fn new(core: Arc<FlowCore>, verifier: Arc<Verifier>) -> Self {
        FlowGrpc { core, verifier }
    }

    fn caller<T>(&self, request: &Request<T>) -> Result<Principal, Status> {
        flowmate_auth::authenticate(&self.verifier, request)
            .map_err(|e| status(FlowError::Unauthenticated(e)))
    }
}

fn status(e: FlowError) -> Status {
    status_from_fault(&Fault::from(e))
}

fn invalid(message: &str) -> Status {
    status_from_fault(&Fault::new(ErrorCode::InvalidArgument, message))
}

fn parse_json(text: &str) -> Result<Value, Status> {
    serde_json::from_str(text).map_err(|e| invalid(&format!("Invalid JSON: {e}")))
}

/// A flow as API callers see it (write-only secrets masked).
fn document(flow: &Flow) -> Result<pb::FlowDocument, Status> {
    internal_document(&crate::webhooks::masked(flow))
}

/// A flow for other services (sealed secrets kept).
fn internal_document(flow: &Flow) -> Result<pb::FlowDocument, Status> {
    serde_json::to_string(flow)
        .map(|json| pb::FlowDocument { json })
        .map_err(|e| status(FlowError::Internal(e.to_string())))
}

fn result(flow_id: Option<String>, r: Result<Flow, Fault>) -> Result<pb::FlowResult, Status> {
    let outcome = match r {
        Ok(flow) => pb::flow_result::Outcome::Flow(document(&flow)?),
        Err(fault) => pb::flow_result::Outcome::Error(details_from_fault(&fault)),
    };
    Ok(pb::FlowResult {
        outcome: Some(outcome),
        flow_id,
    })
}

fn statuses(ids: Vec<String>, results: Vec<Result<FlowStatus, Fault>>) -> pb::StatusResults {
    let results = ids
        .into_iter()
        .zip(results)
        .map(|(id, r)| pb::StatusResult {
            id,
            outcome: Some(match r {
                Ok(s) => pb::status_result::Outcome::Status(s.as_str().to_owned()),
                Err(f) => pb::status_result::Outcome::Error(details_from_fault(&f)),
            }),
        })
        .collect();
    pb::StatusResults { results }
}

/// Checks a list request; the gateway validates the HTTP form, this guards the gRPC one.
fn list_query(r: pb::ListFlowsRequest) -> Result<ListQuery, Status> {
    let page = r
        .page
        .unwrap_or(flowmate_proto::common::v1::PageRequest { size: 10, number: 1 });
    if !(1..=1000).contains(&page.size) || page.number == 0 {
        return Err(invalid("Invalid page parameter"));
    }
    let status = match r.status.as_deref() {
        None => None,
        Some(s) => Some(FlowStatus::parse(s).ok_or_else(|| invalid("Invalid filter[status] parameter"))?),
    };
    let sort = match r.sort_field.as_str() {
        "" | "createdAt" => SortField::CreatedAt,
        "updatedAt" => SortField::UpdatedAt,
        "name" => SortField::Name,
        _ => return Err(invalid("Invalid sort parameter")),
    };
    Ok(ListQuery {
        page_size: page.size,
        page_number: page.number,
        status,
        kind: r.r#type,
        user: r.user,
        from_template: r.from_template,
        sort,
        descending: r.descending,
        search: r.search,
    })
}

#[tonic::async_trait]
impl pb::flow_repository_server::FlowRepository for FlowGrpc {
    async fn list_flows(
        &self,
        request: Request<pb::ListFlowsRequest>,
    ) -> Result<Response<pb::ListFlowsResponse>, Status> {
        let caller = self.caller(&request)?;
        let query = list_query(request.into_inner())?;
        let (flows, total) = self.core.list(&caller, query).await.map_err(status)?;
        let flows = flows.iter().map(document).collect::<Result<_, _>>()?;
        Ok(Response::new(pb::ListFlowsResponse { flows, total }))
    }

    async fn get_flow(
        &self,
        request: Request<pb::GetFlowRequest>,
    ) -> Result<Response<pb::FlowDocument>, Status> {
        let caller = self.caller(&request)?;
        let flow = self
            .core
            .get(&caller, &request.get_ref().id)
            .await
            .map_err(status)?;
        Ok(Response::new(document(&flow)?))
    }

    async fn create_flows(
        &self,
        request: Request<pb::CreateFlowsRequest>,
    ) -> Result<Response<pb::FlowResults>, Status> {
        let caller = self.caller(&request)?;
        let body = parse_json(&request.get_ref().json)?;
        let results = self.core.create(&caller, body).await.map_err(status)?;
        let results = results
            .into_iter()
            .map(|r| result(None, r))
            .collect::<Result<_, _>>()?;
        Ok(Response::new(pb::FlowResults { results }))
    }

    async fn update_flow(
        &self,
        request: Request<pb::UpdateFlowRequest>,
    ) -> Result<Response<pb::FlowDocument>, Status> {
        let caller = self.caller(&request)?;
        let r = request.into_inner();
        let patch = parse_json(&r.patch_json)?;
        let flow = self.core.update(&caller, &r.id, patch).await.map_err(status)?;
        Ok(Response::new(document(&flow)?))
    }

    async fn bulk_update_flows(
        &self,
        request: Request<pb::BulkUpdateFlowsRequest>,
    ) -> Result<Response<pb::FlowResults>, Status> {
        let caller = self.caller(&request)?;
        let body = parse_json(&request.get_ref().json)?;
        let results = self.core.bulk_update(&caller, body).await.map_err(status)?;
        let results = results
            .into_iter()
            .map(|(id, r)| result(id, r))
            .collect::<Result<_, _>>()?;
        Ok(Response::new(pb::FlowResults { results }))
    }

    async fn delete_flow(
        &self,
        request: Request<pb::DeleteFlowRequest>,
    ) -> Result<Response<pb::DeleteFlowResponse>, Status> {
        let caller = self.caller(&request)?;
        self.core
            .delete(&caller, &request.get_ref().id)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::DeleteFlowResponse {}))
    }

    async fn start_flows(
        &self,
        request: Request<pb::FlowIds>,
    ) -> Result<Response<pb::StatusResults>, Status> {
        let caller = self.caller(&request)?;
        let ids = request.into_inner().ids;
        let results = self.core.start(&caller, &ids).await.map_err(status)?;
        Ok(Response::new(statuses(ids, results)))
    }

    async fn stop_flows(&self, request: Request<pb::FlowIds>) -> Result<Response<pb::StatusResults>, Status> {
        let caller = self.caller(&request)?;
        let ids = request.into_inner().ids;
        let results = self.core.stop(&caller, &ids).await.map_err(status)?;
        Ok(Response::new(statuses(ids, results)))
    }

    async fn list_active_flows(
        &self,
        request: Request<pb::ListActiveFlowsRequest>,
    ) -> Result<Response<pb::ListActiveFlowsResponse>, Status> {
        let r = request.into_inner();
        if !r.ids.is_empty() {
            let flows = self.core.active_by_ids(&r.ids).await.map_err(status)?;
            let flows = flows.iter().map(internal_document).collect::<Result<_, _>>()?;
            return Ok(Response::new(pb::ListActiveFlowsResponse {
                flows,
                next_after_id: String::new(),
            }));
        }
        let limit = if r.limit == 0 { 500 } else { r.limit };
        let flows = self.core.list_active(&r.after_id, limit).await.map_err(status)?;
        let next_after_id = if flows.len() as u32 == limit.min(1000) {
            flows.last().map(|f| f.id.to_string()).unwrap_or_default()
        } else {
            String::new()
        };
        let flows = flows.iter().map(internal_document).collect::<Result<_, _>>()?;
        Ok(Response::new(pb::ListActiveFlowsResponse {
            flows,
            next_after_id,
        }))
    }
}
