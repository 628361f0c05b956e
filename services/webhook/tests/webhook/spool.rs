//! No webhook refused during a broker outage: while the bus cannot confirm, triggers are committed to the spool and
//! answered 200; once it confirms again the relay publishes them in the order they were accepted, each exactly
//! once; only when the database cannot take them either is a webhook refused (503, one log line a second).

use flowmate_domain::{event::types, Id};
use std::time::Instant;

use flowmate_webhook::throttle::EVERY;

use crate::support::{eventually, header, json, Backend, Service};

async fn accepted_into_the_spool_and_published_in_order(backend: Backend) {
    let Some(s) = Service::start(backend).await else {
        return;
    };
    // A new replica publishes what a previous run spooled first; the spool is empty: it soon publishes directly.
    eventually("the first relay round", || async {
        !s.webhooks.triggers.spooling()
    })
    .await;
    s.bus.set_down(true);
    let mut sent = Vec::new();
    for n in 0..40 {
        let id = Id::new().into_string();
        let r = s.post(&id, &format!(r#"{{"n":{n}}}"#), "", &[]).await;
        assert_eq!(r.status, 200, "{:?}", String::from_utf8_lossy(&r.body));
        assert_eq!(json(&r)["data"]["requestId"], id.as_str());
        assert_eq!(json(&r)["data"]["message"], "thank you");
        sent.push(id);
    }
    assert!(s.bus.published().is_empty());
    assert_eq!(s.spool.depth().await.unwrap(), 40);
    s.bus.set_down(false);
    // Accepted while the spool is being published: queued behind it, not ahead.
    for n in 40..60 {
        let id = Id::new().into_string();
        let r = s.post(&id, &format!(r#"{{"n":{n}}}"#), "", &[]).await;
        assert_eq!(r.status, 200);
        sent.push(id);
    }
    eventually("all 60 published", || async { s.bus.published().len() >= 60 }).await;
    let published = s.bus.published();
    let order: Vec<&str> = published
        .iter()
        .map(|e| e.data["executionId"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        sent.iter().map(String::as_str).collect::<Vec<_>>(),
        "in order, each once"
    );
    for (n, e) in published.iter().enumerate() {
        assert_eq!(e.kind, types::FLOW_EXECUTE);
        assert_eq!(e.tenant.as_deref(), Some("tenant-1"));
        assert_eq!(e.data["flowId"], s.flow.as_str());
        assert_eq!(e.data["trigger"]["requestId"], e.data["executionId"]);
        assert_eq!(e.data["message"]["data"]["n"], n);
    }
    eventually("the spool emptied and direct publishing again", || async {
        s.spool.depth().await.unwrap() == 0 && !s.webhooks.triggers.spooling()
    })
    .await;
    let r = s.post(&Id::new().into_string(), "{}", "", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(s.bus.published().len(), 61, "published before the 200, no spool");
    let metrics = flowmate_telemetry::metrics::render();
    assert!(
        metrics.contains(r#"flowmate_webhooks_total{outcome="spooled"}"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("flowmate_webhook_spool_published_total"),
        "{metrics}"
    );
    s.stop().await;
}

async fn a_repeated_idempotency_key_during_the_outage_runs_once(backend: Backend) {
    let Some(s) = Service::start(backend).await else {
        return;
    };
    eventually("the first relay round", || async {
        !s.webhooks.triggers.spooling()
    })
    .await;
    s.bus.set_down(true);
    let key = [("idempotency-key", "order-42")];
    let first = s
        .post(&Id::new().into_string(), r#"{"order":42}"#, "", &key)
        .await;
    assert_eq!(first.status, 200);
    let again = s
        .post(&Id::new().into_string(), r#"{"order":42}"#, "", &key)
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(header(&again, "idempotency-replayed"), Some("true"));
    assert_eq!(
        json(&again)["data"]["requestId"],
        json(&first)["data"]["requestId"]
    );
    s.bus.set_down(false);
    eventually("the spool published", || async {
        s.spool.depth().await.unwrap() == 0
    })
    .await;
    let published = s.bus.published();
    assert_eq!(published.len(), 1, "one trigger for one key");
    assert_eq!(
        published[0].data["executionId"],
        json(&first)["data"]["requestId"]
    );
    s.stop().await;
}

async fn sync_webhooks_are_refused_not_spooled(backend: Backend) {
    let Some(s) = Service::start(backend).await else {
        return;
    };
    eventually("the first relay round", || async {
        !s.webhooks.triggers.spooling()
    })
    .await;
    s.bus.set_down(true);
    let r = s.post(&Id::new().into_string(), "{}", "sync=true", &[]).await;
    assert_eq!(r.status, 503);
    assert_eq!(
        json(&r)["errors"][0]["message"],
        "Service unavailable; the request was not accepted. Try again."
    );
    assert_eq!(header(&r, "retry-after"), Some("1"));
    assert_eq!(
        s.spool.depth().await.unwrap(),
        0,
        "a sync webhook waits for a reply over the broker"
    );
    s.stop().await;
}

async fn refused_only_when_the_database_is_down_too(backend: Backend) {
    let Some(s) = Service::start(backend).await else {
        return;
    };
    eventually("the first relay round", || async {
        !s.webhooks.triggers.spooling()
    })
    .await;
    // The database alone down: the broker takes them.
    s.db.close().await;
    let r = s.post(&Id::new().into_string(), "{}", "", &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(s.bus.published().len(), 1);
    // Both down: 503, nothing promised.
    s.bus.set_down(true);
    for _ in 0..300 {
        let r = s.post(&Id::new().into_string(), "{}", "", &[]).await;
        assert_eq!(r.status, 503);
        assert_eq!(header(&r, "retry-after"), Some("1"));
        assert_eq!(
            json(&r)["errors"][0]["message"],
            "Service unavailable; the request was not accepted. Try again."
        );
    }
    // 300 refusals within a second: one line at once (count 1), the other 299 counted for the next line, due a
    // second after the first (the process test reads the lines themselves in the service's log).
    let now = Instant::now();
    assert_eq!(s.webhooks.refused_log.flush_at(now), None, "not due yet");
    let next = s.webhooks.refused_log.flush_at(now + EVERY).unwrap();
    assert_eq!(next.count, 299);
    assert!(
        next.error.starts_with(&format!("flow {}: broker: ", s.flow)),
        "{}",
        next.error
    );
    assert!(next.error.contains("; database: "), "{}", next.error);
    let metrics = flowmate_telemetry::metrics::render();
    assert!(
        metrics.contains(r#"flowmate_webhooks_total{outcome="unavailable"}"#),
        "{metrics}"
    );
    s.stop().await;
}

macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::support::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::support::Backend::Postgres).await;
                }
            )*
        }
    };
}

on_both_databases!(
    accepted_into_the_spool_and_published_in_order,
    a_repeated_idempotency_key_during_the_outage_runs_once,
    sync_webhooks_are_refused_not_spooled,
    refused_only_when_the_database_is_down_too,
);
