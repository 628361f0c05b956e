//! Templates (API.md §4): the flow graph model plus `status` (draft | published), validated like flows but never
//! locked by a status. Node extras (`authorization`, `mapper`) are kept; they are template-only.

use serde_json::{Map, Value};

use crate::{
    error::{Fault, Problems},
    flow::validate::{validate_graph_document, validate_schedule},
};

/// The template status values `filter[status]` selects by; any other string a client sends is kept as it is.
pub const STATUSES: &[&str] = &["draft", "published"];

/// Fields the server manages on templates; ignored in request bodies.
pub const SERVER_FIELDS: &[&str] = &["id", "_id", "createdAt", "updatedAt", "version"];

/// Fields a template has that a generated flow must not (besides node extras).
pub const TEMPLATE_ONLY_FIELDS: &[&str] = &[
    "status",
    "id",
    "_id",
    "createdAt",
    "updatedAt",
    "version",
    "owners",
];

/// Node fields only templates carry.
pub const TEMPLATE_ONLY_NODE_FIELDS: &[&str] = &["authorization", "mapper"];

/// Validates a template body (every problem at once) and returns it cleaned: server fields removed, defaults
/// filled (`status` draft, `type` ordinary, empty owners and flowSettings).
pub fn validate_template(body: &Value) -> Result<Map<String, Value>, Fault> {
    let mut p = Problems::default();
    let Some(obj) = body.as_object() else {
        p.add("", "A template must be a JSON object.");
        return Err(p.finish().err().unwrap_or_else(Fault::internal));
    };
    // OIH's template repository words its messages for "Flow Templates" (`Flow Templates require a graph.`).
    validate_graph_document(obj, "Flow Template", &mut p);
    match obj.get("status") {
        None | Some(Value::Null) | Some(Value::String(_)) => {}
        Some(_) => p.add("/status", "status must be a string."),
    }
    validate_schedule(obj, &mut p);
    // Templates are shared and readable by every holder of templates.read, and are stored as given: a webhook
    // secret belongs on the generated flow, where it is sealed and write-only.
    if obj
        .get("flowSettings")
        .and_then(|f| f.pointer("/webhooks/hmacSecret"))
        .is_some_and(|v| !v.is_null())
    {
        p.add(
            "/flowSettings/webhooks/hmacSecret",
            "Templates cannot hold an hmacSecret: set it on the generated flow, where it is stored encrypted.",
        );
    }
    p.finish()?;
    let mut clean = obj.clone();
    for f in SERVER_FIELDS {
        clean.remove(*f);
    }
    for (key, default) in [
        ("name", Value::String(String::new())),
        ("description", Value::String(String::new())),
        ("type", Value::String("ordinary".into())),
        ("status", Value::String("draft".into())),
        ("owners", Value::Array(vec![])),
        ("flowSettings", Value::Object(Map::new())),
        ("cron", Value::Null),
    ] {
        if clean.get(key).is_none_or(Value::is_null) {
            clean.insert(key.to_owned(), default);
        }
    }
    Ok(clean)
}

/// Deep merge for generate: objects merge by key, arrays by index (`graph.nodes[0]` in `patch` patches the first
/// node), anything else replaces.
pub fn deep_merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(k) {
                    Some(existing) => deep_merge(existing, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(b), Value::Array(p)) => {
            for (i, v) in p.iter().enumerate() {
                match b.get_mut(i) {
                    Some(existing) => deep_merge(existing, v),
                    None => b.push(v.clone()),
                }
            }
        }
        (b, p) => *b = p.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn arrays_merge_by_index_and_objects_by_key() {
        let mut base = json!({"name": "t", "graph": {"nodes": [
            {"id": "a", "componentId": "webhook", "function": "receive", "fields": {"x": 1}},
            {"id": "b", "componentId": "http", "function": "request", "fields": {"url": "u", "method": "GET"}}]}});
        deep_merge(
            &mut base,
            &json!({"graph": {"nodes": [{}, {"fields": {"url": "v"}}]}, "name": "f"}),
        );
        assert_eq!(base["name"], "f");
        assert_eq!(base["graph"]["nodes"][0]["fields"], json!({"x": 1}));
        assert_eq!(
            base["graph"]["nodes"][1]["fields"],
            json!({"url": "v", "method": "GET"})
        );
        assert_eq!(base["graph"]["nodes"][1]["componentId"], "http");
    }

    #[test]
    fn templates_default_to_draft_and_validate_like_flows() {
        let t = validate_template(
            &json!({"graph": {"nodes": [{"id": "a", "componentId": "w", "function": "f"}]}}),
        )
        .unwrap();
        assert_eq!(t["status"], "draft");
        let err = validate_template(&json!({"status": 42})).unwrap_err();
        let fields: Vec<_> = err.problems.iter().filter_map(|p| p.field.clone()).collect();
        assert_eq!(fields, ["/graph", "/status"]);
        assert_eq!(err.problems[0].message, "Flow Templates require a graph.");
        let kept = validate_template(&json!({"status": "live", "type": "template",
            "graph": {"nodes": [{"id": "a", "componentId": "w", "function": "f"}]}}))
        .unwrap();
        assert_eq!(
            (&kept["status"], &kept["type"]),
            (&json!("live"), &json!("template"))
        );
    }
}
