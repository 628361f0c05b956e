//! FlowMate's domain: ids, entities, validation rules, event payloads and permissions. No IO lives here.

pub mod cron;
pub mod error;
pub mod event;
pub mod execution;
pub mod flow;
pub mod identity;
pub mod ids;
pub mod net;
pub mod permissions;
pub mod quota;
pub mod template;
pub mod time;

pub use error::{ErrorCode, Fault, Problem};
pub use event::Envelope;
pub use ids::{ExecutionId, FlowId, Id, InvalidId, TemplateId, TenantId, UserId};
