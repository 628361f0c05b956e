//! Tenant quotas on the wire (API.md §12): the `quota` a global admin sets with `PATCH /api/tenants/{id}` and
//! the `quota` and `usage` a tenant shows; `flowmate_domain::quota` is what the execution service enforces.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::identity::integral;

/// A tenant's limits (API.md §12); `null` is no limit. Past `maxQueued` or the rate, the tenant's webhooks and
/// runs get `429` with `Retry-After`; past `maxStoredExecutions` its oldest finished executions are deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantQuota {
    /// Executions accepted per minute (a sliding minute).
    #[serde(default, deserialize_with = "limit")]
    #[schema(minimum = 1, maximum = 4294967295_u64)]
    pub executions_per_minute: Option<u32>,
    /// Executions accepted and not started yet.
    #[serde(default, deserialize_with = "limit")]
    #[schema(minimum = 1, maximum = 4294967295_u64)]
    pub max_queued: Option<u32>,
    /// Executions kept.
    #[serde(default, deserialize_with = "limit")]
    #[schema(minimum = 1, maximum = 4294967295_u64)]
    pub max_stored_executions: Option<u32>,
}

/// What a tenant uses now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantUsage {
    /// Accepted, not started yet.
    pub queued: u64,
    /// Started, not finished.
    pub running: u64,
    /// Accepted in the last minute.
    pub executions_last_minute: u64,
    /// Executions stored.
    pub stored_executions: u64,
}

impl From<TenantQuota> for flowmate_domain::quota::Quota {
    fn from(q: TenantQuota) -> Self {
        flowmate_domain::quota::Quota {
            executions_per_minute: q.executions_per_minute,
            max_queued: q.max_queued,
            max_stored_executions: q.max_stored_executions,
        }
    }
}

impl From<flowmate_domain::quota::QuotaState> for TenantUsage {
    fn from(s: flowmate_domain::quota::QuotaState) -> Self {
        TenantUsage {
            queued: s.usage.queued,
            running: s.usage.running,
            executions_last_minute: s.usage.executions_last_minute,
            stored_executions: s.usage.stored_executions,
        }
    }
}

impl From<flowmate_domain::quota::QuotaState> for TenantQuota {
    fn from(s: flowmate_domain::quota::QuotaState) -> Self {
        TenantQuota {
            executions_per_minute: s.quota.executions_per_minute,
            max_queued: s.quota.max_queued,
            max_stored_executions: s.quota.max_stored_executions,
        }
    }
}

/// A quota limit: a whole number from 0 to 2^32 − 1, also written with a zero fraction; `null` is none (0 is
/// refused later with its own message).
fn limit<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    match integral(d)? {
        None => Ok(None),
        Some(n) => u32::try_from(n)
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("expected 1 to 4294967295, found {n}"))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn quota_limits_are_integers_also_with_a_zero_fraction() {
        let q: TenantQuota = serde_json::from_value(serde_json::json!({"maxQueued": 495782.0})).unwrap();
        assert_eq!(q.max_queued, Some(495_782));
        assert!(serde_json::from_value::<TenantQuota>(serde_json::json!({"maxQueued": 1.5})).is_err());
        assert!(
            serde_json::from_value::<TenantQuota>(serde_json::json!({"maxQueued": 4294967296_u64})).is_err()
        );
    }
}
