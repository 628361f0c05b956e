//! Flow validation (API.md §3): every failure is reported at once, each with the JSON pointer of its field.
//! Validation works on the raw JSON so that missing and mistyped fields are reported like any other problem.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::{
    error::{Fault, Problems},
    flow::FlowBody,
};

/// Fields the server manages; they are ignored in request bodies.
pub const SERVER_FIELDS: &[&str] = &[
    "id",
    "_id",
    "status",
    "statusReason",
    "createdAt",
    "updatedAt",
    "version",
];

const STATUS_MESSAGE: &str =
    "Flow status cannot be set manually. Use the flow start/stop end points instead.";
/// The longest `type` accepted (a free string, as in OIH).
const MAX_TYPE: usize = 100;
const MAX_NODE_ID: usize = 30;

/// Validates a flow body (after a merge, for updates) and returns it typed. Server-managed fields are ignored,
/// except that a `status` other than `inactive` is an error.
pub fn validate_body(body: &Value) -> Result<FlowBody, Fault> {
    let mut p = Problems::default();
    let Some(obj) = body.as_object() else {
        p.add("", "A flow must be a JSON object.");
        return Err(p.finish().err().unwrap_or_else(Fault::internal));
    };
    validate_graph_document(obj, "Flow", &mut p);
    match obj.get("status") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s == "inactive" => {}
        Some(_) => p.add("/status", STATUS_MESSAGE),
    }
    validate_schedule(obj, &mut p);
    optional_string(obj, "fromTemplate", "/fromTemplate", &mut p);
    p.finish()?;

    let mut clean = obj.clone();
    for f in SERVER_FIELDS {
        clean.remove(*f);
    }
    for key in ["name", "description", "tenant", "type", "flowSettings"] {
        if clean.get(key) == Some(&Value::Null) {
            clean.remove(key);
        }
    }
    serde_json::from_value(Value::Object(clean)).map_err(|e| {
        let mut p = Problems::default();
        p.add("", format!("Invalid flow: {e}"));
        p.finish().err().unwrap_or_else(Fault::internal)
    })
}

/// The rules flows and templates share: scalar fields, type, graph, owners, cron and flowSettings.
pub(crate) fn validate_graph_document(obj: &Map<String, Value>, kind: &str, p: &mut Problems) {
    for (key, ptr) in [
        ("name", "/name"),
        ("description", "/description"),
        ("tenant", "/tenant"),
    ] {
        optional_string(obj, key, ptr, p);
    }
    match obj.get("type") {
        None | Some(Value::Null) => {}
        // A free string as in OIH (`ordinary`, `realtime`, `long_running` are the usual values; OIH clients also
        // send `long-running`, `flow`, `template`).
        Some(Value::String(t)) if t.chars().count() <= MAX_TYPE => {}
        Some(Value::String(_)) => p.add("/type", format!("type must be at most {MAX_TYPE} characters.")),
        Some(_) => p.add("/type", "type must be a string."),
    }
    match obj.get("graph") {
        None | Some(Value::Null) => p.add("/graph", format!("{kind}s require a graph.")),
        Some(Value::Object(graph)) => validate_graph(graph, kind, p),
        Some(_) => p.add("/graph", "graph must be an object."),
    }
    validate_owners(obj.get("owners"), kind, p);
}

/// Checks the fields that come after the shared ones (so problems keep the documented order).
pub(crate) fn validate_schedule(obj: &Map<String, Value>, p: &mut Problems) {
    match obj.get("cron") {
        None | Some(Value::Null) => {}
        Some(Value::String(c)) if crate::cron::parse(c).is_some() => {}
        Some(_) => p.add("/cron", "Invalid cron expression."),
    }
    match obj.get("flowSettings") {
        None | Some(Value::Null) => {}
        Some(Value::Object(settings)) => match settings.get("concurrency") {
            None | Some(Value::Null) => {}
            Some(v)
                if v.as_u64()
                    .is_some_and(|n| (1..=super::MAX_CONCURRENCY).contains(&n)) => {}
            Some(_) => p.add(
                "/flowSettings/concurrency",
                "flowSettings.concurrency must be a whole number from 1 to 10000 (or null for no limit).",
            ),
        },
        Some(_) => p.add("/flowSettings", "flowSettings must be an object."),
    }
}

