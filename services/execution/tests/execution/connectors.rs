//! `email.send` against a capturing SMTP server started by the test, and `amqp.publish` against the RabbitMQ of
//! `TEST_AMQP_URL` (confirmed, unroutable, unknown exchange).

use std::time::Duration;

use flowmate_execution::{
    components::{
        connectors::{Connector, Connectors},
        StepContext,
    },
    credentials::SecretValue,
    expr::{Limits, Scope},
    model::StepError,
};
use flowmate_testkit::{amqp_url, SmtpServer};
use futures::StreamExt;
use lapin::{
    options::{BasicConsumeOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions},
    types::FieldTable,
    ExchangeKind,
};
use serde_json::{json, Value};

async fn step(
    connectors: &Connectors,
    c: Connector,
    fields: Value,
    data: Value,
    secret: Option<&SecretValue>,
) -> Result<Value, StepError> {
    let msg = json!({"data": data.clone(), "headers": {"x-order": "A-7"}});
    let steps = json!({});
    let scope = Scope {
        data: &data,
        msg: &msg,
        steps: &steps,
        execution: &steps,
    };
    let cx = StepContext {
        node_id: "n1",
        waited: false,
        attempt: 1,
        execution_id: "exec-1",
        flow_id: "f1",
        flow_version: 1,
        tenant: "t1",
        timeout: None,
        credential: None,
        resumed: None,
        claimant: "exec-1:1",
    };
    let limits = Limits {
        timeout: Duration::from_secs(2),
    };
    connectors.step(c, &fields, scope, &cx, limits, secret).await
}

#[tokio::test]
async fn an_email_reaches_the_server_with_its_headers_body_and_login() {
    let smtp = SmtpServer::start().await;
    let secret = SecretValue {
        kind: "SIMPLE".into(),
        value: json!({"username": "mailer", "passphrase": "pw-123"}),
    };
    let fields = json!({
        "host": "127.0.0.1", "port": smtp.port(), "tls": "none",
        "from": "FlowMate <flows@example.com>",
        "to": ["{{ $.customer.email }}", "ops@example.com"],
        "cc": "audit@example.com",
        "subject": "Order {{ $.id }} for {{ $msg.headers.\"x-order\" }}",
        "text": "Hello {{ $.customer.name }}, total {{ $.total }}.",
        "html": "<p>Hello <b>{{ $.customer.name }}</b></p>"});
    let data = json!({"id": 42, "total": 9.5, "customer": {"name": "Zoë", "email": "zoe@example.com"}});
    let out = step(
        &Connectors::default(),
        Connector::Email,
        fields,
        data,
        Some(&secret),
    )
    .await
    .unwrap();
    assert_eq!(
        out["accepted"],
        json!(["zoe@example.com", "ops@example.com", "audit@example.com"])
    );
    assert!(out["response"].as_str().unwrap().starts_with("250"), "{out}");
    let got = smtp.wait_for(1).await;
    let m = &got[0];
    assert_eq!(m.from, "flows@example.com");
    assert_eq!(m.to, ["zoe@example.com", "ops@example.com", "audit@example.com"]);
    assert_eq!(m.auth.as_deref(), Some("mailer:pw-123"));
    assert_eq!(m.header("Subject").unwrap(), "Order 42 for A-7");
    assert_eq!(m.header("From").unwrap(), "FlowMate <flows@example.com>");
    assert_eq!(m.header("To").unwrap(), "zoe@example.com, ops@example.com");
    assert_eq!(m.header("Cc").unwrap(), "audit@example.com");
    assert_eq!(
        m.header("Message-ID").unwrap(),
        out["messageId"].as_str().unwrap()
    );
    assert!(
        m.header("Content-Type")
            .unwrap()
            .starts_with("multipart/alternative"),
        "{}",
        m.data
    );
    // Zoë is sent as UTF-8 (quoted-printable or 8bit); the rest is plain.
    assert!(m.data.contains("Hello Zo"), "{}", m.data);
    assert!(m.data.contains("total 9.5."), "{}", m.data);
    assert!(m.data.contains("<b>Zo"), "{}", m.data);
    assert!(!format!("{out}").contains("pw-123"));
}

