//! The secret service's gRPC: decode, authenticate the caller (a user token, the consent state, or the service
//! credential of internal calls), call the core, encode.

use std::sync::Arc;

use flowmate_auth::{Principal, Verifier};
use flowmate_domain::{ErrorCode, Fault};
use flowmate_proto::{secrets::v1 as pb, status_from_fault};
use serde_json::Value;
use tonic::{Request, Response, Status};

use crate::{
    core::{sha256_hex, SecretCore, Use},
    error::SecretError,
    model::ListQuery,
};

/// The metadata key internal calls carry the service credential in.
pub const SERVICE_TOKEN_HEADER: &str = "x-flowmate-service-token";

/// The tonic service over the secret core.
#[derive(Clone)]
pub struct SecretGrpc {
    core: Arc<SecretCore>,
    verifier: Arc<Verifier>,
    /// SHA-256 of the service credential internal calls must present (`None`: not required).
    service_token: Option<String>,
}

impl SecretGrpc {
    /// Serves `core`, verifying callers with `verifier`; internal calls need `service_token` when one is given.
    pub fn new(core: Arc<SecretCore>, verifier: Arc<Verifier>, service_token: Option<&str>) -> Self {
        SecretGrpc {
            core,
            verifier,
            service_token: service_token.map(sha256_hex),
        }
    }

    fn caller<T>(&self, request: &Request<T>) -> Result<Principal, Status> {
        flowmate_auth::authenticate(&self.verifier, request)
            .map_err(|e| status(SecretError::Unauthenticated(e)))
    }

    fn internal<T>(&self, request: &Request<T>) -> Result<(), Status> {
        let Some(expected) = &self.service_token else {
            return Ok(());
        };
        let given = request
            .metadata()
            .get(SERVICE_TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(sha256_hex);
        // Comparing digests: how long the comparison takes says nothing about the credential.
        if given.as_ref() == Some(expected) {
            Ok(())
        } else {
            Err(status(SecretError::ServiceCredential))
        }
    }
}

fn status(e: SecretError) -> Status {
    status_from_fault(&Fault::from(e))
}

fn invalid(message: &str) -> Status {
    status_from_fault(&Fault::new(ErrorCode::InvalidArgument, message))
}

fn parse_json(text: &str) -> Result<Value, Status> {
    if text.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    // The parser's message may quote the input (a value); it is not passed on.
    serde_json::from_str(text).map_err(|_| invalid("Invalid JSON"))
}

fn doc(value: Value) -> pb::Document {
    pb::Document {
        json: value.to_string(),
    }
}

fn list_query(r: pb::ListRequest) -> Result<ListQuery, Status> {
    let page = r
        .page
        .unwrap_or(flowmate_proto::common::v1::PageRequest { size: 10, number: 1 });
    if !(1..=1000).contains(&page.size) || page.number == 0 {
        return Err(invalid("Invalid page parameter"));
    }
    Ok(ListQuery {
        page_size: page.size,
        page_number: page.number,
        kind: r.r#type,
        search: r.search,
    })
}

#[tonic::async_trait]
impl pb::secrets_server::Secrets for SecretGrpc {
    async fn list_secrets(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::DocumentList>, Status> {
        let caller = self.caller(&request)?;
        let (items, total) = self
            .core
            .list(&caller, list_query(request.into_inner())?)
            .await
            .map_err(status)?;
        let items = items.iter().map(|s| doc(s.to_json())).collect();
        Ok(Response::new(pb::DocumentList { items, total }))
    }

    async fn get_secret(&self, request: Request<pb::IdRequest>) -> Result<Response<pb::Document>, Status> {
        let caller = self.caller(&request)?;
        let s = self
            .core
            .get(&caller, &request.get_ref().id)
            .await
            .map_err(status)?;
        Ok(Response::new(doc(s.to_json())))
    }

    async fn create_secret(
        &self,
        request: Request<pb::WriteRequest>,
    ) -> Result<Response<pb::Document>, Status> {
        let caller = self.caller(&request)?;
        let body = parse_json(&request.get_ref().json)?;
        let s = self.core.create(&caller, body).await.map_err(status)?;
        Ok(Response::new(doc(s.to_json())))
    }

    async fn update_secret(
        &self,
        request: Request<pb::WriteRequest>,
    ) -> Result<Response<pb::Document>, Status> {
        let caller = self.caller(&request)?;
        let r = request.into_inner();
        let s = self
            .core
            .update(&caller, &r.id, parse_json(&r.json)?)
            .await
            .map_err(status)?;
        Ok(Response::new(doc(s.to_json())))
    }

    async fn delete_secret(
        &self,
        request: Request<pb::DeleteRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let caller = self.caller(&request)?;
        let r = request.get_ref();
        self.core.delete(&caller, &r.id, r.force).await.map_err(status)?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn list_auth_clients(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::DocumentList>, Status> {
        let caller = self.caller(&request)?;
        let (items, total) = self
            .core
            .list_clients(&caller, list_query(request.into_inner())?)
            .await
            .map_err(status)?;
        let items = items.iter().map(|c| doc(c.to_json())).collect();
        Ok(Response::new(pb::DocumentList { items, total }))
    }

    async fn get_auth_client(
        &self,
        request: Request<pb::IdRequest>,
    ) -> Result<Response<pb::Document>, Status> {
        let caller = self.caller(&request)?;
        let c = self
            .core
            .get_client(&caller, &request.get_ref().id)
            .await
            .map_err(status)?;
        Ok(Response::new(doc(c.to_json())))
    }

    async fn create_auth_client(
        &self,
        request: Request<pb::WriteRequest>,
    ) -> Result<Response<pb::Document>, Status> {
        let caller = self.caller(&request)?;
        let body = parse_json(&request.get_ref().json)?;
        let c = self.core.create_client(&caller, body).await.map_err(status)?;
        Ok(Response::new(doc(c.to_json())))
    }

    async fn update_auth_client(
        &self,
        request: Request<pb::WriteRequest>,
    ) -> Result<Response<pb::Document>, Status> {
        let caller = self.caller(&request)?;
        let r = request.into_inner();
        let c = self
            .core
            .update_client(&caller, &r.id, parse_json(&r.json)?)
            .await
            .map_err(status)?;
        Ok(Response::new(doc(c.to_json())))
    }

    async fn delete_auth_client(
        &self,
        request: Request<pb::DeleteRequest>,
    ) -> Result<Response<pb::Empty>, Status> {
        let caller = self.caller(&request)?;
        let r = request.get_ref();
        self.core
            .delete_client(&caller, &r.id, r.force)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::Empty {}))
    }

    async fn start_consent(
        &self,
        request: Request<pb::StartConsentRequest>,
    ) -> Result<Response<pb::StartConsentResponse>, Status> {
        let caller = self.caller(&request)?;
        let r = request.get_ref();
        let redirect_url = self
            .core
            .start_consent(&caller, &r.auth_client_id, &r.secret_name, &r.scope)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::StartConsentResponse { redirect_url }))
    }

