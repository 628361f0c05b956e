//! The execution store on SQLite (always) and PostgreSQL (when `TEST_DATABASE_URL` is set; required in CI):
//! schedule claims that never fire a tick twice, resume claims, and the retention purge.

use std::collections::HashSet;

use chrono::Duration;
use flowmate_domain::{time, Envelope};
use flowmate_execution::{
    model::{
        Apply, Checkpoint, Execution, ExecutionStore, FlowRegistration, Schedule, Status, StepStatus, Write,
    },
    store::SqlStore as Store,
    MIGRATIONS,
};
use flowmate_store::Db;

use super::support::{databases, execution, finish, outbox_kinds, write};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn competing_claimers_fire_each_due_schedule_once_and_skip_missed_ticks() {
    for test_db in databases().await {
        let a = Store::new(Db::connect(&test_db.url, 4, MIGRATIONS).await.unwrap());
        // PostgreSQL: two replicas with their own pools. SQLite has one owner process (standalone), whose single
        // writer serialises concurrent claims.
        let b = match test_db.pg {
            Some(_) => Store::new(Db::connect(&test_db.url, 4, MIGRATIONS).await.unwrap()),
            None => a.clone(),
        };
        let long_ago = time::format(time::now() - Duration::hours(5));
        for i in 0..50 {
            let registration = FlowRegistration {
                id: format!("f{i}"),
                tenant: "t".into(),
                started_by: "u".into(),
                version: 1,
                document: serde_json::json!({}),
                active: true,
                changed_at: long_ago.clone(),
                schedule: Some(Schedule {
                    cron: "*/5 * * * *".into(),
                    next_due: long_ago.clone(),
                }),
            };
            assert!(a
                .register_flow(&registration, Apply::UnlessNewer, None)
                .await
                .unwrap());
        }
        let now = time::now();
        let fire = &|flow: &str, tenant: &str, due: &str, next: &str| {
            Some(flowmate_execution::timers::tick(flow, tenant, due, next))
        };
        let (x, y) = tokio::join!(a.claim_schedules(now, 7, fire), b.claim_schedules(now, 7, fire));
        let mut claimed = x.unwrap() + y.unwrap();
        while claimed < 50 {
            let n = a.claim_schedules(now, 7, fire).await.unwrap();
            assert!(n > 0, "every due schedule is claimable");
            claimed += n;
        }
        assert_eq!(claimed, 50);
        assert_eq!(
            a.claim_schedules(now, 100, fire).await.unwrap(),
            0,
            "nothing is due twice"
        );
        let events = outbox_kinds(a.db()).await;
        let flows: HashSet<String> = events
            .iter()
            .map(|e| e.data["flowId"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(events.len(), 50, "five hours of missed ticks fire once per flow");
        assert_eq!(flows.len(), 50);
        assert!(
            events.iter().all(|e| e.tenant.as_deref() == Some("t")),
            "a tick carries its flow's tenant"
        );
        let next = a.next_schedule().await.unwrap().unwrap();
        assert!(
            next > time::format(now),
            "the next due time is in the future: {next}"
        );
        finish(test_db).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn due_parked_executions_are_claimed_once_with_a_new_generation() {
    for test_db in databases().await {
        let store = Store::new(Db::connect(&test_db.url, 4, MIGRATIONS).await.unwrap());
        let past = time::format(time::now() - Duration::seconds(1));
        let future = time::format(time::now() + Duration::hours(1));
        write(&store, execution("due", None, Some(past.clone()))).await;
        write(&store, execution("later", None, Some(future.clone()))).await;
        assert_eq!(store.next_wake().await.unwrap(), Some(past));
        let now = time::now_string();
        assert_eq!(store.claim_due(&now, 10).await.unwrap(), 1);
        assert_eq!(store.claim_due(&now, 10).await.unwrap(), 0);
        let due = store.execution("due").await.unwrap().unwrap();
        assert_eq!(due.waiting_until, None);
        assert_eq!(due.generation, 1);
        let events = outbox_kinds(store.db()).await;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, "execution.resume");
        assert_eq!(
            due.owner.as_deref(),
            Some(events[0].id.as_str()),
            "the resume message owns it"
        );
        // A checkpoint of the holder before the claim is fenced off.
        let stale = Execution {
            status: Status::Succeeded,
            ..execution("due", Some(time::now_string()), None)
        };
        let cp = Checkpoint {
            write: Write::Update,
            execution: stale,
            steps: vec![],
            events: vec![],
            resumed: vec![],
        };
        assert!(
            !store.checkpoint(cp).await.unwrap(),
            "generation 0 may no longer write"
        );
        assert_eq!(
            store.execution("later").await.unwrap().unwrap().waiting_until,
            Some(future)
        );
        finish(test_db).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_purge_deletes_only_executions_past_the_retention_in_batches() {
    for test_db in databases().await {
        let store = Store::new(Db::connect(&test_db.url, 4, MIGRATIONS).await.unwrap());
        let old = time::format(time::now() - Duration::days(20));
        for i in 0..5 {
            write(&store, execution(&format!("old{i}"), Some(old.clone()), None)).await;
        }
        write(&store, execution("recent", Some(time::now_string()), None)).await;
        write(&store, execution("running", None, None)).await;
        let before = time::format(time::now() - Duration::days(14));
        assert_eq!(store.purge(&before, 2).await.unwrap(), 2, "bounded batches");
        assert_eq!(store.purge(&before, 2).await.unwrap(), 2);
        assert_eq!(store.purge(&before, 2).await.unwrap(), 1);
        assert_eq!(store.purge(&before, 2).await.unwrap(), 0);
        assert!(store.execution("old0").await.unwrap().is_none());
        assert!(store.execution("recent").await.unwrap().is_some());
        assert!(store.execution("running").await.unwrap().is_some());
        finish(test_db).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_execution_whose_lease_ran_out_is_taken_back_once() {
    for test_db in databases().await {
        let store = Store::new(Db::connect(&test_db.url, 4, MIGRATIONS).await.unwrap());
        write(&store, execution("orphan", None, None)).await;
        write(&store, execution("alive", None, None)).await;
        let now = time::now_string();
        assert_eq!(
            store.claim_stale(&now, 10).await.unwrap(),
            0,
            "both hold a fresh lease"
        );
        // Its holder went away an hour ago: the lease ran out long before `now`, however long it took to get here.
        let mut tx = store.db().begin().await.unwrap();
        sqlx::query("UPDATE executions SET lease_until = $1 WHERE id = 'orphan'")
            .bind(time::format(time::now() - Duration::hours(1)))
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(store.claim_stale(&now, 10).await.unwrap(), 1);
        assert_eq!(
            store.claim_stale(&now, 10).await.unwrap(),
            0,
            "the claim renewed the lease"
        );
        let orphan = store.execution("orphan").await.unwrap().unwrap();
        assert_eq!(orphan.generation, 1);
        let events = outbox_kinds(store.db()).await;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, "execution.resume");
        assert_eq!(orphan.owner.as_deref(), Some(events[0].id.as_str()));
        assert_eq!(store.execution("alive").await.unwrap().unwrap().generation, 0);
        finish(test_db).await;
    }
}

fn step(seq: u32) -> flowmate_execution::model::Step {
    flowmate_execution::model::Step {
        seq,
        step_id: format!("s{seq}"),
        component_id: "transform".into(),
        function: "map".into(),
        status: StepStatus::Succeeded,
        attempt: 1,
        started_at: time::now_string(),
        finished_at: time::now_string(),
        input: None,
        output: Some(serde_json::json!({"n": seq})),
        error: None,
        logs: None,
    }
}

/// Many checkpoints at once share transactions and multi-row statements: each still gets its own answer, its steps
/// and its events, and a create-only checkpoint of an execution that exists — in the same group or an earlier one —
/// writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_group_commit_answers_each_checkpoint_and_writes_only_what_it_owns() {
    for test_db in databases().await {
        let store = Store::new(Db::connect(&test_db.url, 4, MIGRATIONS).await.unwrap());
        write(&store, execution("existing", None, None)).await;
        let checkpoints: Vec<(Checkpoint, bool)> = (0..75)
            .map(|i| {
                let cp = Checkpoint {
                    write: Write::Update,
                    execution: execution(&format!("e{i}"), Some(time::now_string()), None),
                    steps: vec![step(1), step(2)],
                    events: vec![Envelope::new(
                        "execution.finished",
                        "test",
                        serde_json::json!({"i": i}),
                    )],
                    resumed: vec![],
                };
                (cp, true)
            })
            .chain((0..2).map(|_| {
                // Two messages racing to create the same execution: one wins.
                let cp = Checkpoint {
                    write: Write::Create,
                    execution: execution("raced", None, None),
                    steps: vec![],
                    events: vec![],
                    resumed: vec![],
                };
                (cp, false)
            }))
            .chain(std::iter::once((
                Checkpoint {
                    write: Write::Create,
                    execution: execution("existing", Some(time::now_string()), None),
                    steps: vec![step(1)],
                    events: vec![Envelope::new("execution.finished", "test", serde_json::json!({}))],
                    resumed: vec![],
                },
                false,
            )))
            .collect();
        let answers =
            futures::future::join_all(checkpoints.iter().map(|(cp, _)| store.checkpoint(cp.clone()))).await;
        let answers: Vec<bool> = answers.into_iter().map(Result::unwrap).collect();
        assert_eq!(answers[..75], [true; 75], "every new execution is written");
        assert_eq!(
            answers[75..77].iter().filter(|w| **w).count(),
            1,
            "exactly one of two racing creates wins"
        );
        assert!(
            !answers[77],
            "a create-only checkpoint never overwrites an execution"
        );
        for i in [0, 37, 74] {
            let e = store.execution(&format!("e{i}")).await.unwrap().unwrap();
            assert_eq!(e.status, Status::Succeeded);
            let steps = store.steps(&format!("e{i}")).await.unwrap();
            assert_eq!(steps.iter().map(|s| s.seq).collect::<Vec<_>>(), vec![1, 2]);
            assert_eq!(steps[1].output, Some(serde_json::json!({"n": 2})));
        }
        let existing = store.execution("existing").await.unwrap().unwrap();
        assert_eq!(existing.status, Status::Running, "unchanged");
        assert!(store.steps("existing").await.unwrap().is_empty());
        let events = outbox_kinds(store.db()).await;
        let mut numbers: Vec<i64> = events.iter().filter_map(|e| e.data["i"].as_i64()).collect();
        numbers.sort_unstable();
        assert_eq!(
            numbers,
            (0..75).collect::<Vec<_>>(),
            "one event per written checkpoint"
        );
        assert_eq!(events.len(), 75);
        finish(test_db).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_write_creates_or_finishes_a_queued_execution_but_never_one_under_way() {
    for test_db in databases().await {
        let store = Store::new(Db::connect(&test_db.url, 4, MIGRATIONS).await.unwrap());
        let start = |e: Execution| Checkpoint {
            write: Write::Start,
            execution: e,
            steps: vec![step(1)],
            events: vec![],
            resumed: vec![],
        };
        let done = |id: &str, owner: &str| Execution {
            status: Status::Succeeded,
            finished_at: Some(time::now_string()),
            owner: Some(owner.into()),
            ..execution(id, None, None)
        };
        let status = |id: &'static str| {
            let store = store.clone();
            async move { store.execution(id).await.unwrap().unwrap().status }
        };

        // Not recorded yet: created, finished.
        assert!(store.checkpoint(start(done("new", "m1"))).await.unwrap());
        assert_eq!(status("new").await, Status::Succeeded);
        // Done already (a redelivery after the final write): untouched.
        assert!(!store.checkpoint(start(done("new", "m1"))).await.unwrap());

        // Queued by a manual run, owned by its message: finished in one write; another message's write is refused.
        let queued = |id: &str| Execution {
            status: Status::Queued,
            owner: Some("m2".into()),
            ..execution(id, None, None)
        };
        write(&store, queued("manual")).await;
        assert!(!store.checkpoint(start(done("manual", "other"))).await.unwrap());
        assert!(store.checkpoint(start(done("manual", "m2"))).await.unwrap());
        assert_eq!(status("manual").await, Status::Succeeded);

        // Under way, checkpointed by its message (a flow with outside effects whose holder went away): a run from the
        // start under the same message must not replace the checkpoint — a take-over continues it instead.
        let running = Execution {
            owner: Some("m3".into()),
            ..execution("running", None, None)
        };
        write(&store, running).await;
        assert!(!store.checkpoint(start(done("running", "m3"))).await.unwrap());
        assert_eq!(status("running").await, Status::Running);
        finish(test_db).await;
    }
}
