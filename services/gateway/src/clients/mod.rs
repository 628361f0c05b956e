//! Clients of the services behind the gateway.

mod identity;

pub use identity::{GrpcIdentity, IdentityApi, UserFilter};