pub(crate) fn optional_string(obj: &Map<String, Value>, key: &str, ptr: &str, p: &mut Problems) {
    match obj.get(key) {
        None | Some(Value::Null) | Some(Value::String(_)) => {}
        Some(_) => p.add(ptr, format!("{key} must be a string.")),
    }
}

fn required_string<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    ptr: &str,
    missing: &str,
    p: &mut Problems,
) -> Option<&'a str> {
    match obj.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s),
        None | Some(Value::Null) | Some(Value::String(_)) => {
            p.add(ptr, missing);
            None
        }
        Some(_) => {
            p.add(ptr, format!("{key} must be a string."));
            None
        }
    }
}

fn validate_graph(graph: &Map<String, Value>, kind: &str, p: &mut Problems) {
    let nodes = match graph.get("nodes") {
        Some(Value::Array(nodes)) => nodes.as_slice(),
        None | Some(Value::Null) => &[],
        Some(_) => {
            p.add("/graph/nodes", "nodes must be an array.");
            return;
        }
    };
    if nodes.is_empty() {
        p.add("/graph/nodes", format!("{kind}s require at least one node."));
    }
    let mut ids: HashSet<&str> = HashSet::new();
    for (i, node) in nodes.iter().enumerate() {
        validate_node(node, &format!("/graph/nodes/{i}"), kind, &mut ids, p);
    }
    let edges = match graph.get("edges") {
        Some(Value::Array(edges)) => edges.as_slice(),
        None | Some(Value::Null) => &[],
        Some(_) => {
            p.add("/graph/edges", "edges must be an array.");
            return;
        }
    };
    if nodes.len() > 1 && edges.is_empty() {
        p.add(
            "/graph/edges",
            format!("{kind}s with more than one node require edges."),
        );
    }
    for (i, edge) in edges.iter().enumerate() {
        validate_edge(edge, &format!("/graph/edges/{i}"), kind, &ids, p);
    }
}

/// One node at JSON pointer `base`; its id joins `ids` (duplicates are a problem).
fn validate_node<'a>(node: &'a Value, base: &str, kind: &str, ids: &mut HashSet<&'a str>, p: &mut Problems) {
    let Some(node) = node.as_object() else {
        p.add(base, "A node must be an object.");
        return;
    };
    if let Some(id) = required_string(
        node,
        "id",
        &format!("{base}/id"),
        &format!("{kind} nodes require an id."),
        p,
    ) {
        if id.chars().count() > MAX_NODE_ID {
            p.add(
                &format!("{base}/id"),
                format!("Node id must be at most {MAX_NODE_ID} characters."),
            );
        } else if !ids.insert(id) {
            p.add(&format!("{base}/id"), format!("Duplicate node id \"{id}\"."));
        }
    }
    required_string(
        node,
        "componentId",
        &format!("{base}/componentId"),
        &format!("{kind} nodes require a componentId."),
        p,
    );
    required_string(
        node,
        "function",
        &format!("{base}/function"),
        &format!("{kind} nodes require a function."),
        p,
    );
    for key in ["name", "description", "credentials_id"] {
        optional_string(node, key, &format!("{base}/{key}"), p);
    }
    for key in ["fields", "nodeSettings"] {
        match node.get(key) {
            None | Some(Value::Null) | Some(Value::Object(_)) => {}
            Some(_) => p.add(&format!("{base}/{key}"), format!("{key} must be an object.")),
        }
    }
}

/// One edge at JSON pointer `base`: its ends must name nodes in `ids`.
fn validate_edge(edge: &Value, base: &str, kind: &str, ids: &HashSet<&str>, p: &mut Problems) {
    let Some(edge) = edge.as_object() else {
        p.add(base, "An edge must be an object.");
        return;
    };
    optional_string(edge, "id", &format!("{base}/id"), p);
    for (key, missing) in [
        ("source", &format!("{kind} edges require a source.")),
        ("target", &format!("{kind} edges require a target.")),
    ] {
        let ptr = format!("{base}/{key}");
        if let Some(end) = required_string(edge, key, &ptr, missing, p) {
            if !ids.contains(end) {
                let which = if key == "source" {
                    "Edge source"
                } else {
                    "Edge target"
                };
                p.add(
                    &ptr,
                    format!("{which} with id \"{end}\" could not be found among nodes."),
                );
            }
        }
    }
    match edge.get("config") {
        None | Some(Value::Null) => {}
        Some(Value::Object(config)) => {
            optional_string(config, "condition", &format!("{base}/config/condition"), p)
        }
        Some(_) => p.add(&format!("{base}/config"), "config must be an object."),
    }
}

