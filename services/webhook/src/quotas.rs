//! Tenant quotas at the door (API.md §12). A trigger of a tenant with a quota is not published: the execution
//! service checks the quota and records the execution queued in one transaction (`AdmitWork`), and the webhook
//! answers `429` with `Retry-After` when it says no. Tenants without a quota are remembered for a few seconds, so
//! their webhooks take the usual path (one call per tenant per [`NO_QUOTA_TTL`]); a quota set on such a tenant
//! applies within that time.

use std::{
    collections::HashMap,
    sync::RwLock,
    time::{Duration, Instant},
};

use flowmate_domain::execution::WorkItem;
use flowmate_proto::{
    executions::v1::{executions_client::ExecutionsClient, AdmitWorkRequest},
    transport::{self, Transport},
};

/// How long a tenant seen without a quota takes the usual path before it is asked about again.
pub const NO_QUOTA_TTL: Duration = Duration::from_secs(5);

/// What the quota said about one trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Recorded queued by the execution service (whether or not the tenant has a quota): answer as accepted.
    Admitted,
    /// Past a limit: nothing recorded.
    Limited {
        /// Seconds until it may succeed.
        retry_after: u64,
        /// Which limit.
        reason: String,
    },
    /// The execution service did not answer: publish as usual (a quota is not worth refusing work for).
    Unknown(String),
}

/// The quota check of the webhook service.
pub struct Quotas {
    /// `None`: quotas are not checked (a webhook service on its own, in tests).
    client: Option<ExecutionsClient<Transport>>,
    unlimited: RwLock<HashMap<String, Instant>>,
}

impl Quotas {
    /// Checks quotas with the execution service at `url`.
    pub fn new(url: &str, timeout: Duration) -> anyhow::Result<Quotas> {
        let channel = transport::connect(url, Some(timeout))?;
        Ok(Quotas {
            client: Some(
                ExecutionsClient::new(channel).max_encoding_message_size(flowmate_proto::MAX_MESSAGE_BYTES),
            ),
            unlimited: RwLock::new(HashMap::new()),
        })
    }

    /// No quota checks: every trigger goes the usual way.
    pub fn unchecked() -> Quotas {
        Quotas {
            client: None,
            unlimited: RwLock::new(HashMap::new()),
        }
    }

    fn known_unlimited(&self, tenant: &str) -> bool {
        let Ok(map) = self.unlimited.read() else {
            return false;
        };
        map.get(tenant).is_some_and(|at| at.elapsed() < NO_QUOTA_TTL)
    }

    fn remember_unlimited(&self, tenant: &str) {
        if let Ok(mut map) = self.unlimited.write() {
            if map.len() > 100_000 {
                map.retain(|_, at| at.elapsed() < NO_QUOTA_TTL);
            }
            map.insert(tenant.to_owned(), Instant::now());
        }
    }

    /// Whether `tenant` is known to have no quota (the trigger goes the usual way without asking).
    pub fn skip(&self, tenant: &str) -> bool {
        self.client.is_none() || self.known_unlimited(tenant)
    }

    /// Asks the execution service to admit `item` of `tenant`.
    pub async fn admit(&self, tenant: &str, item: &WorkItem) -> Verdict {
        let work_json = match serde_json::to_string(item) {
            Ok(j) => j,
            Err(e) => return Verdict::Unknown(e.to_string()),
        };
        let Some(client) = &self.client else {
            return Verdict::Unknown("quotas are not checked".into());
        };
        match client.clone().admit_work(AdmitWorkRequest { work_json }).await {
            Ok(r) => {
                let r = r.into_inner();
                if !r.has_quota {
                    self.remember_unlimited(tenant);
                }
                if r.admitted {
                    Verdict::Admitted
                } else {
                    Verdict::Limited {
                        retry_after: r.retry_after_secs.max(1),
                        reason: r.reason,
                    }
                }
            }
            Err(status) => Verdict::Unknown(status.message().to_owned()),
        }
    }
}
