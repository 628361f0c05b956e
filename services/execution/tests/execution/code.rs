//! The code step's sandbox on its own (API.md §8): results, console lines, errors with positions in the user's
//! code, the limits, and what the sandbox keeps from the outside and from other runs. The same cases run through
//! the public API in `tests/e2e/code`.

use std::time::{Duration, Instant};

use flowmate_execution::components::code::{CodeOutput, CodeRunner, Failure, Job, Limits};
use serde_json::{json, Value};

fn runner() -> CodeRunner {
    CodeRunner::new(2, Limits::new(32, 1024 * 1024)).unwrap()
}

fn job(tenant: &str, code: &str, data: Value) -> Job {
    Job {
        tenant: tenant.into(),
        code: code.into(),
        data: data.to_string(),
        msg: json!({"data": data, "headers": {"x-test": "1"}}).to_string(),
        steps: json!({"in": {"seen": true}}).to_string(),
        flow: json!({"id": "f1", "version": 3, "tenant": tenant}).to_string(),
        execution: json!({"id": "e1", "attempt": 2}).to_string(),
        each: false,
        timeout: Duration::from_millis(300),
    }
}

async fn run(r: &CodeRunner, code: &str) -> CodeOutput {
    r.run(job("t1", code, json!({"n": 2}))).await
}

fn thrown(out: &CodeOutput) -> (String, String, Option<String>) {
    match &out.result {
        Err(Failure::Thrown { name, message, stack }) => (name.clone(), message.clone(), stack.clone()),
        other => panic!("expected a thrown error, got {other:?}"),
    }
}

#[tokio::test]
async fn the_return_value_is_the_output_and_the_scope_is_bound() {
    let r = runner();
    let out = run(
        &r,
        "return {n: data.n * 21, header: $msg.headers['x-test'], seen: $steps.in.seen, flow: $flow, exec: $execution};",
    )
    .await;
    assert_eq!(
        out.result.unwrap(),
        json!({"n": 42, "header": "1", "seen": true, "flow": {"id": "f1", "version": 3, "tenant": "t1"},
               "exec": {"id": "e1", "attempt": 2}})
    );
    assert_eq!(
        run(&r, "return;").await.result.unwrap(),
        Value::Null,
        "undefined is null"
    );
    assert_eq!(
        run(&r, "return await Promise.resolve(7);").await.result.unwrap(),
        json!(7),
        "a Promise is awaited"
    );
}

#[tokio::test]
async fn each_mode_runs_the_body_per_element() {
    let r = runner();
    let mut j = job("t1", "return data * 10;", json!([1, 2, 3]));
    j.each = true;
    assert_eq!(r.run(j).await.result.unwrap(), json!([10, 20, 30]));
}

#[tokio::test]
async fn console_lines_are_kept_with_their_level_and_bounded() {
    let r = runner();
    let out = run(
        &r,
        "console.log('a', 1, {b: 2}); console.warn('careful'); console.error(new TypeError('x')); return 1;",
    )
    .await;
    let lines: Vec<(&str, &str)> = out
        .logs
        .lines
        .iter()
        .map(|l| (l.level.as_str(), l.message.as_str()))
        .collect();
    assert_eq!(
        lines,
        [
            ("info", "a 1 {\"b\":2}"),
            ("warn", "careful"),
            ("error", "TypeError: x")
        ]
    );
    assert_eq!(out.logs.truncated, 0);
    let out = run(
        &r,
        "for (let i = 0; i < 150; i++) console.log('line ' + i); return 1;",
    )
    .await;
    assert_eq!(out.logs.lines.len(), 100);
    assert_eq!(out.logs.truncated, 50);
    let out = run(
        &r,
        "console.log('x'.repeat(20000)); console.log('short'); return 1;",
    )
    .await;
    assert_eq!(out.logs.lines.len(), 1, "a line past 16 KiB is left out");
    assert_eq!(out.logs.truncated, 1);
    let out = run(&r, "console.log('before'); throw new Error('after');").await;
    assert_eq!(out.logs.lines.len(), 1, "lines before a failure are kept");
}

