//! Builders for flow bodies, and the sample order the scenarios send.

use serde_json::{json, Value};

/// A graph node.
pub fn node(id: &str, component: &str, function: &str, fields: Value) -> Value {
    json!({"id": id, "componentId": component, "function": function, "fields": fields})
}

/// A graph edge without condition or mapper.
pub fn edge(source: &str, target: &str) -> Value {
    json!({"source": source, "target": target})
}

/// A flow body with its graph.
pub fn flow(name: &str, nodes: Vec<Value>, edges: Vec<Value>) -> Value {
    json!({"name": name, "graph": {"nodes": nodes, "edges": edges}})
}

/// An order with a customer and two items (total 17).
pub fn order() -> Value {
    json!({"id": "ord-1", "customer": {"name": "Ada"}, "items": [{"price": 3.5, "qty": 2}, {"price": 10, "qty": 1}]})
}
