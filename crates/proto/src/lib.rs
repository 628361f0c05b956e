//! FlowMate's gRPC contracts, generated from `proto/`, and the one place proto <-> domain conversions live.

#![allow(clippy::all, missing_docs)]

mod convert;
mod redact;
pub mod transport;

/// The largest gRPC message services send or accept: well above the REST body limit (10 MiB by default), so a
/// body the gateway accepted never fails between services.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

pub use convert::{details_from_fault, fault_from_details, fault_from_status, status_from_fault};

/// Shared messages.
pub mod common {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("flowmate.common.v1");
    }
}

/// The identity service.
pub mod identity {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("flowmate.identity.v1");
    }
}

/// The flow repository.
pub mod flows {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("flowmate.flows.v1");
    }
}

/// The template service.
pub mod templates {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("flowmate.templates.v1");
    }
}

/// The execution service.
pub mod executions {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("flowmate.executions.v1");
    }
}

/// The webhook service.
pub mod webhooks {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("flowmate.webhooks.v1");
    }
}

/// The secret service.
pub mod secrets {
    /// Version 1.
    pub mod v1 {
        tonic::include_proto!("flowmate.secrets.v1");
    }
}
