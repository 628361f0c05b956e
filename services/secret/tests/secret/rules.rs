//! Per-type rules, masking, scope and the store's basic operations.

use flowmate_domain::Fault;
use flowmate_secret::{
    error::SecretError,
    model::{ListQuery, SecretStore},
};
use serde_json::{json, Value};

use crate::{alice, bob, caller, Setup, KEY};

fn problems(e: SecretError) -> Vec<(String, String)> {
    let fault = Fault::from(e);
    fault
        .problems
        .into_iter()
        .map(|p| (p.field.unwrap_or_default(), p.message))
        .collect()
}

fn page() -> ListQuery {
    ListQuery {
        page_size: 10,
        page_number: 1,
        kind: None,
        search: None,
    }
}

async fn every_type_is_created_masked_and_its_value_sealed_at_rest(s: &Setup) {
    let core = s.core(KEY).await;
    let store = s.store().await;
    let cases = [
        (
            "SIMPLE",
            json!({"username": "svc-user", "passphrase": "pw-SIMPLE-1"}),
            json!({"username": "***", "passphrase": "***"}),
        ),
        (
            "API_KEY",
            json!({"key": "key-API-1", "headerName": "x-api-key"}),
            json!({"key": "***", "headerName": "x-api-key"}),
        ),
        (
            "MIXED",
            json!({"payload": {"url": "db-MIXED-1"}}),
            json!({"payload": "***"}),
        ),
        (
            "OA2_CLIENT_CREDENTIALS",
            json!({"clientId": "cid", "clientSecret": "cs-OA2-1", "tokenUrl": "https://idp.example.com/token"}),
            json!({"clientId": "cid", "clientSecret": "***", "tokenUrl": "https://idp.example.com/token"}),
        ),
    ];
    for (kind, value, shown) in cases {
        let body = json!({"data": {"name": format!("my {kind}"), "type": kind, "value": value}});
        let created = core.create(&alice(), body).await.unwrap();
        let doc = created.to_json();
        assert_eq!(doc["value"], shown, "{kind}");
        assert_eq!(doc["type"], kind);
        assert_eq!(
            doc["owners"],
            json!([{"id": "alice", "type": "user"}, {"id": "tenant-a", "type": "tenant"}])
        );
        let stored = store.get_secret(&created.id).await.unwrap().unwrap();
        assert!(
            stored.sealed.starts_with("enc:v2:old:"),
            "{kind}: sealed with the key id"
        );
        for needle in ["pw-SIMPLE-1", "key-API-1", "db-MIXED-1", "cs-OA2-1"] {
            assert!(
                !stored.sealed.contains(needle) && !doc.to_string().contains(needle),
                "{kind}: {needle}"
            );
        }
    }
    let (list, total) = core.list(&alice(), page()).await.unwrap();
    assert_eq!(total, 4);
    assert!(list.iter().all(|s| s.tenant == "tenant-a"));
}

async fn every_problem_of_a_bad_secret_is_reported_with_its_field(s: &Setup) {
    let core = s.core(KEY).await;
    let e = core
        .create(
            &alice(),
            json!({"data": {"type": "OA2_CLIENT_CREDENTIALS", "value": {"tokenUrl": "ftp://x"}}}),
        )
        .await
        .unwrap_err();
    assert_eq!(
        problems(e),
        vec![
            ("/data/name".into(), "Secrets require a name.".into()),
            (
                "/data/value/clientId".into(),
                "OA2_CLIENT_CREDENTIALS secrets require clientId.".into()
            ),
            (
                "/data/value/clientSecret".into(),
                "OA2_CLIENT_CREDENTIALS secrets require clientSecret.".into()
            ),
            (
                "/data/value/tokenUrl".into(),
                "tokenUrl must be an http or https URL.".into()
            ),
        ]
    );
    let e = core
        .create(
            &alice(),
            json!({"data": {"name": "x", "type": "PASSWORD", "value": {}}}),
        )
        .await
        .unwrap_err();
    assert_eq!(
        problems(e),
        vec![(
            "/data/type".into(),
            "Unknown secret type \"PASSWORD\"; one of SIMPLE, API_KEY, MIXED, OA2_CLIENT_CREDENTIALS, OA2_AUTHORIZATION_CODE."
                .into()
        )]
    );
}

async fn another_tenants_secret_is_not_found_and_reads_need_the_permission(s: &Setup) {
    let core = s.core(KEY).await;
    let body = json!({"data": {"name": "k", "type": "API_KEY", "value": {"key": "k-1"}}});
    let mine = core.create(&alice(), body).await.unwrap();
    for result in [
        core.get(&bob(), &mine.id).await.map(|_| ()),
        core.update(&bob(), &mine.id, json!({"data": {"name": "x"}}))
            .await
            .map(|_| ()),
        core.delete(&bob(), &mine.id, false).await,
    ] {
        assert!(matches!(result, Err(SecretError::SecretNotFound)), "{result:?}");
    }
    let reader = caller("carol", "tenant-a", &["flows.read"]);
    assert!(matches!(
        core.get(&reader, &mine.id).await,
        Err(SecretError::MissingPermission)
    ));
    let (_, total) = core.list(&bob(), page()).await.unwrap();
    assert_eq!(total, 0);
    let admin = caller("root", "tenant-x", &["all"]);
    assert_eq!(core.get(&admin, &mine.id).await.unwrap().id, mine.id);
}

