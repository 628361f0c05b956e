//! The webhook service's gRPC: the gateway hands over each incoming webhook and sends back the answer.

use std::sync::Arc;

use flowmate_proto::webhooks::v1 as pb;
use tonic::{Request, Response, Status};

use crate::deliver::{Incoming, Webhooks};

/// The tonic service over [`Webhooks`].
#[derive(Clone)]
pub struct WebhookGrpc(pub Arc<Webhooks>);

#[tonic::async_trait]
impl pb::webhooks_server::Webhooks for WebhookGrpc {
    async fn deliver(
        &self,
        request: Request<pb::DeliverRequest>,
    ) -> Result<Response<pb::DeliverResponse>, Status> {
        let r = request.into_inner();
        let incoming = Incoming {
            flow_id: r.flow_id,
            path_suffix: r.path_suffix,
            method: r.method.to_ascii_uppercase(),
            path: r.path,
            query: r.query,
            headers: r
                .headers
                .into_iter()
                .map(|h| {
                    (
                        h.name.to_ascii_lowercase(),
                        String::from_utf8_lossy(&h.value).into_owned(),
                    )
                })
                .collect(),
            body: r.body,
            request_id: r.request_id,
        };
        let reply = self.0.deliver(incoming).await;
        Ok(Response::new(pb::DeliverResponse {
            status: u32::from(reply.status),
            headers: reply
                .headers
                .into_iter()
                .map(|(name, value)| pb::Header {
                    name,
                    value: value.into_bytes(),
                })
                .collect(),
            body: reply.body,
        }))
    }
}
