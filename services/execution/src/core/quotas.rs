//! Tenant quotas (API.md §12): reading and setting them, and admitting a webhook's trigger against them. A
//! trigger of a tenant with a quota is recorded `queued` in the transaction that checks the quota (so `maxQueued`
//! counts exactly what is waiting), and its work message goes out through the outbox with it.

use flowmate_auth::Principal;
use flowmate_domain::{
    execution::WorkItem,
    quota::{Quota, QuotaState},
};

use super::{api::valid_id, ExecutionCore};
use crate::{
    error::{ExecutionError, Result},
    model::Admission,
};

impl ExecutionCore {
    /// A tenant's quota and usage: the caller's own tenant, or any tenant for a global admin.
    pub async fn quota(&self, caller: &Principal, tenant: &str) -> Result<QuotaState> {
        valid_id(tenant)?;
        if !caller.is_admin() && caller.tenant() != tenant {
            return Err(ExecutionError::MissingPermission);
        }
        Ok(self.store.quota_state(tenant).await?)
    }

    /// Sets a tenant's quota (global admins only); an unlimited one removes it.
    pub async fn set_quota(&self, caller: &Principal, tenant: &str, quota: Quota) -> Result<QuotaState> {
        if !caller.is_admin() {
            return Err(ExecutionError::MissingPermission);
        }
        valid_id(tenant)?;
        self.store.set_quota(tenant, &quota).await?;
        tracing::info!(tenant, ?quota, "tenant quota set");
        Ok(self.store.quota_state(tenant).await?)
    }

    /// Records a webhook's trigger `item` as a queued execution if its tenant's quota allows, with its work
    /// message. Recorded whether or not the tenant has a quota; a repeat of the same id records nothing new.
    pub async fn admit_work(&self, item: WorkItem) -> Result<Admission> {
        let plan = self
            .registry
            .get(&item.flow_id)
            .await?
            .ok_or_else(|| ExecutionError::FlowNotActive {
                flow_id: item.flow_id.to_string(),
            })?;
        let (execution, event) = super::api::queued_work(&plan, &item)?;
        let admission = self.store.insert_queued(&execution, &event).await?;
        if matches!(admission, Admission::Limited { .. }) {
            metrics::counter!("flowmate_quota_refusals_total", "source" => "webhook").increment(1);
        }
        Ok(admission)
    }
}
