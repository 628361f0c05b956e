//! What every operation of the OpenAPI document has in common, applied once to the generated document instead of
//! being repeated on sixty annotations: the error responses the gateway's extractors and middleware give (401 with
//! `WWW-Authenticate`, 403, `400 Invalid id`, 404, 413, 415, 429), all with the one error schema, and the real
//! constraints of the shared query and path parameters (API.md §1: well-formed ids, `page[size]` 1..1000,
//! `page[number]` ≥ 1, the `meta` switch, the filter vocabularies).

use serde_json::{json, Map, Value};

use crate::extract::MAX_PAGE_NUMBER;

/// A well-formed id (API.md §1): a UUID or 24 hex digits.
pub const ID_PATTERN: &str =
    "^([0-9a-fA-F]{24}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$";

/// Operations whose handler reads `?meta=true` (the users endpoints' envelope switch, API.md §1).
const META_OPERATIONS: &[&str] = &[
    "listUsers",
    "createUser",
    "getCurrentUser",
    "getUser",
    "updateUser",
    "replaceUser",
    "listTenants",
    "createTenant",
    "getTenant",
    "updateTenant",
    "replaceTenant",
    "listTenantUsers",
    "listRoles",
    "createRole",
    "getRole",
    "updateRole",
    "replaceRole",
];

/// Operations a rate limit or a tenant quota may refuse with `429` (API.md §2, §5, §12).
const THROTTLED_OPERATIONS: &[&str] = &[
    "login",
    "triggerWebhook",
    "triggerWebhookGet",
    "runFlow",
    "retryExecution",
];

/// Protected operations every valid token may call (no permission to miss).
const OPEN_TO_EVERY_CALLER: &[&str] = &["logout", "getCurrentUser", "listPermissions"];

/// Completes the generated document (see the module doc).
pub fn complete(doc: &mut Value) {
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, op) in item.iter_mut() {
                if let Some(op) = op.as_object_mut() {
                    complete_operation(path, method, op);
                }
            }
        }
    }
    // `POST /flows` with an empty array creates nothing: `400`.
    if let Some(many) = doc.pointer_mut("/components/schemas/CreateFlows/oneOf/1") {
        many["minItems"] = json!(1);
    }
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        tighten(schemas);
        loosen_bulk_items(schemas);
    }
    // A webhook takes any JSON value.
    if let Some(body) = doc.pointer_mut("/paths/~1hook~1{flowId}/post/requestBody/content/application~1json")
    {
        body["schema"] = json!({"anyOf": [
            {"type": "object", "additionalProperties": {}}, {"type": "array", "items": {}},
            {"type": "string"}, {"type": "number"}, {"type": "boolean"}, {"type": "null"}]});
    }
    if let Some(code) = doc.pointer_mut("/components/schemas/ErrorItem/properties/code") {
        *code = json!({"type": "integer", "minimum": 400, "maximum": 599, "description": "The HTTP status."});
    }
}

