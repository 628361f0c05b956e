//! Keeps the gateway's verifier current: identity's public keys and the revocations in force, loaded at start
//! and refreshed periodically, plus `iam.token.revoked` events applied as they arrive.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use flowmate_auth::Verifier;
use flowmate_bus::{Delivery, Handler, HandlerError};
use flowmate_domain::identity::Revocation;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clients::IdentityApi;

/// Loads keys and revocations until `shutdown`: quickly until the first success, then every `every`.
pub fn start(
    identity: Arc<dyn IdentityApi>,
    verifier: Arc<Verifier>,
    every: Duration,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(50);
        loop {
            let wait = match sync_once(identity.as_ref(), &verifier).await {
                Ok(()) => {
                    backoff = Duration::from_millis(50);
                    every
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot load keys from identity; retrying");
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
pub async fn sync_once(
    identity: &dyn IdentityApi,
    verifier: &Verifier,
) -> Result<(), flowmate_domain::Fault> {
    let keys = identity.public_keys().await?;
    verifier.set_keys(&keys);
    for r in identity.revocations().await? {
        verifier.revocations().apply(&r);
    }
    Ok(())
}

/// Applies `iam.token.revoked` events to the verifier.
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