fn validate_owners(owners: Option<&Value>, kind: &str, p: &mut Problems) {
    let owners = match owners {
        None | Some(Value::Null) => return,
        Some(Value::Array(list)) => list,
        Some(_) => {
            p.add("/owners", "owners must be an array.");
            return;
        }
    };
    for (i, owner) in owners.iter().enumerate() {
        let base = format!("/owners/{i}");
        let Some(owner) = owner.as_object() else {
            p.add(&base, "An owner must be an object.");
            continue;
        };
        required_string(
            owner,
            "id",
            &format!("{base}/id"),
            &format!("{kind} owners require an id."),
            p,
        );
        let ptr = format!("{base}/type");
        if let Some(owner_type) =
            required_string(owner, "type", &ptr, &format!("{kind} owners require a type."), p)
        {
            if owner_type != "user" && owner_type != "tenant" {
                p.add(&ptr, format!("{kind} owner type must be user or tenant."));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn problems(v: Value) -> Vec<(String, String)> {
        validate_body(&v)
            .unwrap_err()
            .problems
            .into_iter()
            .map(|p| (p.field.unwrap_or_default(), p.message))
            .collect()
    }

    #[test]
    fn a_minimal_flow_is_valid_and_gets_defaults() {
        let body = validate_body(
            &json!({"graph": {"nodes": [{"id": "a", "componentId": "webhook", "function": "receive"}]}}),
        )
        .unwrap();
        assert_eq!(body.kind, "ordinary");
        assert_eq!(body.flow_settings, json!({}));
        assert_eq!(body.graph.nodes[0].fields, json!({}));
    }

    #[test]
    fn every_problem_is_listed_with_its_pointer() {
        let got = problems(json!({
            "name": 5,
            "status": "active",
            "cron": "every day",
            "owners": [{"id": "u"}],
            "graph": {"nodes": [
                {"id": "a", "componentId": "webhook", "function": "receive"},
                {"id": "a", "function": ""},
                {"id": "x".repeat(31), "componentId": "log", "function": "write"}
            ], "edges": [{"source": "a", "target": "zzz"}, {}]}
        }));
        let fields: Vec<&str> = got.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "/name",
                "/graph/nodes/1/id",
                "/graph/nodes/1/componentId",
                "/graph/nodes/1/function",
                "/graph/nodes/2/id",
                "/graph/edges/0/target",
                "/graph/edges/1/source",
                "/graph/edges/1/target",
                "/owners/0/type",
                "/status",
                "/cron",
            ]
        );
        assert_eq!(
            got[5].1,
            "Edge target with id \"zzz\" could not be found among nodes."
        );
        assert_eq!(got[9].1, STATUS_MESSAGE);
    }

    #[test]
    fn a_graph_is_required_and_several_nodes_need_edges() {
        assert_eq!(
            problems(json!({})),
            [("/graph".into(), "Flows require a graph.".into())]
        );
        assert_eq!(
            problems(json!({"graph": {"nodes": []}}))[0].1,
            "Flows require at least one node."
        );
        let two = json!({"graph": {"nodes": [
            {"id": "a", "componentId": "webhook", "function": "receive"},
            {"id": "b", "componentId": "log", "function": "write"}]}});
        assert_eq!(problems(two)[0].1, "Flows with more than one node require edges.");
    }

    #[test]
    fn server_fields_are_ignored_and_inactive_status_is_allowed() {
        let body = validate_body(&json!({"id": "x", "status": "inactive", "version": 9,
            "graph": {"nodes": [{"id": "a", "componentId": "webhook", "function": "receive"}]}}));
        assert!(body.is_ok());
    }
}