fn error(description: &str) -> Value {
    json!({"description": description,
           "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}})
}

fn add(responses: &mut Map<String, Value>, status: &str, description: &str) {
    responses.entry(status).or_insert_with(|| error(description));
}

fn complete_operation(path: &str, method: &str, op: &mut Map<String, Value>) {
    let id = op
        .get("operationId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let secured = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| !s.is_empty());
    let json_body = op
        .get("requestBody")
        .and_then(|b| b.pointer("/content/application~1json"))
        .is_some();
    let has_body = op.contains_key("requestBody");
    let has_query = op
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
    if META_OPERATIONS.contains(&id.as_str()) {
        let params = op.entry("parameters").or_insert_with(|| json!([]));
        if let Some(params) = params.as_array_mut() {
            params.push(json!({"name": "meta", "in": "query", "required": false,
                "description": "true or 1: wrap the answer in {data, meta}; false, 0 or absent: bare",
                "schema": {"type": "string", "enum": ["true", "false", "1", "0"]}}));
        }
    }
    if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        for p in params.iter_mut() {
            constrain(&id, p);
        }
    }
    let is_head = method == "head";
    let responses = op.entry("responses").or_insert_with(|| json!({}));
    let Some(responses) = responses.as_object_mut() else {
        return;
    };
    if is_head {
        return;
    }
    if path.contains('{') {
        add(responses, "400", "Invalid id (or an invalid parameter or body)");
        add(responses, "404", "Not found, or not in the caller's scope");
    } else if json_body || has_query || META_OPERATIONS.contains(&id.as_str()) {
        add(responses, "400", "An invalid parameter or body");
    }
    if secured {
        let unauthorized = responses
            .entry("401")
            .or_insert_with(|| error("Missing authorization header. | Token invalid."));
        unauthorized["headers"] = json!({"WWW-Authenticate": {"description": "Bearer",
            "schema": {"type": "string"}}});
        if !OPEN_TO_EVERY_CALLER.contains(&id.as_str()) {
            add(responses, "403", "MISSING_PERMISSION (or FORBIDDEN)");
        }
    }
    if has_body {
        add(responses, "413", "Request body is too large");
        add(responses, "415", "Content-Type must be application/json");
    }
    if has_query {
        responses.entry("414").or_insert_with(
            || json!({"description": "URI Too Long (no body): the query is over the server's limit"}),
        );
    }
    if THROTTLED_OPERATIONS.contains(&id.as_str()) {
        add(responses, "429", "Too many requests; see Retry-After");
    }
}

/// The real schema of a shared parameter.
fn constrain(operation: &str, param: &mut Value) {
    let name = param["name"].as_str().unwrap_or_default().to_owned();
    let id = json!({"type": "string", "pattern": ID_PATTERN});
    let schema = match name.as_str() {
        "page[size]" => json!({"type": "integer", "minimum": 1, "maximum": 1000, "default": 10}),
        "page[number]" => json!({"type": "integer", "minimum": 1, "maximum": MAX_PAGE_NUMBER, "default": 1}),
        "id" | "userId" if param["in"] == "path" => id,
        "flowId" => id,
        "filter[user]" | "filter[fromTemplate]" | "filter[flowId]" | "filter[parentId]" => id,
        "userId" => json!({"type": "array", "items": {"type": "string"}, "maxItems": 500}),
        "username" => json!({"type": "array", "items": {"type": "string"}, "maxItems": 500}),
        "filter[type]" if operation == "listSecrets" => json!({"type": "string", "enum":
            ["SIMPLE", "API_KEY", "MIXED", "OA2_CLIENT_CREDENTIALS", "OA2_AUTHORIZATION_CODE"]}),
        "filter[type]" => json!({"type": "string", "maxLength": 100}),
        "filter[status]" => json!({"type": "string", "enum": match operation {
            "listFlows" => vec!["active", "1", "inactive", "0", "starting", "stopping"],
            "listTemplates" => vec!["published", "1", "draft", "0"],
            _ => vec!["queued", "running", "succeeded", "failed", "cancelled"],
        }}),
        "sort" => json!({"type": "string", "enum": match operation {
            "listExecutions" => vec!["startedAt", "-startedAt"],
            _ => vec!["createdAt", "-createdAt", "updatedAt", "-updatedAt", "name", "-name"],
        }}),
        "filter[from]" | "filter[to]" => json!({"type": "string", "format": "date-time"}),
        "start" | "end" => json!({"anyOf": [{"type": "string", "format": "date"},
                                            {"type": "string", "format": "date-time"}]}),
        "groupby" => json!({"type": "string", "enum": ["user", "flow", "component"], "default": "user"}),
        "Idempotency-Key" => json!({"type": "string", "minLength": 1, "maxLength": 255}),
        "sync" => json!({"type": "string",
            "description": "true or 1: wait for the execution's result; any other value: answer once queued"}),
        "force" => json!({"type": "string", "enum": ["true", "false", "1", "0", ""]}),
        _ => return,
    };
    param["schema"] = schema;
}

/// A string with something other than white space in it (the identity service trims before it checks).
const NOT_BLANK: &str = "\\S";
/// An e-mail address as identity accepts one (`flowmate_domain::identity::is_email`).
const EMAIL: &str = "^[^@\\s]+@[^@\\s.][^@\\s]*\\.[^@\\s]*[^@\\s.]$";

/// The identity request bodies' rules, as the identity service checks them: which fields are required, and the
/// values it accepts (request fields that are `Option` in Rust so that a missing one is listed with the others).
/// A schema's required fields and the rules of some of its properties.
type Rule<'a> = (&'a str, &'a [&'a str], Vec<(&'a str, Value)>);

fn tighten(schemas: &mut Map<String, Value>) {
    let status = json!({"type": "string", "enum": ["ACTIVE", "PENDING", "DISABLED"]});
    let text = json!({"type": "string", "pattern": NOT_BLANK});
    let email = json!({"type": "string", "pattern": EMAIL, "maxLength": 254});
    let password = json!({"type": "string", "minLength": flowmate_domain::identity::MIN_PASSWORD_LEN});
    let vocabulary: Vec<&str> = flowmate_domain::permissions::RESTRICTED
        .iter()
        .chain(flowmate_domain::permissions::COMMON)
        .chain(flowmate_domain::permissions::SERVICE)
        .copied()
        .collect();
    let role_permissions = json!({"type": "array", "items": {"type": "string", "enum": vocabulary}});
    // Create bodies: a field that is there must be valid (`null` counts as missing). Update bodies: `null` or
    // absent leaves the field as it is.
    let rules: [Rule; 8] = [
        (
            "LoginRequest",
            &["username", "password"],
            vec![
                ("username", text.clone()),
                ("password", json!({"type": "string", "minLength": 1})),
            ],
        ),
        (
            "CreateUser",
            &["username", "password", "firstname", "lastname"],
            vec![
                ("username", email.clone()),
                ("password", password.clone()),
                ("firstname", text.clone()),
                ("lastname", text.clone()),
                ("status", status.clone()),
            ],
        ),
        (
            "UpdateUser",
            &[],
            vec![
                ("username", email),
                ("password", password),
                ("firstname", text.clone()),
                ("lastname", text.clone()),
                ("status", status.clone()),
            ],
        ),
        (
            "CreateTenant",
            &["name"],
            vec![("name", text.clone()), ("status", status.clone())],
        ),
        (
            "UpdateTenant",
            &[],
            vec![("name", text.clone()), ("status", status)],
        ),
        (
            "CreateRole",
            &["name"],
            vec![("name", text.clone()), ("permissions", role_permissions.clone())],
        ),
        (
            "UpdateRole",
            &[],
            vec![("name", text.clone()), ("permissions", role_permissions)],
        ),
        ("IntrospectRequest", &["token"], vec![("token", text)]),
    ];
    for (name, required, properties) in rules {
        let Some(schema) = schemas.get_mut(name) else {
            continue;
        };
        if !required.is_empty() {
            schema["required"] = json!(required);
        }
        let update = name.starts_with("Update");
        for (property, mut rule) in properties {
            if update {
                let ty = rule["type"].clone();
                rule["type"] = json!([ty, "null"]);
                if let Some(items) = rule.get_mut("enum").and_then(Value::as_array_mut) {
                    items.push(Value::Null);
                }
            }
            schema["properties"][property] = rule;
        }
    }
    if let Some(schema) = schemas.get_mut("CreateToken") {
        schema["required"] = json!(["accountId"]);
        schema["properties"]["accountId"] = json!({"type": "string", "pattern": ID_PATTERN});
        schema["properties"]["expiresIn"] = json!({"type": "integer", "minimum": -1, "maximum": i64::MAX, "not": {"const": 0},
            "description": "Lifetime in seconds; -1 = no expiry. Default: 3 hours."});
    }
}

/// The flow bodies whose arrays take anything: each item is validated on its own and answered in its own result.
fn loosen_bulk_items(schemas: &mut Map<String, Value>) {
    // `PATCH /flows/bulk` answers an item without a well-formed `id` with that item's own `Invalid id`.
    if let Some(item) = schemas.get_mut("FlowBulkItem") {
        *item = json!({"type": "object",
            "description": "One item of `PATCH /flows/bulk`: its id and the FlowPatch fields to replace.",
            "properties": {"id": {"description": "The flow to change; an item without a well-formed id string \
                gets its own `Invalid id` result"}}});
    }
    if let Some(many) = schemas
        .get_mut("BulkUpdate")
        .and_then(|s| s.pointer_mut("/oneOf/0/items"))
    {
        *many = json!({"anyOf": [{"$ref": "#/components/schemas/FlowBulkItem"}, {}],
            "description": "A partial flow with its id; anything else gets its own `Invalid id` result"});
    }
    // The generate body is a deep-merge patch: any flow field, `null` included, merged over the template.
    if let Some(generate) = schemas.get_mut("GenerateFlow") {
        *generate = json!({"type": "object", "additionalProperties": {},
            "description": generate["description"].clone()});
    }
    // Items of a `POST /flows` array are validated one by one: a failing one gets its own result.
    if let Some(many) = schemas
        .get_mut("CreateFlows")
        .and_then(|s| s.pointer_mut("/oneOf/1/items"))
    {
        *many = json!({"anyOf": [{"$ref": "#/components/schemas/FlowInput"}, {"type": "object"}],
            "description": "A flow; one that fails validation gets its own {errors} result"});
    }
}
