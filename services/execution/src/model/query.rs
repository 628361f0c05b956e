//! What the executions API asks for: a filtered page, counts grouped by user, flow or component, and where a
//! retry starts.

/// Which executions to list.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// `None`: every tenant (global admins).
    pub tenant: Option<String>,
    /// `filter[flowId]`.
    pub flow_id: Option<String>,
    /// `filter[parentId]`: children of this execution.
    pub parent_id: Option<String>,
    /// `filter[status]`.
    pub status: Option<super::Status>,
    /// `filter[from]`: startedAt at or after.
    pub from: Option<String>,
    /// `filter[to]`: startedAt at or before.
    pub to: Option<String>,
    /// Oldest first instead of newest first.
    pub ascending: bool,
    /// 1..=1000.
    pub page_size: u32,
    /// 1-based.
    pub page_number: u32,
}

/// What `GET /icenter/executions` groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// The user on whose behalf executions ran.
    User,
    /// The flow.
    Flow,
    /// The components the executions' steps used.
    Component,
}

impl GroupBy {
    /// Parses `user|flow|component`.
    pub fn parse(s: &str) -> Option<GroupBy> {
        match s {
            "" | "user" => Some(GroupBy::User),
            "flow" => Some(GroupBy::Flow),
            "component" => Some(GroupBy::Component),
            _ => None,
        }
    }

    /// The key in the response items.
    pub fn key(self) -> &'static str {
        match self {
            GroupBy::User => "user",
            GroupBy::Flow => "flow",
            GroupBy::Component => "component",
        }
    }
}

/// Where `POST /executions/{id}/retry` starts the new execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryFrom {
    /// From the trigger, with the same message.
    Start,
    /// From the steps that failed, earlier outputs still available as `$steps`.
    Failed,
}

impl RetryFrom {
    /// Parses `start` (also the default, empty) or `failed`.
    pub fn parse(s: &str) -> Option<RetryFrom> {
        match s {
            "" | "start" => Some(RetryFrom::Start),
            "failed" => Some(RetryFrom::Failed),
            _ => None,
        }
    }
}