#[tokio::test]
async fn a_thrown_error_has_its_name_message_and_a_stack_in_the_users_lines() {
    let r = runner();
    let out = run(&r, "const x = 1;\nfunction f() { return null.x; }\nreturn f();").await;
    let (name, message, stack) = thrown(&out);
    assert_eq!(name, "TypeError");
    assert_eq!(message, "cannot read property 'x' of null");
    let stack = stack.unwrap();
    assert!(
        stack.contains("code.js:2:"),
        "the throw is on the user's line 2: {stack}"
    );
    assert!(stack.contains("code.js:3:"), "the call on line 3: {stack}");
    let (name, message, _) = thrown(&run(&r, "throw 42;").await);
    assert_eq!((name.as_str(), message.as_str()), ("Error", "42"));
    let (name, message, _) = thrown(&run(&r, "throw {code: 7};").await);
    assert_eq!((name.as_str(), message.as_str()), ("Error", "{\"code\":7}"));
    let (name, _, _) = thrown(
        &run(
            &r,
            "class MyError extends Error {}; const e = new MyError('m'); e.name = 'MyError'; throw e;",
        )
        .await,
    );
    assert_eq!(name, "MyError");
}

#[tokio::test]
async fn a_syntax_error_is_found_without_running_with_its_line_and_column() {
    let r = runner();
    match r.check("const a = 1;\nconst b = ;\nreturn a;").await {
        Err(Failure::Syntax { line, column, .. }) => assert_eq!((line, column), (2, 11)),
        other => panic!("{other:?}"),
    }
    assert!(r.check("return 1;").await.is_ok());
    assert!(matches!(
        r.check("import fs from 'fs';").await,
        Err(Failure::Syntax { .. })
    ));
}

#[tokio::test]
async fn results_that_are_not_json_are_code_errors() {
    let r = runner();
    for code in [
        "return () => 1;",
        "return {f() {}};",
        "return Symbol('s');",
        "return 10n;",
        "const a = {}; a.self = a; return a;",
        "return 'x'.repeat(2 * 1024 * 1024);",
        "return new Promise(() => {});",
    ] {
        let out = run(&r, code).await;
        assert!(
            matches!(out.result, Err(Failure::Code(_))),
            "{code}: {:?}",
            out.result
        );
    }
}

#[tokio::test]
async fn limits_stop_loops_long_native_calls_memory_bombs_and_recursion_promptly() {
    let r = runner();
    // Memory and stack limits stop a run well before its (here generous) time limit; time limits at theirs.
    for (code, expected, limit_ms) in [
        ("while (true) {}", Failure::Timeout, 300),
        (
            "try { while (true) {} } catch (e) { return 'caught'; }",
            Failure::Timeout,
            300,
        ),
        (
            "return /(a+)+$/.test('a'.repeat(40) + 'b');",
            Failure::Timeout,
            300,
        ),
        ("return 'x'.repeat(1e9).length;", Failure::Memory, 5000),
        (
            "return new Array(1e8).fill(0).join().length;",
            Failure::Memory,
            5000,
        ),
        (
            "let a = []; for (;;) a.push(new Array(1e6));",
            Failure::Memory,
            5000,
        ),
        (
            "function f(n) { return f(n + 1) + 1; } return f(0);",
            Failure::StackOverflow,
            5000,
        ),
    ] {
        let started = Instant::now();
        let mut j = job("t1", code, json!(null));
        j.timeout = Duration::from_millis(limit_ms);
        let out = r.run(j).await;
        assert_eq!(out.result, Err(expected), "{code}");
        assert!(
            started.elapsed() < Duration::from_millis(limit_ms + 100),
            "{code} took {:?}",
            started.elapsed()
        );
        assert_eq!(
            run(&r, "return 1;").await.result,
            Ok(json!(1)),
            "the sandbox works after {code}"
        );
    }
}

#[tokio::test]
async fn nothing_outside_the_sandbox_is_reachable() {
    let r = runner();
    for (code, name) in [
        ("return require('fs');", "ReferenceError"),
        ("return fetch('http://127.0.0.1/');", "ReferenceError"),
        ("return process.env;", "ReferenceError"),
        ("return setTimeout(() => 1, 1);", "ReferenceError"),
        ("return eval('1');", "ReferenceError"),
        ("return Function('return globalThis')();", "EvalError"),
        (
            "return (async function () {}).constructor('return 1');",
            "EvalError",
        ),
        ("return await import('fs');", "ReferenceError"),
    ] {
        let (got, message, _) = thrown(&run(&r, code).await);
        assert_eq!(got, name, "{code}: {message}");
    }
}

