//! `sql.query` against PostgreSQL (`TEST_DATABASE_URL`), MariaDB (`TEST_MYSQL_URL`) and SQLite: reads, writes,
//! types, parameters that stay values, errors without credentials, the row cap and the statement timeout.

use std::time::{Duration, Instant};

use flowmate_execution::{
    components::{
        connectors::{Connector, Connectors},
        StepContext,
    },
    credentials::SecretValue,
    expr::{Limits, Scope},
    model::StepError,
};
use flowmate_testkit::{mysql_url, PgDatabase, TempDir};
use serde_json::{json, Value};

/// One database under test.
struct Db {
    name: &'static str,
    url: String,
    connectors: Connectors,
    /// `$1` or `?`.
    mark: fn(usize) -> String,
    _pg: Option<PgDatabase>,
    _dir: Option<TempDir>,
}

impl Db {
    async fn step(&self, fields: Value, data: Value) -> Result<Value, StepError> {
        step_with(&self.connectors, &self.url, fields, data).await
    }

    fn marks(&self, n: usize) -> Vec<String> {
        (1..=n).map(self.mark).collect()
    }
}

pub async fn step_with(
    connectors: &Connectors,
    url: &str,
    fields: Value,
    data: Value,
) -> Result<Value, StepError> {
    let secret = SecretValue {
        kind: "MIXED".into(),
        value: json!({"payload": {"url": url}}),
    };
    let msg = json!({"data": data.clone()});
    let steps = json!({});
    let scope = Scope {
        data: &data,
        msg: &msg,
        steps: &steps,
        execution: &steps,
    };
    let cx = StepContext {
        node_id: "db",
        waited: false,
        attempt: 1,
        execution_id: "e1",
        flow_id: "f1",
        flow_version: 1,
        tenant: "t1",
        timeout: None,
        credential: None,
        resumed: None,
        claimant: "e1:1",
    };
    let limits = Limits {
        timeout: Duration::from_secs(2),
    };
    connectors
        .step(Connector::Sql, &fields, scope, &cx, limits, Some(&secret))
        .await
}

/// Every database this machine has (PostgreSQL and MariaDB only when configured; always in CI).
async fn databases() -> Vec<Db> {
    let dollar: fn(usize) -> String = |i| format!("${i}");
    let question: fn(usize) -> String = |_| "?".into();
    let dir = TempDir::new().unwrap();
    let mut out = vec![Db {
        name: "sqlite",
        url: "sqlite:test.db".into(),
        connectors: Connectors::new(Some(dir.path().to_path_buf())),
        mark: dollar,
        _pg: None,
        _dir: Some(dir),
    }];
    if let Some(pg) = PgDatabase::create().await {
        out.push(Db {
            name: "postgres",
            url: pg.url.clone(),
            connectors: Connectors::default(),
            mark: dollar,
            _pg: Some(pg),
            _dir: None,
        });
    }
    if let Some(url) = mysql_url() {
        out.push(Db {
            name: "mariadb",
            url,
            connectors: Connectors::default(),
            mark: question,
            _pg: None,
            _dir: None,
        });
    }
    out
}

