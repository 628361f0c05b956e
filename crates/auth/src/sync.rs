//! Keeps a service's [`Verifier`] current: identity's public keys and the revocations in force, loaded at start and
//! refreshed periodically, plus `iam.token.revoked` events applied as they arrive (each replica consumes its own
//! exclusive queue, so every replica sees every revocation).

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use flowmate_bus::{BusError, Delivery, Handler, HandlerError, SharedBus, SubscribeOptions};
use flowmate_domain::{event::types, identity::Revocation, Fault, Id};
use flowmate_proto::transport::{self, Transport};
use flowmate_proto::{
    fault_from_status,
    identity::v1::{identity_client::IdentityClient, GetPublicKeysRequest, ListRevocationsRequest},
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{PublicKey, Verifier};

/// Where verification keys and revocations come from.
#[async_trait]
pub trait KeySource: Send + Sync + 'static {
    /// The keys tokens are signed with.
    async fn keys(&self) -> Result<Vec<PublicKey>, Fault>;
    /// The revocations in force.
    async fn revocations(&self) -> Result<Vec<Revocation>, Fault>;
}

/// The identity service over gRPC.
#[derive(Clone)]
pub struct GrpcKeySource {
    client: IdentityClient<Transport>,
    timeout: Duration,
}

impl GrpcKeySource {
    /// A lazily connecting client of identity at `url` (`http://host:port`).
    pub fn new(url: &str, timeout: Duration) -> Result<Self, http::uri::InvalidUri> {
        let channel = transport::connect(url, None)?;
        Ok(GrpcKeySource {
            client: IdentityClient::new(channel).max_decoding_message_size(flowmate_proto::MAX_MESSAGE_BYTES),
            timeout,
        })
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = flowmate_telemetry::propagation::inject_grpc(tonic::Request::new(message));
        request.set_timeout(self.timeout);
        request
    }
}

#[async_trait]
impl KeySource for GrpcKeySource {
    async fn keys(&self) -> Result<Vec<PublicKey>, Fault> {
        let r = self
            .client
            .clone()
            .get_public_keys(self.request(GetPublicKeysRequest {}))
            .await;
        Ok(r.map_err(|s| fault_from_status(&s))?
            .into_inner()
            .keys
            .into_iter()
            .map(|k| PublicKey {
                kid: k.kid,
                algorithm: k.algorithm,
                key: k.key,
            })
            .collect())
    }

    async fn revocations(&self) -> Result<Vec<Revocation>, Fault> {
        let r = self
            .client
            .clone()
            .list_revocations(self.request(ListRevocationsRequest {}))
            .await;
        r.map_err(|s| fault_from_status(&s))?
            .into_inner()
            .revocations
            .into_iter()
            .map(TryInto::try_into)
            .collect()
    }
}

/// Loads keys and revocations until `shutdown`: quickly until the first success, then every `every`.
pub fn start(
    source: Arc<dyn KeySource>,
    verifier: Arc<Verifier>,
    every: Duration,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(50);
        loop {
            let wait = match sync_once(source.as_ref(), &verifier).await {
                Ok(()) => {
                    backoff = Duration::from_millis(50);
                    every
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot load token keys from identity; retrying");
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    backoff
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    })
}

/// One refresh of keys and revocations.
pub async fn sync_once(source: &dyn KeySource, verifier: &Verifier) -> Result<(), Fault> {
    let keys = source.keys().await?;
    verifier.set_keys(&keys);
    for r in source.revocations().await? {
        verifier.revocations().apply(&r);
    }
    Ok(())
}

/// Applies every `iam.token.revoked` event to `verifier`, on a queue of this replica's own.
pub async fn subscribe_revocations(
    bus: &SharedBus,
    service: &str,
    verifier: Arc<Verifier>,
    shutdown: CancellationToken,
) -> Result<JoinHandle<()>, BusError> {
    let options = SubscribeOptions {
        exclusive: true,
        ..SubscribeOptions::new(
            format!("{service}.revocations.{}", Id::new()),
            &[types::TOKEN_REVOKED],
        )
    };
    bus.subscribe(options, Arc::new(RevocationHandler(verifier)), shutdown)
        .await
}

/// Applies `iam.token.revoked` events to a verifier.
pub struct RevocationHandler(pub Arc<Verifier>);

#[async_trait]
impl Handler for RevocationHandler {
    async fn handle(&self, delivery: Delivery) -> Result<(), HandlerError> {
        let revocation: Revocation = serde_json::from_value(delivery.envelope.data)
            .map_err(|e| HandlerError::Reject(format!("bad revocation: {e}")))?;
        self.0.revocations().apply(&revocation);
        Ok(())
    }
}
