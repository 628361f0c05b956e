//! The store behind the flow-control steps, on SQLite and PostgreSQL: `dedupe.check` claims (one holder per key
//! until it expires, a redelivered step keeps its own claim, expired keys purged in batches) and resumes (recorded
//! once, making a parked execution due, claimed even when the execution parked after the resume came, deleted
//! with the checkpoint that applies them).

use chrono::Duration;
use flowmate_domain::time;
use flowmate_execution::{
    model::{Checkpoint, Execution, ExecutionStore, Resume, Write},
    store::SqlStore as Store,
    MIGRATIONS,
};
use flowmate_store::Db;
use serde_json::json;

use super::support::{databases, execution, finish, write};

fn at(offset: Duration) -> String {
    time::format(time::now() + offset)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dedupe_keys_have_one_holder_until_they_expire_and_are_purged_in_batches() {
    for test_db in databases().await {
        let store = Store::new(Db::connect(&test_db.url, 4, MIGRATIONS).await.unwrap());
        let later = at(Duration::minutes(10));
        assert!(store.dedupe("f", "k", "e1:2", &later).await.unwrap());
        assert!(
            !store.dedupe("f", "k", "e2:2", &later).await.unwrap(),
            "held by e1"
        );
        assert!(
            store.dedupe("f", "k", "e1:2", &later).await.unwrap(),
            "a redelivered step keeps its claim"
        );
        assert!(
            store.dedupe("other-flow", "k", "e2:2", &later).await.unwrap(),
            "keys are per flow"
        );
        let past = at(Duration::seconds(-1));
        for key in ["old-1", "old-2", "old-3"] {
            assert!(store.dedupe("f", key, "e1:3", &past).await.unwrap());
        }
        assert!(
            store.dedupe("f", "old-1", "e3:1", &later).await.unwrap(),
            "an expired key is free again"
        );
        let now = time::now_string();
        assert_eq!(store.purge_dedupe(&now, 1).await.unwrap(), 1);
        assert_eq!(store.purge_dedupe(&now, 10).await.unwrap(), 1);
        assert_eq!(store.purge_dedupe(&now, 10).await.unwrap(), 0);
        assert!(
            !store.dedupe("f", "old-1", "e4:1", &later).await.unwrap(),
            "the live key was kept"
        );
        finish(test_db).await;
    }
}

fn resume(key: &str) -> Resume {
    Resume {
        node: "approval".into(),
        key: key.into(),
        body: json!({"ok": true}),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_is_recorded_once_makes_its_execution_due_and_goes_with_its_checkpoint() {
    for test_db in databases().await {
        let store = Store::new(Db::connect(&test_db.url, 4, MIGRATIONS).await.unwrap());
        let far = at(Duration::days(7));
        write(&store, execution("parked", None, Some(far.clone()))).await;
        assert!(store.add_resume("parked", &resume("t1")).await.unwrap());
        assert!(
            !store.add_resume("parked", &resume("t1")).await.unwrap(),
            "a token counts once"
        );
        assert_eq!(store.resumes("parked").await.unwrap(), vec![resume("t1")]);
        let parked = store.execution("parked").await.unwrap().unwrap();
        assert!(parked.waiting_until.unwrap() < far, "due now");
        assert_eq!(store.claim_due(&time::now_string(), 10).await.unwrap(), 1);

        // A resume that came while its execution ran, before it parked: the timers still claim it.
        write(&store, execution("running", None, None)).await;
        assert!(store.add_resume("running", &resume("t2")).await.unwrap());
        write(&store, execution("running", None, Some(far.clone()))).await;
        assert_eq!(
            store.claim_due(&time::now_string(), 10).await.unwrap(),
            1,
            "claimed though it parked after"
        );

        // Applied: deleted in the same transaction as the checkpoint that applied it.
        for id in ["parked", "running"] {
            let e: Execution = store.execution(id).await.unwrap().unwrap();
            let cp = Checkpoint {
                resumed: store
                    .resumes(id)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|r| (r.node, r.key))
                    .collect(),
                ..Checkpoint::of(Write::Update, Execution { owner: None, ..e }, vec![])
            };
            assert!(store.checkpoint(cp).await.unwrap());
            assert!(store.resumes(id).await.unwrap().is_empty());
        }
        finish(test_db).await;
    }
}
