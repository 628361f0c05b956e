//! Key rotation: every value re-sealed with the first key, still opening, safe to interrupt and run again, and
//! never overwriting a change made meanwhile.

use flowmate_auth::secrets::SecretBox;
use flowmate_secret::{model::SecretStore, rotate::rotate};
use serde_json::json;

use crate::{alice, Setup, KEY, NEW_KEY};

async fn a_rotation_reseals_every_value_with_the_first_key_and_can_run_again(s: &Setup) {
    let old = s.core(KEY).await;
    let mut ids = Vec::new();
    for i in 0..(flowmate_secret::rotate::BATCH as usize + 5) {
        let body = json!({"name": format!("k{i}"), "type": "API_KEY", "value": {"key": format!("key-{i}")}});
        ids.push(old.create(&alice(), body).await.unwrap().id);
    }
    old.create_client(
        &alice(),
        json!({"name": "app", "clientId": "c", "clientSecret": "app-secret",
        "endpoints": {"auth": "https://idp.example.com/a", "token": "https://idp.example.com/t"},
        "redirectUri": "https://flowmate.example.com/callback"}),
    )
    .await
    .unwrap();
    let ring = format!("{NEW_KEY},{KEY}");
    let keys = SecretBox::from_keys(&ring).unwrap();
    let store = s.store().await;
    let mut batches = 0;
    let report = rotate(&store, &keys, |_, _| batches += 1).await.unwrap();
    assert_eq!(report.resealed, ids.len() as u64 + 1);
    assert_eq!((report.remaining, report.unreadable, report.skipped), (0, 0, 0));
    assert!(batches >= 3, "secrets in two batches, auth clients in one");
    let again = rotate(&store, &keys, |_, _| {}).await.unwrap();
    assert_eq!(again.resealed, 0, "a second run finds nothing left");

    let rotated = s.core(&ring).await;
    for (i, id) in ids.iter().enumerate() {
        let stored = store.get_secret(id).await.unwrap().unwrap();
        assert!(stored.sealed.starts_with("enc:v2:new:"));
        let v = rotated.resolve(id, "tenant-a", false, "").await.unwrap();
        assert_eq!(v.value.0["key"], format!("key-{i}"));
    }
    // Without the new key nothing opens any more: the old key is really out of use.
    assert!(old.resolve(&ids[0], "tenant-a", false, "").await.is_err());
}

async fn a_value_changed_during_a_rotation_is_kept(s: &Setup) {
    let core = s.core(KEY).await;
    let id = core
        .create(
            &alice(),
            json!({"name": "k", "type": "API_KEY", "value": {"key": "before"}}),
        )
        .await
        .unwrap()
        .id;
    let store = s.store().await;
    let keys = SecretBox::from_keys(&format!("{NEW_KEY},{KEY}")).unwrap();
    let sealed = store.get_secret(&id).await.unwrap().unwrap().sealed;
    core.update(&alice(), &id, json!({"value": {"key": "after"}}))
        .await
        .unwrap();
    let swapped = store
        .reseal_row(
            flowmate_secret::store::SealedTable::Secrets,
            &id,
            &sealed,
            &keys.reseal(&sealed).unwrap(),
        )
        .await
        .unwrap();
    assert!(
        !swapped,
        "the re-seal of the value read before the change does not apply"
    );
    assert_eq!(
        core.resolve(&id, "tenant-a", false, "").await.unwrap().value.0["key"],
        "after"
    );
}

crate::both_databases!(
    a_rotation_reseals_every_value_with_the_first_key_and_can_run_again,
    a_value_changed_during_a_rotation_is_kept,
);
