//! `email.send` to a capturing SMTP server the test starts, and `amqp.publish` to the RabbitMQ of `TEST_AMQP_URL`
//! (required in CI), each from a webhook flow through the public API.

use std::time::Duration;

use flowmate_testkit::{amqp_url, SmtpServer};
use serde_json::{json, Value};

use super::{chain, run_hook, secret, step};
use crate::harness::App;

async fn an_email_step_sends_the_templated_message(app: &App) {
    let smtp = SmtpServer::start().await;
    let login = secret(
        app,
        "smtp login",
        "SIMPLE",
        json!({"username": "flows", "passphrase": "smtp-pw-9"}),
    )
    .await;
    let flow = chain(
        "mail the customer",
        vec![
            json!({"id": "mail", "componentId": "email", "function": "send", "credentials_id": login,
            "fields": {"host": "127.0.0.1", "port": smtp.port(), "tls": "none",
                       "from": "shop@example.com", "to": "{{ customer.email }}", "cc": ["sales@example.com"],
                       "subject": "Your order {{ id }}",
                       "text": "Thanks {{ customer.name }}: {{ $count(items) }} items.",
                       "html": "<h1>Order {{ id }}</h1>"}}),
        ],
    );
    let body =
        json!({"id": "ord-9", "customer": {"name": "Ada", "email": "ada@example.com"}, "items": [1, 2]});
    let e = run_hook(app, flow, body).await;
    assert_eq!(e["status"], "succeeded", "{e}");
    let out = &step(&e, "mail")["output"];
    assert_eq!(out["accepted"], json!(["ada@example.com", "sales@example.com"]));
    let m = &smtp.wait_for(1).await[0];
    assert_eq!(m.from, "shop@example.com");
    assert_eq!(m.to, ["ada@example.com", "sales@example.com"]);
    assert_eq!(m.auth.as_deref(), Some("flows:smtp-pw-9"));
    assert_eq!(m.header("Subject").as_deref(), Some("Your order ord-9"));
    assert_eq!(m.header("To").as_deref(), Some("ada@example.com"));
    assert_eq!(m.header("Cc").as_deref(), Some("sales@example.com"));
    assert_eq!(m.header("Message-ID").as_deref(), out["messageId"].as_str());
    assert!(m.data.contains("Thanks Ada: 2 items."), "{}", m.data);
    assert!(m.data.contains("<h1>Order ord-9</h1>"), "{}", m.data);
    assert!(!e.to_string().contains("smtp-pw-9"), "{e}");
}

async fn amqp_publish_steps_are_confirmed_and_unroutable_ones_fail(app: &App) {
    let Some(url) = amqp_url() else { return };
    use futures::StreamExt;
    use lapin::{options::*, types::FieldTable, ExchangeKind};
    let conn = lapin::Connection::connect(&url, lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let (exchange, queue) = (format!("fm.e2e.{tag}"), format!("fm.e2e.{tag}.q"));
    let auto = ExchangeDeclareOptions {
        auto_delete: true,
        ..ExchangeDeclareOptions::default()
    };
    ch.exchange_declare(&exchange, ExchangeKind::Direct, auto, FieldTable::default())
        .await
        .unwrap();
    let q = QueueDeclareOptions {
        auto_delete: true,
        ..QueueDeclareOptions::default()
    };
    ch.queue_declare(&queue, q, FieldTable::default()).await.unwrap();
    ch.queue_bind(
        &queue,
        &exchange,
        "orders",
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let no_ack = BasicConsumeOptions {
        no_ack: true,
        ..BasicConsumeOptions::default()
    };
    let mut consumer = ch
        .basic_consume(&queue, "e2e", no_ack, FieldTable::default())
        .await
        .unwrap();
    let broker = secret(app, "broker", "MIXED", json!({"payload": {"url": url}})).await;
    let publish = |key: &str| {
        chain(
            "publish orders",
            vec![
                json!({"id": "pub", "componentId": "amqp", "function": "publish", "credentials_id": broker,
                "fields": {"exchange": exchange, "routingKey": key}}),
            ],
        )
    };
    let e = run_hook(app, publish("{{ kind }}"), json!({"kind": "orders", "id": 5})).await;
    assert_eq!(e["status"], "succeeded", "{e}");
    assert_eq!(
        step(&e, "pub")["output"],
        json!({"exchange": exchange, "routingKey": "orders", "confirmed": true})
    );
    let delivery = tokio::time::timeout(Duration::from_secs(10), consumer.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let got: Value = serde_json::from_slice(&delivery.data).unwrap();
    assert_eq!(got, json!({"kind": "orders", "id": 5}));
    let e = run_hook(app, publish("nobody-listens"), json!({})).await;
    assert_eq!(e["status"], "failed", "{e}");
    let error = &step(&e, "pub")["error"];
    assert_eq!(error["name"], "AmqpError", "{error}");
    assert!(error["message"].as_str().unwrap().contains("returned"), "{error}");
    assert!(!e.to_string().contains("guest:guest"), "{e}");
    let _ = conn.close(200, "done").await;
}

crate::connector_scenarios!(
    an_email_step_sends_the_templated_message,
    amqp_publish_steps_are_confirmed_and_unroutable_ones_fail,
);
