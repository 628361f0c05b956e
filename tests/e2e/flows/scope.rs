//! Who sees and changes which flows: tenant scope, owners, and the permission each endpoint checks.

use serde_json::json;

use super::helpers::{create, id, order_sync, ALL_FLOW_PERMISSIONS};
use crate::{
    harness::App,
    support::{member, Member},
};

/// Asserts that `member` can neither see nor change the admin's flow `mine` by any route.
async fn the_admins_flow_is_out_of_reach(app: &App, member: &Member, mine: &str) {
    let token = &member.token;
    let other = format!("/flows/{mine}");
    let no_flow = |r: flowmate_testkit::Reply| r.assert_error(404, "No flow found");
    no_flow(app.api.get(&other, Some(token)).await);
    no_flow(app.api.patch(&other, Some(token), &json!({"name": "x"})).await);
    no_flow(app.api.delete(&other, Some(token)).await);
    app.api
        .post(&format!("{other}/start"), Some(token), &json!({}))
        .await
        .assert_error(404, "No flow with this ID found");
    app.api
        .post(&format!("{other}/stop"), Some(token), &json!({}))
        .await
        .assert_error(404, "No flow with this ID found");
    let r = app
        .api
        .post("/flows/multiple/start", Some(token), &json!([mine]))
        .await;
    assert_eq!(
        r.body,
        json!([{"errors": [{"message": "No flow with this ID found", "code": 404, "flowId": mine}]}])
    );
    let r = app
        .api
        .patch(
            "/flows/bulk",
            Some(token),
            &json!([{"id": mine, "name": "hijacked"}]),
        )
        .await;
    assert_eq!(
        r.body,
        json!({"data": [{"errors": [{"message": "No flow found", "code": 404, "flowId": mine}]}], "meta": {}})
    );
    assert_eq!(
        app.api.get(&other, Some(&app.admin)).await.body["data"]["name"],
        "admin's"
    );
}

async fn a_tenant_sees_and_changes_only_its_own_flows(app: &App) {
    let mine = create(app, &app.admin, order_sync("admin's")).await;
    let acme = member(app, "acme", "dev@acme.test", ALL_FLOW_PERMISSIONS).await;
    let theirs = create(app, &acme.token, order_sync("acme's")).await;
    assert_eq!(theirs["tenant"], acme.tenant.as_str());
    let r = app.api.get("/flows", Some(&acme.token)).await;
    assert_eq!(r.body["meta"]["total"], 1);
    assert_eq!(r.body["data"][0]["id"], theirs["id"]);
    the_admins_flow_is_out_of_reach(app, &acme, &id(&mine)).await;
    // filter[user] narrows within scope and never widens it.
    let admin_id = app.api.get("/api/users/me", Some(&app.admin)).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .api
        .get(&format!("/flows?filter[user]={admin_id}"), Some(&acme.token))
        .await;
    assert_eq!(r.body["meta"]["total"], 0);
    let r = app
        .api
        .get(&format!("/flows?filter[user]={}", acme.id), Some(&acme.token))
        .await;
    assert_eq!(r.body["meta"]["total"], 1);
    // The admin sees both.
    assert_eq!(
        app.api.get("/flows", Some(&app.admin)).await.body["meta"]["total"],
        2
    );
    // Giving a flow to another tenant is refused.
    let mut foreign = order_sync("sneaky");
    foreign["owners"] = json!([{"id": "some-other-tenant", "type": "tenant"}]);
    app.api
        .post("/flows", Some(&acme.token), &foreign)
        .await
        .assert_error(403, "Flows cannot be given to another tenant");
}

async fn each_flow_endpoint_checks_its_permission(app: &App) {
    let missing = |r: flowmate_testkit::Reply| r.assert_error(403, "MISSING_PERMISSION");
    let reader = member(app, "readers", "reader@example.com", &["flows.read"])
        .await
        .token;
    let f = create(app, &app.admin, order_sync("x")).await;
    missing(app.api.post("/flows", Some(&reader), &order_sync("y")).await);
    let writer = member(
        app,
        "writers",
        "writer@example.com",
        &["flows.read", "flows.write"],
    )
    .await
    .token;
    let own = id(&create(app, &writer, order_sync("mine")).await);
    let path = format!("/flows/{own}");
    missing(
        app.api
            .post(&format!("{path}/start"), Some(&writer), &json!({}))
            .await,
    );
    missing(
        app.api
            .post("/flows/multiple/stop", Some(&writer), &json!([own]))
            .await,
    );
    missing(
        app.api
            .patch("/flows/bulk", Some(&writer), &json!([{"id": own}]))
            .await,
    );
    missing(
        app.api
            .post(
                "/flows",
                Some(&writer),
                &json!([order_sync("a"), order_sync("b")]),
            )
            .await,
    );
    app.api
        .get("/flows", None)
        .await
        .assert_error(401, "Missing authorization header.");
    let nobody = member(app, "nobodies", "nobody@example.com", &[]).await.token;
    for path in ["/flows".to_owned(), format!("/flows/{}", id(&f))] {
        missing(app.api.get(&path, Some(&nobody)).await);
    }
}

