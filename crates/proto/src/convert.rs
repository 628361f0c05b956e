//! Conversions between generated messages and domain types, and domain faults <-> gRPC status.

use flowmate_domain::{identity as dom, ErrorCode, Fault, Problem};
use prost::Message;

use crate::{common::v1 as common, identity::v1 as pb};

/// Renders a domain fault as a gRPC status whose details carry every problem.
pub fn status_from_fault(fault: &Fault) -> tonic::Status {
    let code = match fault.code {
        ErrorCode::InvalidArgument | ErrorCode::PayloadTooLarge | ErrorCode::UnsupportedMediaType => {
            tonic::Code::InvalidArgument
        }
        ErrorCode::Unauthenticated => tonic::Code::Unauthenticated,
        ErrorCode::Forbidden => tonic::Code::PermissionDenied,
        ErrorCode::NotFound => tonic::Code::NotFound,
        ErrorCode::MethodNotAllowed => tonic::Code::Unimplemented,
        ErrorCode::AlreadyExists => tonic::Code::AlreadyExists,
        ErrorCode::FailedPrecondition => tonic::Code::FailedPrecondition,
        ErrorCode::TooManyRequests => tonic::Code::ResourceExhausted,
        ErrorCode::Unavailable => tonic::Code::Unavailable,
        ErrorCode::Timeout => tonic::Code::DeadlineExceeded,
        ErrorCode::Internal => tonic::Code::Internal,
    };
    let details = details_from_fault(fault);
    tonic::Status::with_details(code, fault.message().to_owned(), details.encode_to_vec().into())
}

/// A fault as the error details message (also the per-item errors of bulk calls).
pub fn details_from_fault(fault: &Fault) -> common::ErrorDetails {
    common::ErrorDetails {
        code: fault.code.as_str().to_owned(),
        problems: fault
            .problems
            .iter()
            .map(|p| common::Problem {
                message: p.message.clone(),
                field: p.field.clone(),
                detail: p.detail.clone(),
            })
            .collect(),
        retry_after_secs: fault.retry_after,
    }
}

/// Error details back into a fault.
pub fn fault_from_details(d: common::ErrorDetails) -> Fault {
    Fault {
        code: ErrorCode::parse(&d.code).unwrap_or(ErrorCode::Internal),
        problems: d
            .problems
            .into_iter()
            .map(|p| Problem {
                message: p.message,
                field: p.field,
                detail: p.detail,
            })
            .collect(),
        retry_after: d.retry_after_secs,
    }
}

/// Reads a status back into a domain fault; statuses without FlowMate details (transport errors) map by gRPC code.
pub fn fault_from_status(status: &tonic::Status) -> Fault {
    if let Ok(d) = common::ErrorDetails::decode(status.details()) {
        if ErrorCode::parse(&d.code).is_some() {
            return fault_from_details(d);
        }
    }
    let code = match status.code() {
        tonic::Code::InvalidArgument => ErrorCode::InvalidArgument,
        tonic::Code::Unauthenticated => ErrorCode::Unauthenticated,
        tonic::Code::PermissionDenied => ErrorCode::Forbidden,
        tonic::Code::NotFound => ErrorCode::NotFound,
        tonic::Code::AlreadyExists => ErrorCode::AlreadyExists,
        tonic::Code::FailedPrecondition => ErrorCode::FailedPrecondition,
        tonic::Code::ResourceExhausted => ErrorCode::TooManyRequests,
        tonic::Code::Unavailable => ErrorCode::Unavailable,
        tonic::Code::DeadlineExceeded | tonic::Code::Cancelled => ErrorCode::Timeout,
        _ => ErrorCode::Internal,
    };
    match code {
        ErrorCode::Internal | ErrorCode::Unavailable | ErrorCode::Timeout => {
            Fault::new(code, default_message(code))
        }
        _ => Fault::new(code, status.message()),
    }
}

fn default_message(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::Unavailable => "service unavailable",
        ErrorCode::Timeout => "upstream timeout",
        _ => "internal error",
    }
}

