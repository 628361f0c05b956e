//! The OpenAPI 3.1 document, generated from the handlers' annotations and the schema types of `flowmate-api`, then
//! completed by [`crate::openapi_rules`] (the responses and parameter constraints every operation shares). Built once.

use std::sync::OnceLock;

use utoipa::{
    openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme},
    Modify, OpenApi,
};

use crate::routes::{auth, executions, flows, hooks, roles, secrets, templates, tenants, users};

/// The FlowMate REST API.
#[derive(OpenApi)]
#[openapi(
    info(title = "FlowMate API", description = "The FlowMate REST API, compatible with FlowMate/Open Integration Hub clients. Errors always have the shape {errors: [{message, code, field?, detail?}]}. Every /api/* identity route (users, tenants, roles, tokens, permissions) is also served under /api/v1/* (OIH's paths), and paths match with or without a trailing slash."),
    paths(
        auth::login, auth::logout, auth::introspect, auth::create_token, auth::revoke_token, auth::permission_names,
        users::list, users::create, users::me, users::get_one, users::update, users::replace, users::remove,
        tenants::list, tenants::create, tenants::get_one, tenants::update, tenants::replace, tenants::remove, tenants::users,
        tenants::remove_user,
        roles::list, roles::create, roles::get_one, roles::update, roles::replace, roles::remove,
        flows::list, flows::get_one, flows::create, flows::update, flows::bulk_update, flows::remove,
        flows::start, flows::stop, flows::start_many, flows::stop_many,
        templates::list, templates::create, templates::get_one, templates::update, templates::remove,
        templates::versions, templates::generate,
        executions::list, executions::get_one, executions::counts, executions::retry, executions::cancel,
        executions::run, executions::resume, executions::components, hooks::hook, hooks::hook_get_doc,
        hooks::hook_head_doc,
        secrets::list, secrets::create, secrets::get_one, secrets::update, secrets::remove,
        secrets::list_clients, secrets::create_client, secrets::get_client, secrets::update_client,
        secrets::remove_client, secrets::start, secrets::callback,
    ),
    components(schemas(
        flowmate_api::ErrorBody, flowmate_api::ErrorItem,
        flowmate_api::identity::LoginRequest, flowmate_api::identity::LoginResponse,
        flowmate_api::identity::User, flowmate_api::identity::Role, flowmate_api::identity::Tenant,
        flowmate_api::identity::CreateUser, flowmate_api::identity::UpdateUser,
        flowmate_api::identity::CreateTenant, flowmate_api::identity::CreateRole,
        flowmate_api::identity::ListedUser, flowmate_api::identity::RoleRef, flowmate_api::identity::UpdateTenant,
        flowmate_api::identity::UpdateRole, flowmate_api::identity::IntrospectRequest,
        flowmate_api::identity::CreateToken, flowmate_api::identity::TokenResponse,
        flowmate_api::executions::Execution, flowmate_api::executions::Step, flowmate_api::executions::StepLog,
        flowmate_api::executions::StepError, flowmate_api::executions::Trigger, flowmate_api::executions::Counters,
        flowmate_api::executions::ExecutionEnvelope, flowmate_api::executions::ExecutionPage,
        flowmate_api::executions::PageMeta,
    )),
    modifiers(&BearerAuth),
    tags((name = "auth"), (name = "users"), (name = "tenants"), (name = "roles"), (name = "flows"), (name = "templates"), (name = "executions"), (name = "webhooks"), (name = "secrets")),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The document served at `/api/openapi.json`.
pub fn document() -> &'static serde_json::Value {
    static DOCUMENT: OnceLock<serde_json::Value> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
        crate::openapi_rules::complete(&mut doc);
        doc
    })
}