    async fn complete_consent(
        &self,
        request: Request<pb::CompleteConsentRequest>,
    ) -> Result<Response<pb::Document>, Status> {
        let r = request.into_inner();
        let s = self
            .core
            .complete_consent(&r.state, &r.code, &r.error)
            .await
            .map_err(status)?;
        Ok(Response::new(doc(s.to_json())))
    }

    async fn check_credentials(
        &self,
        request: Request<pb::CheckCredentialsRequest>,
    ) -> Result<Response<pb::CheckCredentialsResponse>, Status> {
        self.internal(&request)?;
        let r = request.into_inner();
        let uses: Vec<Use> = r
            .uses
            .into_iter()
            .map(|u| Use {
                node_id: u.node_id,
                secret_id: u.secret_id,
                accepted: u.accepted_types,
                mixed_fields: u.mixed_fields,
                component: u.component,
            })
            .collect();
        let problems = self
            .core
            .check(&r.flow_id, &r.tenant, &r.changed_at, &uses)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::CheckCredentialsResponse { problems }))
    }

    async fn resolve_credential(
        &self,
        request: Request<pb::ResolveRequest>,
    ) -> Result<Response<pb::ResolvedCredential>, Status> {
        self.internal(&request)?;
        let r = request.into_inner();
        let resolved = self
            .core
            .resolve(&r.secret_id, &r.tenant, r.refresh, &r.refused_token_sha256)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ResolvedCredential {
            r#type: resolved.kind.as_str().to_owned(),
            value_json: Value::Object(resolved.value.0).to_string(),
            expires_at_ms: resolved.expires_at_ms,
            version: resolved.version,
        }))
    }
}
