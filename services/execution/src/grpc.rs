//! The execution service's gRPC: decode, authenticate the caller, call the core, encode.

use std::sync::Arc;

use flowmate_auth::{Principal, Verifier};
use flowmate_domain::{time, ErrorCode, Fault};
use flowmate_proto::{executions::v1 as pb, status_from_fault};
use serde_json::Value;
use tonic::{Request, Response, Status};

use crate::{
    components,
    core::ExecutionCore,
    engine::{Engine, SyncRun},
    error::ExecutionError,
    model::{self, Admission, Execution, GroupBy, ListQuery, RetryFrom, Step},
};
use flowmate_domain::{
    execution::WorkItem,
    quota::{Quota, QuotaState},
};

/// The tonic service over the execution core.
#[derive(Clone)]
pub struct ExecutionGrpc {
    core: Arc<ExecutionCore>,
    engine: Arc<Engine>,
    verifier: Arc<Verifier>,
}

impl ExecutionGrpc {
    /// Serves `core` and runs sync triggers on `engine`, verifying callers with `verifier`.
    pub fn new(core: Arc<ExecutionCore>, engine: Arc<Engine>, verifier: Arc<Verifier>) -> Self {
        ExecutionGrpc {
            core,
            engine,
            verifier,
        }
    }

    fn caller<T>(&self, request: &Request<T>) -> Result<Principal, Status> {
        flowmate_auth::authenticate(&self.verifier, request)
            .map_err(|e| status(ExecutionError::Unauthenticated(e)))
    }
}

fn status(e: ExecutionError) -> Status {
    status_from_fault(&Fault::from(e))
}

fn invalid(message: &str) -> Status {
    status_from_fault(&Fault::new(ErrorCode::InvalidArgument, message))
}

fn document(e: &Execution, steps: Option<&[Step]>) -> pb::ExecutionDocument {
    pb::ExecutionDocument {
        json: e.to_json(steps).to_string(),
    }
}

/// An RFC 3339 bound, normalised so text comparison in the store orders by time.
fn timestamp(value: Option<String>, name: &str) -> Result<Option<String>, Status> {
    value
        .map(|v| {
            time::parse(&v)
                .map(time::format)
                .ok_or_else(|| invalid(&format!("Invalid {name} parameter: use an RFC 3339 timestamp")))
        })
        .transpose()
}

#[tonic::async_trait]
impl pb::executions_server::Executions for ExecutionGrpc {
    async fn list_executions(
        &self,
        request: Request<pb::ListExecutionsRequest>,
    ) -> Result<Response<pb::ListExecutionsResponse>, Status> {
        let caller = self.caller(&request)?;
        let r = request.into_inner();
        let page = r
            .page
            .unwrap_or(flowmate_proto::common::v1::PageRequest { size: 10, number: 1 });
        if !(1..=1000).contains(&page.size) || page.number == 0 {
            return Err(invalid("Invalid page parameter"));
        }
        let wanted = r
            .status
            .map(|s| model::Status::parse(&s).ok_or_else(|| invalid("Invalid filter[status] parameter")))
            .transpose()?;
        let query = ListQuery {
            tenant: None,
            flow_id: r.flow_id,
            parent_id: r.parent_id,
            status: wanted,
            from: timestamp(r.from, "filter[from]")?,
            to: timestamp(r.to, "filter[to]")?,
            ascending: r.ascending,
            page_size: page.size,
            page_number: page.number,
        };
        let (items, total) = self.core.list(&caller, query).await.map_err(status)?;
        Ok(Response::new(pb::ListExecutionsResponse {
            executions: items.iter().map(|e| document(e, None)).collect(),
            total,
        }))
    }

    async fn get_execution(
        &self,
        request: Request<pb::GetExecutionRequest>,
    ) -> Result<Response<pb::ExecutionDocument>, Status> {
        let caller = self.caller(&request)?;
        let (execution, steps, children) = self
            .core
            .get(&caller, &request.get_ref().id)
            .await
            .map_err(status)?;
        let mut json = execution.to_json(Some(&steps));
        json["children"] = serde_json::json!(children);
        Ok(Response::new(pb::ExecutionDocument {
            json: json.to_string(),
        }))
    }

    async fn count_executions(
        &self,
        request: Request<pb::CountExecutionsRequest>,
    ) -> Result<Response<pb::CountExecutionsResponse>, Status> {
        let caller = self.caller(&request)?;
        let r = request.into_inner();
        let by = GroupBy::parse(&r.group_by)
            .ok_or_else(|| invalid("Invalid groupby parameter: use user, flow or component"))?;
        let start = timestamp(Some(r.start), "start")?.unwrap_or_default();
        let end = timestamp(Some(r.end), "end")?.unwrap_or_default();
        let counts = self.core.count(&caller, &start, &end, by).await.map_err(status)?;
        Ok(Response::new(pb::CountExecutionsResponse {
            json: counts.to_string(),
        }))
    }

    async fn retry_execution(
        &self,
        request: Request<pb::RetryExecutionRequest>,
    ) -> Result<Response<pb::ExecutionDocument>, Status> {
        let caller = self.caller(&request)?;
        let r = request.get_ref();
        let from = RetryFrom::parse(&r.from).ok_or_else(|| status(ExecutionError::InvalidRetryFrom))?;
        let execution = self.core.retry(&caller, &r.id, from).await.map_err(status)?;
        Ok(Response::new(document(&execution, None)))
    }

