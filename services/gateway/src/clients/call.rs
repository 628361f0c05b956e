//! What every client call to a service shares: a lazily connecting channel, a deadline, the caller's token and
//! the trace context in the metadata.

use std::time::Duration;

use flowmate_proto::transport::{self, Transport};
use tonic::{metadata::MetadataValue, Request};

/// A transport to `url` (`http://host:port`) that connects on first use and reconnects after failures; in
/// process when the service runs in this process.
pub fn channel(url: &str) -> Result<Transport, http::uri::InvalidUri> {
    transport::connect(url, None)
}

/// A request carrying `token` (when given), the current trace context, and a deadline.
pub fn request<T>(token: Option<&str>, timeout: Duration, message: T) -> Request<T> {
    let mut request = flowmate_telemetry::propagation::inject_grpc(Request::new(message));
    request.set_timeout(timeout);
    if let Some(t) = token {
        if let Ok(v) = MetadataValue::try_from(format!("Bearer {t}")) {
            request.metadata_mut().insert("authorization", v);
        }
    }
    request
}

/// A failed call as a fault. Failures without a FlowMate error (transport, timeouts, panics in a service) lose
/// their text on the way to the client, so their cause is logged here, inside the request's span.
pub fn fault(status: tonic::Status) -> flowmate_domain::Fault {
    let fault = flowmate_proto::fault_from_status(&status);
    if fault.code.http_status() >= 500 {
        tracing::error!(grpc_code = ?status.code(), cause = %status.message(), "service call failed");
    }
    fault
}