async fn a_patch_keeps_masked_fields_and_bumps_the_version(s: &Setup) {
    let core = s.core(KEY).await;
    let body =
        json!({"data": {"name": "basic", "type": "SIMPLE", "value": {"username": "u1", "passphrase": "p1"}}});
    let created = core.create(&alice(), body).await.unwrap();
    let patch = json!({"data": {"name": "basic 2", "value": {"username": "***", "passphrase": "p2"}}});
    let updated = core.update(&alice(), &created.id, patch).await.unwrap();
    assert_eq!(updated.version, 2);
    assert_eq!(updated.name, "basic 2");
    let resolved = core.resolve(&created.id, "tenant-a", false, "").await.unwrap();
    assert_eq!(
        Value::Object(resolved.value.0),
        json!({"username": "u1", "passphrase": "p2"})
    );
    let e = core
        .update(&alice(), &created.id, json!({"data": {"type": "API_KEY"}}))
        .await
        .unwrap_err();
    assert_eq!(problems(e)[0].0, "/data/type");
}

async fn the_start_check_reports_missing_foreign_and_unusable_secrets_and_records_uses(s: &Setup) {
    use flowmate_secret::core::Use;
    let core = s.core(KEY).await;
    let store = s.store().await;
    let basic = core
        .create(
            &alice(),
            json!({"name": "b", "type": "SIMPLE", "value": {"username": "u", "passphrase": "p"}}),
        )
        .await
        .unwrap();
    let mixed = core
        .create(
            &alice(),
            json!({"name": "m", "type": "MIXED", "value": {"payload": "not json"}}),
        )
        .await
        .unwrap();
    let theirs = core
        .create(
            &bob(),
            json!({"name": "t", "type": "API_KEY", "value": {"key": "k"}}),
        )
        .await
        .unwrap();
    let http = |node: &str, id: &str| Use {
        node_id: node.into(),
        secret_id: id.into(),
        accepted: vec!["SIMPLE".into(), "API_KEY".into(), "MIXED".into()],
        mixed_fields: vec!["headers".into()],
        component: "http.request".into(),
    };
    let log = Use {
        accepted: vec![],
        component: "log.write".into(),
        ..http("log", &basic.id)
    };
    let missing = "0190a1b2-0000-7000-8000-000000000000";
    let problems = core
        .check(
            "flow-1",
            "tenant-a",
            "2026-01-01T00:00:00.000Z",
            &[
                http("a", missing),
                http("b", &theirs.id),
                http("c", &mixed.id),
                log,
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        problems,
        vec![
            format!("node a: secret {missing} does not exist or belongs to another tenant"),
            format!(
                "node b: secret {} does not exist or belongs to another tenant",
                theirs.id
            ),
            format!(
                "node c: the MIXED secret {} has no headers in its payload, which http.request needs",
                mixed.id
            ),
            format!(
                "node log: log.write cannot use the SIMPLE secret {} (it takes no secret)",
                basic.id
            ),
        ]
    );
    assert!(store.secret_users(&basic.id).await.unwrap().is_empty());

    let ok = core
        .check(
            "flow-1",
            "tenant-a",
            "2026-01-01T00:00:01.000Z",
            &[http("a", &basic.id)],
        )
        .await
        .unwrap();
    assert!(ok.is_empty());
    assert_eq!(store.secret_users(&basic.id).await.unwrap(), vec!["flow-1"]);
    assert!(matches!(
        core.delete(&alice(), &basic.id, false).await,
        Err(SecretError::InUse { .. })
    ));
    // An older stop cannot undo the newer start; a newer one does.
    store
        .clear_usage("flow-1", "2026-01-01T00:00:00.500Z")
        .await
        .unwrap();
    assert_eq!(store.secret_users(&basic.id).await.unwrap(), vec!["flow-1"]);
    store
        .clear_usage("flow-1", "2026-01-01T00:00:02.000Z")
        .await
        .unwrap();
    assert!(store.secret_users(&basic.id).await.unwrap().is_empty());
    core.delete(&alice(), &basic.id, false).await.unwrap();
}

crate::both_databases!(
    every_type_is_created_masked_and_its_value_sealed_at_rest,
    every_problem_of_a_bad_secret_is_reported_with_its_field,
    another_tenants_secret_is_not_found_and_reads_need_the_permission,
    a_patch_keeps_masked_fields_and_bumps_the_version,
    the_start_check_reports_missing_foreign_and_unusable_secrets_and_records_uses,
);