async fn a_flow_cannot_be_planted_in_another_tenant_through_a_user_owner(app: &App) {
    let mallory = member(app, "evil", "mallory@evil.test", ALL_FLOW_PERMISSIONS).await;
    let victim = member(app, "victims", "victim@victims.test", ALL_FLOW_PERMISSIONS).await;
    let mut planted = order_sync("planted");
    planted["owners"] = json!([{"id": victim.id, "type": "user"}]);
    let f = create(app, &mallory.token, planted).await;
    assert_eq!(
        app.api.get("/flows", Some(&victim.token)).await.body["meta"]["total"],
        0,
        "not visible to the victim"
    );
    app.api
        .get(&format!("/flows/{}", id(&f)), Some(&victim.token))
        .await
        .assert_error(404, "No flow found");
    let mut odd = order_sync("odd owner");
    odd["owners"] = json!([{"id": victim.id, "type": "group"}]);
    app.api
        .post("/flows", Some(&mallory.token), &odd)
        .await
        .assert_field_error(400, "Flow owner type must be user or tenant.", "/owners/0/type");
}

async fn an_admin_creating_a_flow_for_another_tenant_gives_it_to_that_tenant(app: &App) {
    let client = member(app, "clients", "client@clients.test", ALL_FLOW_PERMISSIONS).await;
    let mut body = order_sync("for the client");
    body["tenant"] = json!(client.tenant);
    let f = create(app, &app.admin, body).await;
    assert_eq!(f["tenant"], client.tenant.as_str());
    assert!(f["owners"]
        .as_array()
        .unwrap()
        .iter()
        .any(|o| o["id"] == client.tenant.as_str() && o["type"] == "tenant"));
    let me = app.api.get("/api/users/me", Some(&app.admin)).await.body;
    assert!(
        !f["owners"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["id"] == me["tenant"]),
        "not the admin's tenant"
    );
    assert_eq!(
        app.api
            .get(&format!("/flows/{}", id(&f)), Some(&client.token))
            .await
            .status,
        200
    );
}

/// A teammate of `of` in its tenant, holding `permissions`, logged in.
async fn teammate(app: &App, of: &Member, username: &str) -> Member {
    let user = app
        .create_user(
            json!({"username": username, "password": "member-password", "firstname": "T", "lastname": "M",
                            "tenant": of.tenant, "permissions": ALL_FLOW_PERMISSIONS}),
        )
        .await;
    Member {
        token: app.api.login(username, "member-password").await,
        id: user["id"].as_str().unwrap().to_owned(),
        tenant: of.tenant.clone(),
    }
}

/// The names on a page of `GET /flows?<query>` for `token`, and its total.
async fn names(app: &App, token: &str, query: &str) -> (Vec<String>, u64) {
    let r = app.api.get(&format!("/flows?{query}"), Some(token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let names = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned());
    (names.collect(), r.body["meta"]["total"].as_u64().unwrap())
}

async fn a_members_list_holds_the_tenants_flows_and_its_own_but_not_a_teammates_private_ones(app: &App) {
    let alice = member(app, "crew", "alice@crew.test", ALL_FLOW_PERMISSIONS).await;
    let bob = teammate(app, &alice, "bob@crew.test").await;
    for name in ["shared 1", "shared 2", "shared 3"] {
        create(app, &alice.token, order_sync(name)).await;
    }
    // A flow whose owners no longer name the tenant belongs to its user alone.
    for (who, name) in [(&alice, "alice only"), (&bob, "bob only")] {
        let f = create(app, &who.token, order_sync(name)).await;
        let r = app
            .api
            .patch(
                &format!("/flows/{}", id(&f)),
                Some(&who.token),
                &json!({"owners": [{"id": who.id, "type": "user"}]}),
            )
            .await;
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body["data"]["owners"], json!([{"id": who.id, "type": "user"}]));
    }
    let (all, total) = names(app, &alice.token, "sort=name").await;
    assert_eq!(
        (all, total),
        (
            vec![
                "alice only".into(),
                "shared 1".into(),
                "shared 2".into(),
                "shared 3".into()
            ],
            4
        )
    );
    let (page, total) = names(app, &bob.token, "sort=name&page[size]=2&page[number]=1").await;
    assert_eq!((page, total), (vec!["bob only".into(), "shared 1".into()], 4));
    let (page, total) = names(app, &bob.token, "sort=name&page[size]=2&page[number]=3").await;
    assert_eq!(
        (page, total),
        (vec![], 4),
        "past the last page: empty, same total"
    );
    // The other clauses apply to both halves of the count.
    assert_eq!(
        names(app, &alice.token, "search=ONLY").await,
        (vec!["alice only".into()], 1)
    );
    assert_eq!(
        names(app, &bob.token, "search=shared%202").await,
        (vec!["shared 2".into()], 1)
    );
    assert_eq!(
        names(app, &bob.token, &format!("filter[user]={}", alice.id))
            .await
            .1,
        3
    );
    assert_eq!(
        app.api.get("/flows", Some(&app.admin)).await.body["meta"]["total"],
        5
    );
}

crate::both_modes!(
    a_members_list_holds_the_tenants_flows_and_its_own_but_not_a_teammates_private_ones,
    a_flow_cannot_be_planted_in_another_tenant_through_a_user_owner,
    an_admin_creating_a_flow_for_another_tenant_gives_it_to_that_tenant,
    a_tenant_sees_and_changes_only_its_own_flows,
    each_flow_endpoint_checks_its_permission,
);