    async fn cancel_execution(
        &self,
        request: Request<pb::CancelExecutionRequest>,
    ) -> Result<Response<pb::ExecutionDocument>, Status> {
        let caller = self.caller(&request)?;
        let execution = self
            .core
            .cancel(&caller, &request.get_ref().id)
            .await
            .map_err(status)?;
        Ok(Response::new(document(&execution, None)))
    }

    async fn run_flow(
        &self,
        request: Request<pb::RunFlowRequest>,
    ) -> Result<Response<pb::ExecutionDocument>, Status> {
        let caller = self.caller(&request)?;
        let r = request.get_ref();
        let body: Value = if r.body_json.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&r.body_json).map_err(|e| invalid(&format!("Invalid JSON: {e}")))?
        };
        let execution = self.core.run(&caller, &r.flow_id, body).await.map_err(status)?;
        Ok(Response::new(document(&execution, None)))
    }

    async fn resume_execution(
        &self,
        request: Request<pb::ResumeExecutionRequest>,
    ) -> Result<Response<pb::ResumeExecutionResponse>, Status> {
        let r = request.into_inner();
        let body: Value = if r.body_json.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&r.body_json).map_err(|e| invalid(&format!("Invalid JSON: {e}")))?
        };
        self.core
            .resume(&r.id, &r.node_id, &r.token, body)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ResumeExecutionResponse {}))
    }

    async fn list_components(
        &self,
        request: Request<pb::ListComponentsRequest>,
    ) -> Result<Response<pb::ListComponentsResponse>, Status> {
        self.caller(&request)?;
        Ok(Response::new(pb::ListComponentsResponse {
            json: components::catalogue_json().to_string(),
        }))
    }

    async fn admit_work(
        &self,
        request: Request<pb::AdmitWorkRequest>,
    ) -> Result<Response<pb::AdmitWorkResponse>, Status> {
        let item: WorkItem = serde_json::from_str(&request.get_ref().work_json)
            .map_err(|e| invalid(&format!("not a work item: {e}")))?;
        let answer = match self.core.admit_work(item).await.map_err(status)? {
            Admission::Admitted => pb::AdmitWorkResponse {
                admitted: true,
                has_quota: true,
                ..Default::default()
            },
            Admission::Unlimited => pb::AdmitWorkResponse {
                admitted: true,
                ..Default::default()
            },
            Admission::Limited { retry_after, reason } => pb::AdmitWorkResponse {
                admitted: false,
                has_quota: true,
                retry_after_secs: retry_after,
                reason,
            },
        };
        Ok(Response::new(answer))
    }

    async fn run_sync(
        &self,
        request: Request<pb::RunSyncRequest>,
    ) -> Result<Response<pb::RunSyncResponse>, Status> {
        use pb::run_sync_response::Outcome;
        let request = request.into_inner();
        let item: WorkItem = serde_json::from_str(&request.work_json)
            .map_err(|e| invalid(&format!("not a work item: {e}")))?;
        flowmate_domain::ExecutionId::parse(&item.execution_id)
            .map_err(|_| invalid("invalid execution id"))?;
        let wait = std::time::Duration::from_millis(request.timeout_ms.clamp(1, 3_600_000));
        let ran = self
            .engine
            .run_sync(item, None, wait)
            .await
            .map_err(|e| status_from_fault(&Fault::new(ErrorCode::Unavailable, e.to_string())))?;
        let (outcome, finished_json) = match ran {
            SyncRun::Finished(finished) => (
                Outcome::Finished,
                serde_json::to_string(&finished).map_err(|e| invalid(&e.to_string()))?,
            ),
            SyncRun::Queue => (Outcome::Queue, String::new()),
            SyncRun::Running => (Outcome::Running, String::new()),
        };
        Ok(Response::new(pb::RunSyncResponse {
            outcome: outcome.into(),
            finished_json,
        }))
    }

    async fn get_tenant_quota(
        &self,
        request: Request<pb::TenantQuotaRequest>,
    ) -> Result<Response<pb::TenantQuotaResponse>, Status> {
        let caller = self.caller(&request)?;
        let state = self
            .core
            .quota(&caller, &request.get_ref().tenant_id)
            .await
            .map_err(status)?;
        quota_answer(&state)
    }

    async fn set_tenant_quota(
        &self,
        request: Request<pb::SetTenantQuotaRequest>,
    ) -> Result<Response<pb::TenantQuotaResponse>, Status> {
        let caller = self.caller(&request)?;
        let r = request.get_ref();
        let quota: Quota =
            serde_json::from_str(&r.quota_json).map_err(|e| invalid(&format!("Invalid quota: {e}")))?;
        if let Some((field, problem)) = quota.problems().first() {
            return Err(invalid(&format!("quota.{field} {problem}")));
        }
        let state = self
            .core
            .set_quota(&caller, &r.tenant_id, quota)
            .await
            .map_err(status)?;
        quota_answer(&state)
    }
}

fn quota_answer(state: &QuotaState) -> Result<Response<pb::TenantQuotaResponse>, Status> {
    let json = serde_json::to_string(state).map_err(|_| status_from_fault(&Fault::internal()))?;
    Ok(Response::new(pb::TenantQuotaResponse { json }))
}
