//! The template service's gRPC: decode, authenticate the caller, call the core, encode.

use std::sync::Arc;

use flowmate_auth::{Principal, Verifier};
use flowmate_domain::{ErrorCode, Fault};
use flowmate_proto::{flows::v1::FlowDocument, status_from_fault, templates::v1 as pb};
use serde_json::Value;
use tonic::{Request, Response, Status};

use crate::{
    core::TemplateCore,
    error::TemplateError,
    model::{ListQuery, SortField, Template},
};

/// The tonic service over the template core.
#[derive(Clone)]
pub struct TemplateGrpc {
    core: Arc<TemplateCore>,
    verifier: Arc<Verifier>,
}

impl TemplateGrpc {
    /// Serves `core`, verifying callers with `verifier`.
    pub fn new(core: Arc<TemplateCore>, verifier: Arc<Verifier>) -> Self {
        TemplateGrpc { core, verifier }
    }

    fn caller<T>(&self, request: &Request<T>) -> Result<Principal, Status> {
        flowmate_auth::authenticate(&self.verifier, request)
            .map_err(|e| status(TemplateError::Unauthenticated(e)))
    }
}

fn status(e: TemplateError) -> Status {
    status_from_fault(&Fault::from(e))
}

fn invalid(message: &str) -> Status {
    status_from_fault(&Fault::new(ErrorCode::InvalidArgument, message))
}

fn parse_json(text: &str) -> Result<Value, Status> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(text).map_err(|e| invalid(&format!("Invalid JSON: {e}")))
}

fn document(t: &Template) -> pb::TemplateDocument {
    pb::TemplateDocument {
        json: t.to_json().to_string(),
    }
}

fn list_query(r: pb::ListTemplatesRequest) -> Result<ListQuery, Status> {
    let page = r
        .page
        .unwrap_or(flowmate_proto::common::v1::PageRequest { size: 10, number: 1 });
    if !(1..=1000).contains(&page.size) || page.number == 0 {
        return Err(invalid("Invalid page parameter"));
    }
    if r.status
        .as_deref()
        .is_some_and(|s| s != "draft" && s != "published")
    {
        return Err(invalid("Invalid filter[status] parameter"));
    }
    let sort = match r.sort_field.as_str() {
        "" | "createdAt" => SortField::CreatedAt,
        "updatedAt" => SortField::UpdatedAt,
        "name" => SortField::Name,
        _ => return Err(invalid("Invalid sort parameter")),
    };
    Ok(ListQuery {
        page_size: page.size,
        page_number: page.number,
        status: r.status,
        kind: r.r#type,
        user: r.user,
        sort,
        descending: r.descending,
        search: r.search,
    })
}

#[tonic::async_trait]
impl pb::template_repository_server::TemplateRepository for TemplateGrpc {
    async fn list_templates(
        &self,
        request: Request<pb::ListTemplatesRequest>,
    ) -> Result<Response<pb::ListTemplatesResponse>, Status> {
        let caller = self.caller(&request)?;
        let (list, total) = self
            .core
            .list(&caller, list_query(request.into_inner())?)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListTemplatesResponse {
            templates: list.iter().map(document).collect(),
            total,
        }))
    }

    async fn get_template(
        &self,
        request: Request<pb::GetTemplateRequest>,
    ) -> Result<Response<pb::TemplateDocument>, Status> {
        let caller = self.caller(&request)?;
        let t = self
            .core
            .get(&caller, &request.get_ref().id)
            .await
            .map_err(status)?;
        Ok(Response::new(document(&t)))
    }

    async fn create_template(
        &self,
        request: Request<pb::CreateTemplateRequest>,
    ) -> Result<Response<pb::TemplateDocument>, Status> {
        let caller = self.caller(&request)?;
        let body = parse_json(&request.get_ref().json)?;
        let t = self.core.create(&caller, body).await.map_err(status)?;
        Ok(Response::new(document(&t)))
    }

    async fn update_template(
        &self,
        request: Request<pb::UpdateTemplateRequest>,
    ) -> Result<Response<pb::TemplateDocument>, Status> {
        let caller = self.caller(&request)?;
        let r = request.into_inner();
        let t = self
            .core
            .update(&caller, &r.id, parse_json(&r.patch_json)?)
            .await
            .map_err(status)?;
        Ok(Response::new(document(&t)))
    }

    async fn delete_template(
        &self,
        request: Request<pb::DeleteTemplateRequest>,
    ) -> Result<Response<pb::DeleteTemplateResponse>, Status> {
        let caller = self.caller(&request)?;
        self.core
            .delete(&caller, &request.get_ref().id)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::DeleteTemplateResponse {}))
    }

    async fn list_versions(
        &self,
        request: Request<pb::ListVersionsRequest>,
    ) -> Result<Response<pb::ListVersionsResponse>, Status> {
        let caller = self.caller(&request)?;
        let versions = self
            .core
            .versions(&caller, &request.get_ref().id)
            .await
            .map_err(status)?;
        let versions = versions
            .into_iter()
            .map(|v| pb::TemplateDocument { json: v.to_string() })
            .collect();
        Ok(Response::new(pb::ListVersionsResponse { versions }))
    }

    async fn generate(
        &self,
        request: Request<pb::GenerateRequest>,
    ) -> Result<Response<FlowDocument>, Status> {
        let caller = self.caller(&request)?;
        let r = request.into_inner();
        let flow = self
            .core
            .generate(&caller, &r.id, parse_json(&r.overrides_json)?)
            .await
            .map_err(status)?;
        Ok(Response::new(FlowDocument {
            json: flow.to_string(),
        }))
    }
}