#[tokio::test]
async fn a_global_set_in_one_run_is_undefined_in_the_next_and_built_ins_cannot_be_changed() {
    let r = runner();
    assert_eq!(
        run(&r, "globalThis.leak = 42; return typeof leak;").await.result,
        Ok(json!("number"))
    );
    assert_eq!(
        run(&r, "return typeof leak;").await.result,
        Ok(json!("undefined"))
    );
    let (name, _, _) = thrown(&run(&r, "counter = 1; return 1;").await);
    assert_eq!(name, "ReferenceError", "code is strict: no implicit globals");
    let (name, _, _) = thrown(&run(&r, "Object.prototype.polluted = 1; return 1;").await);
    assert_eq!(name, "TypeError", "built-in prototypes are frozen");
    let (name, _, _) = thrown(&run(&r, "JSON = {parse: () => 'mine'}; return 1;").await);
    assert_eq!(name, "TypeError", "built-in globals cannot be replaced");
    assert_eq!(
        run(&r, "return JSON.stringify([1]);").await.result,
        Ok(json!("[1]"))
    );
    assert_eq!(
        run(&r, "const o = {}; o.toString = () => 'mine'; return String(o);")
            .await
            .result,
        Ok(json!("mine")),
        "objects may still override what built-in prototypes have"
    );
    // A run that makes the global object unrestorable takes its context with it.
    assert_eq!(
        run(
            &r,
            "Object.defineProperty(globalThis, 'stuck', {value: 1}); Object.freeze(globalThis); return 1;"
        )
        .await
        .result,
        Ok(json!(1))
    );
    assert_eq!(
        run(&r, "globalThis.fresh = 1; return typeof stuck;").await.result,
        Ok(json!("undefined"))
    );
    // Code that closes its function early runs as module code: its declarations stay in its module.
    assert!(run(
        &r,
        "}\nglobalThis.escaped = 1; let own = 2;\nexport function other() {"
    )
    .await
    .result
    .is_ok());
    assert_eq!(
        run(&r, "return [typeof escaped, typeof own];").await.result,
        Ok(json!(["undefined", "undefined"]))
    );
}

#[tokio::test]
async fn tenants_never_share_a_context() {
    let r = CodeRunner::new(1, Limits::new(32, 1024 * 1024)).unwrap();
    // Within a run, a tenant can only see its own module; across tenants not even the context is shared.
    let a = r
        .run(job(
            "tenant-a",
            "return Object.isFrozen(Array.prototype);",
            json!(null),
        ))
        .await;
    assert_eq!(a.result, Ok(json!(true)));
    let b = r
        .run(job("tenant-b", "globalThis.x = 'b'; return 1;", json!(null)))
        .await;
    assert_eq!(b.result, Ok(json!(1)));
    let a = r.run(job("tenant-a", "return typeof x;", json!(null))).await;
    assert_eq!(a.result, Ok(json!("undefined")));
}

#[tokio::test]
async fn a_native_call_no_interrupt_reaches_is_cut_off_by_the_watchdog() {
    let r = runner();
    // One native `indexOf` over 10 MB for a 2,000-character needle that never matches (seconds of work, about 10 MB
    // of memory, well under the limit) checks no interrupt; the watchdog answers at the deadline anyway and a fresh
    // thread takes the stuck one's place.
    let mut j = job(
        "t1",
        "const hay = 'a'.repeat(10000000); const needle = 'a'.repeat(2000) + 'b'; return hay.indexOf(needle);",
        json!(null),
    );
    j.timeout = Duration::from_millis(50);
    let started = Instant::now();
    let out = r.run(j).await;
    assert_eq!(out.result, Err(Failure::Timeout));
    // Far sooner than the native call would end (on a loaded machine the answer may take a few hundred ms).
    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
    for _ in 0..4 {
        assert_eq!(run(&r, "return 1;").await.result, Ok(json!(1)));
    }
}