#[tokio::test]
async fn email_failures_are_step_errors() {
    let smtp = SmtpServer::start().await;
    let base = json!({"host": "127.0.0.1", "port": smtp.port(), "tls": "none", "from": "a@example.com",
                      "subject": "s", "text": "t"});
    let with = |extra: Value| {
        let mut f = base.clone();
        f.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        f
    };
    let c = Connectors::default();
    let err = step(
        &c,
        Connector::Email,
        with(json!({"to": "reject@example.com"})),
        json!({}),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(err.name, "EmailError");
    assert!(err.message.contains("550"), "{err:?}");
    let err = step(
        &c,
        Connector::Email,
        with(json!({"to": "not an address"})),
        json!({}),
        None,
    )
    .await
    .unwrap_err();
    assert!(err.message.contains("is not an email address"), "{err:?}");
    // A header injection through the data is refused, not sent.
    let fields = with(json!({"to": "b@example.com", "subject": "{{ $.s }}"}));
    let hostile = json!({"s": "hi\r\nBcc: victim@example.com"});
    match step(&c, Connector::Email, fields, hostile, None).await {
        Err(e) => assert_eq!(e.name, "EmailError"),
        Ok(_) => {
            let m = &smtp.wait_for(1).await[0];
            assert_eq!(m.to, ["b@example.com"]);
            assert!(m.header("Bcc").is_none(), "{}", m.data);
        }
    }
    // STARTTLS required by default: a server without it is refused.
    let mut fields = with(json!({"to": "b@example.com"}));
    fields.as_object_mut().unwrap().remove("tls");
    let err = step(&c, Connector::Email, fields, json!({}), None)
        .await
        .unwrap_err();
    assert_eq!(err.name, "EmailError", "{err:?}");
    // A wrong secret type.
    let api_key = SecretValue {
        kind: "API_KEY".into(),
        value: json!({"key": "k"}),
    };
    let err = step(
        &c,
        Connector::Email,
        with(json!({"to": "b@example.com"})),
        json!({}),
        Some(&api_key),
    )
    .await
    .unwrap_err();
    assert_eq!(err.name, "CredentialError");
}

/// A topic exchange `fm.test.<tag>` with an auto-deleted queue bound to `orders.*`, and a consumer of it.
async fn bound_queue(conn: &lapin::Connection, tag: &str) -> (String, lapin::Consumer) {
    let ch = conn.create_channel().await.unwrap();
    let (exchange, queue) = (format!("fm.test.{tag}"), format!("fm.test.{tag}.q"));
    let auto = ExchangeDeclareOptions {
        auto_delete: true,
        ..ExchangeDeclareOptions::default()
    };
    ch.exchange_declare(&exchange, ExchangeKind::Topic, auto, FieldTable::default())
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
        "orders.*",
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .unwrap();
    let consumer = ch
        .basic_consume(
            &queue,
            "t",
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    (exchange, consumer)
}

#[tokio::test]
async fn amqp_publish_is_confirmed_and_unroutable_messages_fail() {
    let Some(url) = amqp_url() else { return };
    let conn = lapin::Connection::connect(&url, lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let (exchange, mut consumer) = bound_queue(&conn, &tag).await;
    let secret = SecretValue {
        kind: "MIXED".into(),
        value: json!({"payload": format!("{{\"url\":\"{url}\"}}")}),
    };
    let c = Connectors::default();
    let fields = json!({"exchange": exchange, "routingKey": "orders.{{ $.kind }}"});
    let out = step(
        &c,
        Connector::AmqpPublish,
        fields.clone(),
        json!({"kind": "new", "id": 7}),
        Some(&secret),
    )
    .await
    .unwrap();
    assert_eq!(
        out,
        json!({"exchange": exchange, "routingKey": "orders.new", "confirmed": true})
    );
    let delivery = tokio::time::timeout(Duration::from_secs(10), consumer.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let body: Value = serde_json::from_slice(&delivery.data).unwrap();
    assert_eq!(body, json!({"kind": "new", "id": 7}));
    assert_eq!(
        delivery.properties.content_type().as_ref().unwrap().as_str(),
        "application/json"
    );
    assert_eq!(
        delivery.properties.message_id().as_ref().unwrap().as_str(),
        "exec-1:n1:1"
    );
    // No queue bound for this key: returned by the broker, a step error.
    let err = step(
        &c,
        Connector::AmqpPublish,
        json!({"exchange": exchange, "routingKey": "other"}),
        json!({}),
        Some(&secret),
    )
    .await
    .unwrap_err();
    assert_eq!(err.name, "AmqpError");
    assert!(err.message.contains("returned"), "{err:?}");
    // An exchange that does not exist closes the channel: an error, and the next publish opens a new one.
    let err = step(
        &c,
        Connector::AmqpPublish,
        json!({"exchange": format!("{exchange}.missing"), "routingKey": "x"}),
        json!({}),
        Some(&secret),
    )
    .await
    .unwrap_err();
    assert_eq!(err.name, "AmqpError", "{err:?}");
    assert!(!err.message.contains("guest:guest"), "{err:?}");
    step(
        &c,
        Connector::AmqpPublish,
        fields,
        json!({"kind": "again"}),
        Some(&secret),
    )
    .await
    .unwrap();
    // FlowMate's own bus (same broker and vhost) is refused before connecting.
    let guarded = Connectors::default().guarding_bus(Some(&url));
    let err = step(
        &guarded,
        Connector::AmqpPublish,
        json!({"exchange": exchange, "routingKey": "orders.x"}),
        json!({}),
        Some(&secret),
    )
    .await
    .unwrap_err();
    assert!(err.message.contains("FlowMate's own broker"), "{err:?}");
    let _ = conn.close(200, "done").await;
}
