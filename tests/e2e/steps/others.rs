//! `dedupe.check` (a key seen within its TTL stops the message; another key, or the same key after the TTL, goes
//! on) and `error.raise` (fails the execution with its templated message and abandons what was still to run).

use serde_json::json;

use super::helpers::{manual_flow, output, records, run_to_end, start_fails};
use crate::{
    harness::App,
    support::{edge, node},
};

async fn dedupe_passes_a_key_once_within_its_ttl(app: &App) {
    let id = manual_flow(
        app,
        "dedupe",
        vec![
            node(
                "seen",
                "dedupe",
                "check",
                json!({"key": "orderId", "ttlMs": 600_000}),
            ),
            node(
                "after",
                "transform",
                "map",
                json!({"expression": "{\"passed\": orderId}"}),
            ),
        ],
        vec![edge("in", "seen"), edge("seen", "after")],
    )
    .await;
    let first = run_to_end(app, &id, json!({"orderId": "A-1"})).await;
    assert_eq!(output(&first, "after"), json!({"passed": "A-1"}), "{first}");
    let again = run_to_end(app, &id, json!({"orderId": "A-1"})).await;
    assert_eq!(again["status"], "succeeded", "{again}");
    assert!(
        records(&again, "after").is_empty(),
        "a key seen before stops the message: {again}"
    );
    assert_eq!(output(&again, "seen"), serde_json::Value::Null);
    let other = run_to_end(app, &id, json!({"orderId": "A-2"})).await;
    assert_eq!(output(&other, "after"), json!({"passed": "A-2"}));

    // Within one execution too: the second message with a key is dropped.
    let split = manual_flow(
        app,
        "dedupe-split",
        vec![
            node("split", "split", "each", json!({"path": "items"})),
            node("seen", "dedupe", "check", json!({"key": "sku", "ttlMs": 600_000})),
            node("join", "merge", "wait", json!({"mode": "array"})),
        ],
        vec![edge("in", "split"), edge("split", "seen"), edge("seen", "join")],
    )
    .await;
    let items = json!({"items": [{"sku": "x"}, {"sku": "y"}, {"sku": "x"}]});
    let execution = run_to_end(app, &split, items).await;
    assert_eq!(
        output(&execution, "join"),
        json!([{"sku": "x"}, {"sku": "y"}]),
        "{execution}"
    );
}

async fn a_key_goes_through_again_after_its_ttl(app: &App) {
    let id = manual_flow(
        app,
        "dedupe-short",
        vec![node("seen", "dedupe", "check", json!({"key": "k", "ttlMs": 1}))],
        vec![edge("in", "seen")],
    )
    .await;
    let first = run_to_end(app, &id, json!({"k": 1})).await;
    assert_eq!(output(&first, "seen"), json!({"k": 1}));
    // The first key expired 1 ms after it was claimed, before this run could start.
    let second = run_to_end(app, &id, json!({"k": 1})).await;
    assert_eq!(output(&second, "seen"), json!({"k": 1}), "{second}");
}

async fn error_raise_fails_the_execution_with_its_message(app: &App) {
    let id = manual_flow(
        app,
        "raise",
        vec![
            node(
                "check",
                "error",
                "raise",
                json!({"message": "order {{ id }} has no items", "name": "OrderInvalid"}),
            ),
            node("other", "delay", "wait", json!({"ms": 60_000})),
        ],
        vec![edge("in", "check"), edge("in", "other")],
    )
    .await;
    let execution = run_to_end(app, &id, json!({"id": "ord-9"})).await;
    assert_eq!(execution["status"], "failed", "{execution}");
    assert_eq!(
        execution["error"],
        json!({"name": "OrderInvalid", "message": "order ord-9 has no items"})
    );
    assert!(
        records(&execution, "other").is_empty(),
        "the other branch is abandoned: {execution}"
    );
    let reason = start_fails(
        app,
        crate::support::flow(
            "raise-nothing",
            vec![
                node("in", "manual", "run", json!({})),
                node("check", "error", "raise", json!({})),
            ],
            vec![edge("in", "check")],
        ),
    )
    .await;
    assert_eq!(reason, "node check: fields.message is required");
    let reason = start_fails(
        app,
        crate::support::flow(
            "dedupe-nothing",
            vec![
                node("in", "manual", "run", json!({})),
                node("seen", "dedupe", "check", json!({"key": "k"})),
            ],
            vec![edge("in", "seen")],
        ),
    )
    .await;
    assert_eq!(
        reason,
        "node seen: fields.ttlMs is required (how long a key is remembered, in ms)"
    );
}

crate::both_modes!(
    dedupe_passes_a_key_once_within_its_ttl,
    a_key_goes_through_again_after_its_ttl,
    error_raise_fails_the_execution_with_its_message,
);