fn table() -> String {
    format!("t_{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

#[tokio::test]
async fn select_insert_update_on_each_database_and_an_injection_is_just_a_value() {
    for db in databases().await {
        let t = table();
        let create = format!(
            "CREATE TABLE {t} (id INTEGER PRIMARY KEY, name VARCHAR(200), score DOUBLE PRECISION, active BOOLEAN)"
        );
        assert_eq!(
            db.step(json!({"query": create}), json!({})).await.unwrap(),
            json!({"rowsAffected": 0}),
            "{}",
            db.name
        );
        let m = db.marks(4);
        let insert = format!(
            "INSERT INTO {t} (id, name, score, active) VALUES ({}, {}, {}, {})",
            m[0], m[1], m[2], m[3]
        );
        let hostile = format!("x'); DROP TABLE {t}; --");
        for (id, name) in [(1, "Ada".to_owned()), (2, hostile.clone())] {
            let out = db
                .step(
                    json!({"query": insert, "params": ["$.id", "$.name", "$.score", "$.active"]}),
                    json!({"id": id, "name": name, "score": 1.5, "active": true}),
                )
                .await
                .unwrap();
            assert_eq!(out, json!({"rowsAffected": 1}), "{}", db.name);
        }
        let m = db.marks(2);
        let update = format!("UPDATE {t} SET score = {} WHERE id = {}", m[0], m[1]);
        let out = db
            .step(
                json!({"query": update, "params": [7.25, "$.id"]}),
                json!({"id": 1}),
            )
            .await
            .unwrap();
        assert_eq!(out, json!({"rowsAffected": 1}), "{}", db.name);
        let select = format!("SELECT id, name, score, active FROM {t} ORDER BY id");
        let rows = db.step(json!({"query": select}), json!({})).await.unwrap();
        assert_eq!(
            rows,
            json!([
                {"id": 1, "name": "Ada", "score": 7.25, "active": true},
                {"id": 2, "name": hostile, "score": 1.5, "active": true}
            ]),
            "{}",
            db.name
        );
        // A parameter is a value even where it looks like SQL: nothing matches, and the table is still there.
        let by_name = format!("SELECT id FROM {t} WHERE name = {}", db.marks(1)[0]);
        let out = db
            .step(
                json!({"query": by_name, "params": ["$.q"]}),
                json!({"q": "' OR '1'='1"}),
            )
            .await
            .unwrap();
        assert_eq!(out, json!([]), "{}", db.name);
        let out = db
            .step(
                json!({"query": by_name, "params": ["{{ $.n }}"]}),
                json!({"n": "Ada"}),
            )
            .await
            .unwrap();
        assert_eq!(out, json!([{"id": 1}]), "{}", db.name);
        let drop = format!("DROP TABLE {t}");
        db.step(json!({"query": drop}), json!({})).await.unwrap();
    }
}

#[tokio::test]
async fn column_types_map_to_json() {
    for db in databases().await {
        let (query, expected) = match db.name {
            "postgres" => (
                "SELECT 1::int2 AS a, 2::int4 AS b, 3::int8 AS c, 1.5::float4 AS d, 2.5::float8 AS e, true AS f, \
                 'x'::text AS g, '{\"k\":[1,2]}'::jsonb AS h, '2026-01-02T03:04:05.5+01:00'::timestamptz AS i, \
                 '2026-01-02 03:04:05'::timestamp AS j, '2026-01-02'::date AS k, '\\xdeadbeef'::bytea AS l, \
                 NULL::text AS m, 12.340::numeric AS n, (-0.05)::numeric AS o, '{\"z\":1}'::json AS p",
                json!({"a": 1, "b": 2, "c": 3, "d": 1.5, "e": 2.5, "f": true, "g": "x", "h": {"k": [1, 2]},
                       "i": "2026-01-02T02:04:05.500Z", "j": "2026-01-02T03:04:05Z", "k": "2026-01-02",
                       "l": "3q2+7w==", "m": null, "n": "12.340", "o": "-0.05", "p": {"z": 1}}),
            ),
            "mariadb" => (
                "SELECT CAST(1 AS SIGNED) AS a, CAST(2 AS UNSIGNED) AS b, CAST(1.5 AS DOUBLE) AS e, 'x' AS g, \
                 CAST('2026-01-02 03:04:05' AS DATETIME) AS j, CAST('2026-01-02' AS DATE) AS k, \
                 X'DEADBEEF' AS l, NULL AS m, CAST(12.34 AS DECIMAL(10,3)) AS n",
                json!({"a": 1, "b": 2, "e": 1.5, "g": "x", "j": "2026-01-02T03:04:05Z", "k": "2026-01-02",
                       "l": "3q2+7w==", "m": null, "n": "12.340"}),
            ),
            _ => (
                "SELECT 1 AS a, 2.5 AS e, 'x' AS g, X'DEADBEEF' AS l, NULL AS m",
                json!({"a": 1, "e": 2.5, "g": "x", "l": "3q2+7w==", "m": null}),
            ),
        };
        let rows = db.step(json!({"query": query}), json!({})).await.unwrap();
        assert_eq!(rows, json!([expected]), "{}", db.name);
        // Objects and arrays are bound as JSON text.
        let m = db.marks(1);
        let echo = match db.name {
            "postgres" => format!("SELECT ({}::jsonb)->'a' AS a", m[0]),
            _ => format!("SELECT {} AS a", m[0]),
        };
        let rows = db
            .step(json!({"query": echo, "params": ["$"]}), json!({"a": [1, "two"]}))
            .await
            .unwrap();
        let a = &rows[0]["a"];
        assert!(
            a == &json!([1, "two"]) || a == &json!("{\"a\":[1,\"two\"]}"),
            "{}: {a}",
            db.name
        );
    }
}

#[tokio::test]
async fn bad_sql_fails_with_the_database_message_and_no_credential() {
    for db in databases().await {
        // The same server, with a password in the URL that must not show anywhere.
        let url = match db.name {
            "sqlite" => db.url.clone(),
            _ => {
                let mut u = reqwest::Url::parse(&db.url).unwrap();
                u.set_password(Some("hunter2-pw")).unwrap();
                u.to_string()
            }
        };
        let err = step_with(
            &db.connectors,
            &url,
            json!({"query": "SELEC 1 FROM nowhere"}),
            json!({}),
        )
        .await
        .unwrap_err();
        assert!(
            err.name == "SQLError" || err.name == "CredentialError",
            "{}: {err:?}",
            db.name
        );
        let text = err.message.to_lowercase();
        assert!(
            text.contains("syntax") || text.contains("access denied") || text.contains("password"),
            "{}: {err:?}",
            db.name
        );
        assert!(
            !err.message.contains("hunter2-pw") && !err.message.contains(&url),
            "{}: {err:?}",
            db.name
        );
    }
    // An unreachable server: the error says so without the URL or password.
    let connectors = Connectors::default();
    for url in [
        "postgres://app:hunter2-pw@127.0.0.1:9/app",
        "mysql://app:hunter2-pw@127.0.0.1:9/app",
    ] {
        let started = Instant::now();
        let err = step_with(
            &connectors,
            url,
            json!({"query": "SELECT 1", "timeoutMs": 500}),
            json!({}),
        )
        .await
        .unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{url}: {:?}",
            started.elapsed()
        );
        assert!(
            !err.message.contains("hunter2-pw") && !err.message.contains("127.0.0.1:9"),
            "{err:?}"
        );
        assert_eq!(err.name, "SQLError", "{err:?}");
    }
    // Other URLs are refused before connecting.
    let err = step_with(
        &connectors,
        "sqlite:///etc/passwd",
        json!({"query": "SELECT 1"}),
        json!({}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.name, "CredentialError", "{err:?}");
    let err = step_with(
        &connectors,
        "redis://x:hunter2-pw@h",
        json!({"query": "SELECT 1"}),
        json!({}),
    )
    .await
    .unwrap_err();
    assert!(
        err.message.contains("must start with") && !err.message.contains("hunter2"),
        "{err:?}"
    );
}

#[tokio::test]
async fn more_rows_than_max_rows_fail_the_step() {
    let five = "SELECT 1 AS n UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5";
    for db in databases().await {
        let err = db
            .step(json!({"query": five, "maxRows": 3}), json!({}))
            .await
            .unwrap_err();
        assert_eq!(err.name, "SQLError", "{}", db.name);
        assert!(
            err.message.contains("more than maxRows (3)"),
            "{}: {err:?}",
            db.name
        );
        let rows = db
            .step(json!({"query": five, "maxRows": 5}), json!({}))
            .await
            .unwrap();
        assert_eq!(rows.as_array().unwrap().len(), 5, "{}", db.name);
    }
}

#[tokio::test]
async fn a_slow_statement_times_out_and_the_pool_still_works() {
    for db in databases().await {
        let slow = match db.name {
            "postgres" => "SELECT pg_sleep(5)",
            "mariadb" => "SELECT SLEEP(5)",
            _ => "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c WHERE x < 0",
        };
        let started = Instant::now();
        let err = db
            .step(json!({"query": slow, "timeoutMs": 200}), json!({}))
            .await
            .unwrap_err();
        assert_eq!(err.name, "Timeout", "{}: {err:?}", db.name);
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{}: {:?}",
            db.name,
            started.elapsed()
        );
        let rows = db
            .step(json!({"query": "SELECT 1 AS one", "timeoutMs": 200}), json!({}))
            .await
            .unwrap();
        assert_eq!(rows, json!([{"one": 1}]), "{}", db.name);
    }
}