impl From<dom::Role> for pb::Role {
    fn from(r: dom::Role) -> Self {
        pb::Role {
            id: r.id,
            name: r.name,
            permissions: r.permissions,
            scope: r.scope,
            created_at: r.created_at,
            updated_at: r.updated_at,
            is_global: r.is_global,
            description: r.description,
            tenant: r.tenant,
        }
    }
}

impl From<pb::Role> for dom::Role {
    fn from(r: pb::Role) -> Self {
        dom::Role {
            id: r.id,
            name: r.name,
            permissions: r.permissions,
            scope: r.scope,
            created_at: r.created_at,
            updated_at: r.updated_at,
            is_global: r.is_global,
            description: r.description,
            tenant: r.tenant,
        }
    }
}

impl From<dom::User> for pb::User {
    fn from(u: dom::User) -> Self {
        pb::User {
            id: u.id,
            username: u.username,
            firstname: u.firstname,
            lastname: u.lastname,
            status: u.status.as_str().to_owned(),
            tenant: u.tenant,
            roles: u.roles.into_iter().map(Into::into).collect(),
            permissions: u.permissions,
            confirmed: u.confirmed,
            img: u.img,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

impl TryFrom<pb::User> for dom::User {
    type Error = Fault;
    fn try_from(u: pb::User) -> Result<Self, Fault> {
        Ok(dom::User {
            status: dom::Status::parse(&u.status).ok_or_else(Fault::internal)?,
            id: u.id,
            username: u.username,
            firstname: u.firstname,
            lastname: u.lastname,
            tenant: u.tenant,
            roles: u.roles.into_iter().map(Into::into).collect(),
            permissions: u.permissions,
            confirmed: u.confirmed,
            img: u.img,
            created_at: u.created_at,
            updated_at: u.updated_at,
        })
    }
}

impl From<dom::Tenant> for pb::Tenant {
    fn from(t: dom::Tenant) -> Self {
        pb::Tenant {
            id: t.id,
            name: t.name,
            status: t.status.as_str().to_owned(),
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

impl TryFrom<pb::Tenant> for dom::Tenant {
    type Error = Fault;
    fn try_from(t: pb::Tenant) -> Result<Self, Fault> {
        Ok(dom::Tenant {
            status: dom::Status::parse(&t.status).ok_or_else(Fault::internal)?,
            id: t.id,
            name: t.name,
            created_at: t.created_at,
            updated_at: t.updated_at,
        })
    }
}

impl From<dom::Revocation> for pb::Revocation {
    fn from(r: dom::Revocation) -> Self {
        let kind = match r {
            dom::Revocation::Token { jti, expires_at } => {
                pb::revocation::Kind::Token(pb::RevokedToken { jti, expires_at })
            }
            dom::Revocation::User { user_id, not_before } => {
                pb::revocation::Kind::User(pb::RevokedUser { user_id, not_before })
            }
        };
        pb::Revocation { kind: Some(kind) }
    }
}

impl TryFrom<pb::Revocation> for dom::Revocation {
    type Error = Fault;
    fn try_from(r: pb::Revocation) -> Result<Self, Fault> {
        match r.kind.ok_or_else(Fault::internal)? {
            pb::revocation::Kind::Token(t) => Ok(dom::Revocation::Token {
                jti: t.jti,
                expires_at: t.expires_at,
            }),
            pb::revocation::Kind::User(u) => Ok(dom::Revocation::User {
                user_id: u.user_id,
                not_before: u.not_before,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_survives_the_trip_through_a_grpc_status() {
        let fault = Fault::invalid(vec![
            Problem {
                message: "bad".into(),
                field: Some("/username".into()),
                detail: None,
            },
            Problem {
                message: "short".into(),
                field: Some("/password".into()),
                detail: Some("x".into()),
            },
        ]);
        assert_eq!(fault_from_status(&status_from_fault(&fault)), fault);
    }

    #[test]
    fn transport_errors_never_leak_their_text() {
        let f = fault_from_status(&tonic::Status::internal("connection refused at 10.0.0.1"));
        assert_eq!(f.message(), "internal error");
    }
}
