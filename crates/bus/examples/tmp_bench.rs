#![allow(clippy::unwrap_used)]
//! temp
use flowmate_bus::{embedded::EmbeddedBus, Bus, Envelope};
use std::sync::Arc;
#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let bus = Arc::new(EmbeddedBus::open(&dir.path().join("b.db")).await.unwrap());
    bus.declare("g", &["#".to_owned()]).await.unwrap();
    bus.declare("h", &["x.#".to_owned()]).await.unwrap();
    for round in 0..3 {
        let start = std::time::Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for n in 0..5000 {
            let bus = bus.clone();
            set.spawn(async move {
                bus.publish(&Envelope::new("x.y", "b", serde_json::json!({"n": n})))
                    .await
            });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap().unwrap();
        }
        let el = start.elapsed();
        println!(
            "round {round}: 5000 concurrent publishes (2 groups each) in {el:?} = {:.0}/s",
            5000.0 / el.as_secs_f64()
        );
    }
    let start = std::time::Instant::now();
    for n in 0..500 {
        bus.publish(&Envelope::new("x.y", "b", serde_json::json!({"n": n})))
            .await
            .unwrap();
    }
    println!("sequential: 500 in {:?}", start.elapsed());
}
