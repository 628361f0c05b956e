//! Which secrets each component can use, and a flow's uses of secrets for the start-time check.

use flowmate_domain::flow::Flow;
use flowmate_proto::secrets::v1::CredentialUse;

const ALL_TYPES: &[&str] = &[
    "SIMPLE",
    "API_KEY",
    "MIXED",
    "OA2_CLIENT_CREDENTIALS",
    "OA2_AUTHORIZATION_CODE",
];

/// The secret types a component can use, and the fields a MIXED payload must have for it. Components that take
/// no secret accept none (a node of theirs naming one fails to start). The `sql`, `email` and `amqp` steps add
/// their lines here (`sql`: MIXED with `url`; `email`: SIMPLE; `amqp`: MIXED with `url`).
pub fn accepts(component: &str, function: &str) -> (&'static [&'static str], &'static [&'static str]) {
    match (component, function) {
        ("http", "request") => (ALL_TYPES, &["headers"]),
        ("sql", "query") | ("amqp", "publish") | ("amqp", "consume") => (&["MIXED"], &["url"]),
        ("email", "send") => (&["SIMPLE"], &[]),
        _ => (&[], &[]),
    }
}

/// The nodes of `flow` that name a secret, as the secret service's check takes them.
pub fn uses_of(flow: &Flow) -> Vec<CredentialUse> {
    flow.body
        .graph
        .nodes
        .iter()
        .filter_map(|n| {
            let id = n.credentials_id.as_deref().filter(|id| !id.trim().is_empty())?;
            let (types, fields) = accepts(&n.component_id, &n.function);
            Some(CredentialUse {
                node_id: n.id.clone(),
                secret_id: id.to_owned(),
                accepted_types: types.iter().map(|t| t.to_string()).collect(),
                mixed_fields: fields.iter().map(|f| f.to_string()).collect(),
                component: format!("{}.{}", n.component_id, n.function),
            })
        })
        .collect()
}
