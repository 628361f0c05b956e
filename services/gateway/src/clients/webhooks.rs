//! The webhook service as the gateway sees it: each incoming webhook is handed over as it arrived.

use std::time::Duration;

use async_trait::async_trait;
use flowmate_domain::Fault;
use flowmate_proto::transport::Transport;
use flowmate_proto::webhooks::v1::{self as pb, webhooks_client::WebhooksClient};

use super::call::fault;

/// Webhook delivery.
#[async_trait]
pub trait WebhooksApi: Send + Sync + 'static {
    /// Hands over one webhook; the answer is the HTTP response to send.
    async fn deliver(&self, request: pb::DeliverRequest) -> Result<pb::DeliverResponse, Fault>;
}

/// [`WebhooksApi`] over gRPC.
#[derive(Clone)]
pub struct GrpcWebhooks {
    client: WebhooksClient<Transport>,
    timeout: Duration,
}

impl GrpcWebhooks {
    /// A client of the webhook service at `url`. `timeout` must cover the longest sync wait.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, http::uri::InvalidUri> {
        let client = WebhooksClient::new(super::call::channel(url)?)
            .max_decoding_message_size(flowmate_proto::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(flowmate_proto::MAX_MESSAGE_BYTES);
        Ok(GrpcWebhooks { client, timeout })
    }
}

#[async_trait]
impl WebhooksApi for GrpcWebhooks {
    async fn deliver(&self, request: pb::DeliverRequest) -> Result<pb::DeliverResponse, Fault> {
        let request = super::call::request(None, self.timeout, request);
        Ok(self
            .client
            .clone()
            .deliver(request)
            .await
            .map_err(fault)?
            .into_inner())
    }
}
