//! The OpenAPI document as a client generator and schemathesis read it: error responses on every operation, the
//! array bodies, the `?meta=true` envelopes, the hook methods, real schemas and parameter constraints; and the
//! identity bodies that must be JSON objects.

use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use super::{app, send};
use crate::fakes::{token, OTHER_TENANT};

fn document() -> &'static Value {
    flowmate_gateway::openapi::document()
}

fn operations() -> Vec<(String, String, &'static Value)> {
    let mut out = Vec::new();
    for (path, item) in document()["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((path.clone(), method.clone(), op));
        }
    }
    out
}

fn error_ref(op: &Value, status: &str) -> Value {
    op["responses"][status]["content"]["application/json"]["schema"].clone()
}

#[test]
fn every_operation_declares_its_error_responses_with_the_one_error_schema() {
    let body = json!({"$ref": "#/components/schemas/ErrorBody"});
    for (path, method, op) in operations() {
        let name = format!("{method} {path}");
        if method == "head" {
            continue;
        }
        if op["security"].as_array().is_some_and(|s| !s.is_empty()) {
            assert_eq!(error_ref(op, "401"), body, "{name}: 401");
            assert!(
                op["responses"]["401"]["headers"]["WWW-Authenticate"].is_object(),
                "{name}"
            );
        }
        if path.contains("{id}") || path.contains("{flowId}") {
            assert_eq!(error_ref(op, "400"), body, "{name}: 400 Invalid id");
            assert_eq!(error_ref(op, "404"), body, "{name}: 404");
        }
        if op["requestBody"]["content"]["application/json"].is_object() {
            assert_eq!(error_ref(op, "413"), body, "{name}: 413");
            assert_eq!(error_ref(op, "415"), body, "{name}: 415");
        }
        for (status, response) in op["responses"].as_object().unwrap() {
            if status.starts_with('2')
                && status != "204"
                && method != "head"
                && path != "/api/tokens/introspect"
            {
                assert!(
                    response["content"]["application/json"]["schema"].is_object(),
                    "{name}: {status} has a schema"
                );
            }
        }
    }
    for op in ["login", "triggerWebhook", "runFlow"] {
        let (_, _, found) = operations()
            .into_iter()
            .find(|(_, _, o)| o["operationId"] == op)
            .unwrap();
        assert_eq!(error_ref(found, "429"), body, "{op}: 429");
    }
}

#[test]
fn array_bodies_envelopes_and_hook_methods_are_described() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    let create = &schemas["CreateFlows"]["oneOf"];
    assert_eq!(create[0]["$ref"], "#/components/schemas/FlowInput");
    assert_eq!(
        (create[1]["type"].as_str(), create[1]["minItems"].as_u64()),
        (Some("array"), Some(1))
    );
    for path in ["/flows/multiple/start", "/flows/multiple/stop"] {
        let schema = &doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"];
        assert_eq!(schema["type"], "array", "{path}");
    }
    let me = &doc["paths"]["/api/users/me"]["get"];
    assert_eq!(
        me["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/UserAnswer"
    );
    let variants: Vec<&str> = schemas["UserAnswer"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["$ref"].as_str())
        .collect();
    assert_eq!(
        variants,
        ["#/components/schemas/User", "#/components/schemas/UserEnvelope"]
    );
    assert!(me["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "meta"));
    for method in ["get", "head", "post"] {
        assert!(
            doc["paths"]["/hook/{flowId}"][method].is_object(),
            "{method} /hook/{{flowId}}"
        );
    }
}

#[test]
fn schemas_are_real_and_parameters_constrained() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    let required = |name: &str| -> Vec<String> {
        schemas[name]["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    for field in ["id", "name", "graph", "status", "owners", "version", "createdAt"] {
        assert!(required("Flow").contains(&field.to_owned()), "Flow.{field}");
    }
    assert!(required("Template").contains(&"graph".to_owned()));
    assert_eq!(required("Node"), ["id", "componentId", "function"]);
    assert!(
        schemas["Node"]["additionalProperties"].is_object(),
        "nodes keep unknown fields"
    );
    for field in [
        "id",
        "username",
        "firstname",
        "lastname",
        "status",
        "tenant",
        "roles",
        "permissions",
    ] {
        assert!(required("User").contains(&field.to_owned()), "User.{field}");
        let kind = &schemas["User"]["properties"][field]["type"];
        assert!(
            kind == "string" || kind == "array",
            "User.{field} is not nullable: {kind}"
        );
    }
    assert_eq!(
        required("CreateUser"),
        ["username", "password", "firstname", "lastname"]
    );
    let list = &doc["paths"]["/flows"]["get"]["parameters"];
    let param = |name: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()["schema"]
            .clone()
    };
    assert_eq!(
        (
            param("page[size]")["minimum"].clone(),
            param("page[size]")["maximum"].clone()
        ),
        (json!(1), json!(1000))
    );
    assert_eq!(param("page[number]")["minimum"], 1);
    let id = &doc["paths"]["/flows/{id}"]["get"]["parameters"][0]["schema"];
    assert!(id["pattern"].as_str().unwrap().contains("{24}"));
}

#[tokio::test]
async fn identity_bodies_must_be_json_objects() {
    let (router, _, signer) = app(&[]);
    let (admin, _) = token(&signer, &["all"]);
    let path = format!("/api/tenants/{OTHER_TENANT}");
    for body in [json!([null, null]), json!("name"), json!(5)] {
        let (status, _, answer) =
            send(&router, Method::PUT, &path, Some(&admin), Some(body.clone()), &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(
            answer["errors"][0]["message"],
            "The request body must be a JSON object"
        );
    }
    let (status, _, _) = send(
        &router,
        Method::POST,
        "/login",
        None,
        Some(json!(["a", "b"])),
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
