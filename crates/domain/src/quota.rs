//! Tenant quotas (API.md §12): how much one tenant may run, and what it uses now. The execution service keeps
//! and enforces them (it is the one that knows what is queued and running); the gateway shows them on the tenant.

use serde::{Deserialize, Serialize};

/// A tenant's limits; `None` is no limit. Past `max_queued` or the rate, webhooks and runs get `429`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Quota {
    /// Executions accepted per minute (sliding window).
    #[serde(default)]
    pub executions_per_minute: Option<u32>,
    /// Executions accepted and not started yet.
    #[serde(default)]
    pub max_queued: Option<u32>,
    /// Executions kept; past it the oldest finished ones are deleted.
    #[serde(default)]
    pub max_stored_executions: Option<u32>,
}

impl Quota {
    /// Whether it limits nothing.
    pub fn is_unlimited(&self) -> bool {
        self.executions_per_minute.is_none()
            && self.max_queued.is_none()
            && self.max_stored_executions.is_none()
    }

    /// The problems of a quota someone wants to set: every limit is 1 or more.
    pub fn problems(&self) -> Vec<(&'static str, &'static str)> {
        [
            ("executionsPerMinute", self.executions_per_minute),
            ("maxQueued", self.max_queued),
            ("maxStoredExecutions", self.max_stored_executions),
        ]
        .into_iter()
        .filter(|(_, v)| *v == Some(0))
        .map(|(name, _)| (name, "must be 1 or more (or null for no limit)"))
        .collect()
    }
}

/// What a tenant uses now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    /// Accepted, not started yet (waiting for a worker or for a flow's concurrency slot).
    pub queued: u64,
    /// Started, not finished (parked ones included).
    pub running: u64,
    /// Accepted in the last minute (the sliding window the rate is checked against).
    pub executions_last_minute: u64,
    /// Executions stored.
    pub stored_executions: u64,
}

/// A tenant's quota and usage, as the execution service answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaState {
    /// Its limits (all `None`: none).
    pub quota: Quota,
    /// What it uses.
    pub usage: Usage,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_and_zero_limits_are_refused() {
        assert!(serde_json::from_value::<Quota>(serde_json::json!({"maxQueud": 1})).is_err());
        let q: Quota = serde_json::from_value(serde_json::json!({"maxQueued": 0})).unwrap();
        assert_eq!(
            q.problems(),
            vec![("maxQueued", "must be 1 or more (or null for no limit)")]
        );
        assert!(Quota::default().is_unlimited());
    }
}
