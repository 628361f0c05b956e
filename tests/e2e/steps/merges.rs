//! `merge.wait`: split and join (map-reduce), parallel branches joined by source, a filtered branch, `count`,
//! and a failed branch (the merge does not fire; the execution fails).

use serde_json::{json, Value};

use super::helpers::{edge_if, manual_flow, output, records, run_to_end};
use crate::{
    harness::App,
    support::{edge, node},
};

async fn split_then_merge_joins_every_item_in_order(app: &App) {
    let id = manual_flow(
        app,
        "map-reduce",
        vec![
            node("split", "split", "each", json!({"path": "items"})),
            node(
                "double",
                "transform",
                "map",
                json!({"expression": "{\"n\": n * 2}"}),
            ),
            node("join", "merge", "wait", json!({"mode": "array"})),
            node(
                "sum",
                "transform",
                "map",
                json!({"expression": "{\"total\": $sum($.n), \"count\": $count($)}"}),
            ),
        ],
        vec![
            edge("in", "split"),
            edge("split", "double"),
            edge("double", "join"),
            edge("join", "sum"),
        ],
    )
    .await;
    let items: Vec<Value> = (1..=10).map(|n| json!({"n": n})).collect();
    let execution = run_to_end(app, &id, json!({"items": items})).await;
    assert_eq!(execution["status"], "succeeded", "{execution}");
    let joined: Vec<Value> = (1..=10).map(|n| json!({"n": n * 2})).collect();
    assert_eq!(output(&execution, "join"), Value::Array(joined));
    assert_eq!(records(&execution, "join").len(), 1, "the merge fires once");
    assert_eq!(output(&execution, "sum"), json!({"total": 110, "count": 10}));
}

async fn parallel_branches_merge_by_source_and_a_filtered_branch_is_settled(app: &App) {
    let id = manual_flow(
        app,
        "branches",
        vec![
            node(
                "price",
                "transform",
                "map",
                json!({"expression": "{\"price\": price}"}),
            ),
            node(
                "stock",
                "transform",
                "map",
                json!({"expression": "{\"stock\": stock}"}),
            ),
            node("join", "merge", "wait", json!({})),
        ],
        vec![
            edge("in", "price"),
            edge_if("in", "stock", "stock > 0"),
            edge("price", "join"),
            edge("stock", "join"),
        ],
    )
    .await;
    let both = run_to_end(app, &id, json!({"price": 5, "stock": 3})).await;
    assert_eq!(both["status"], "succeeded", "{both}");
    assert_eq!(
        output(&both, "join"),
        json!({"price": {"price": 5}, "stock": {"stock": 3}})
    );
    // The stock branch is filtered out by its edge: the merge fires with what arrived once nothing else can.
    let one = run_to_end(app, &id, json!({"price": 5, "stock": 0})).await;
    assert_eq!(one["status"], "succeeded", "{one}");
    assert_eq!(output(&one, "join"), json!({"price": {"price": 5}}));
    assert_eq!(records(&one, "join").len(), 1);
}

async fn count_fires_the_merge_as_soon_as_enough_arrived(app: &App) {
    let id = manual_flow(
        app,
        "pairs",
        vec![
            node("split", "split", "each", json!({"path": "items"})),
            node("pair", "merge", "wait", json!({"mode": "array", "count": 2})),
        ],
        vec![edge("in", "split"), edge("split", "pair")],
    )
    .await;
    let execution = run_to_end(app, &id, json!({"items": [1, 2, 3, 4, 5]})).await;
    assert_eq!(execution["status"], "succeeded", "{execution}");
    let fired: Vec<Value> = records(&execution, "pair")
        .iter()
        .map(|r| r["output"].clone())
        .collect();
    assert_eq!(
        fired,
        [json!([1, 2]), json!([3, 4]), json!([5])],
        "two pairs, then the rest once settled"
    );
}

async fn a_failed_branch_keeps_the_merge_from_firing(app: &App) {
    let id = manual_flow(
        app,
        "broken-branch",
        vec![
            node("ok", "transform", "map", json!({"expression": "{\"ok\": true}"})),
            node(
                "bad",
                "code",
                "execute",
                json!({"code": "throw new Error('branch broke');"}),
            ),
            node("join", "merge", "wait", json!({})),
        ],
        vec![
            edge("in", "ok"),
            edge("in", "bad"),
            edge("ok", "join"),
            edge("bad", "join"),
        ],
    )
    .await;
    let execution = run_to_end(app, &id, json!({})).await;
    assert_eq!(execution["status"], "failed", "{execution}");
    assert!(records(&execution, "join").is_empty(), "{execution}");
    assert_eq!(records(&execution, "bad")[0]["status"], "failed");
}

async fn the_catalogue_and_the_start_check_know_the_merge(app: &App) {
    let r = app.api.get("/components", Some(&app.admin)).await;
    let names: Vec<String> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}.{}",
                c["componentId"].as_str().unwrap(),
                c["function"].as_str().unwrap()
            )
        })
        .collect();
    for wanted in [
        "merge.wait",
        "flow.call",
        "wait.event",
        "dedupe.check",
        "error.raise",
    ] {
        assert!(
            names.contains(&wanted.to_owned()),
            "{wanted} missing from {names:?}"
        );
    }
    let body = crate::support::flow(
        "bad-merge",
        vec![
            node("in", "manual", "run", json!({})),
            node("join", "merge", "wait", json!({"mode": "list"})),
        ],
        vec![edge("in", "join")],
    );
    let reason = super::helpers::start_fails(app, body).await;
    assert_eq!(
        reason,
        "node join: fields.mode must be object or array, not \"list\""
    );
}

crate::both_modes!(
    split_then_merge_joins_every_item_in_order,
    parallel_branches_merge_by_source_and_a_filtered_branch_is_settled,
    count_fires_the_merge_as_soon_as_enough_arrived,
    a_failed_branch_keeps_the_merge_from_firing,
    the_catalogue_and_the_start_check_know_the_merge,
);
