//! Expressions (API.md §6): JSONata through `jsonata-rs`, evaluated with the message's `data` as input, `$msg`
//! bound to the whole message, `$steps` to earlier steps' outputs by node id and `$execution` to the execution; and `{{ expression }}`
//! templating inside strings. Every evaluation is bounded in time and depth and isolated from panics: a bad
//! expression fails its step, never the worker.

use std::{panic::AssertUnwindSafe, time::Duration};

use bumpalo::Bump;
use jsonata_rs::{ArrayFlags, JsonAta, Value as JValue};
use serde_json::Value;

/// The deepest an evaluation may recurse.
const MAX_DEPTH: usize = 512;
/// The longest expression accepted.
const MAX_LENGTH: usize = 20_000;
/// The deepest bracket nesting accepted: the parser recurses per level, and a stack overflow is not a panic
/// that could be caught.
const MAX_NESTING: usize = 128;

/// Refuses expressions too long or too deeply nested to parse safely.
fn bounded(expression: &str) -> Result<(), String> {
    if expression.len() > MAX_LENGTH {
        return Err(format!("longer than {MAX_LENGTH} characters"));
    }
    let mut depth = 0usize;
    for c in expression.chars() {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(format!("nested deeper than {MAX_NESTING} levels"));
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// What an expression sees.
#[derive(Clone, Copy)]
pub struct Scope<'s> {
    /// The input (`$`).
    pub data: &'s Value,
    /// `$msg`: the whole message.
    pub msg: &'s Value,
    /// `$steps`: outputs of earlier steps by node id.
    pub steps: &'s Value,
    /// `$execution`: the execution's id, flow and resume URLs (`resumeUrl`, `resumeUrls` by node).
    pub execution: &'s Value,
}

/// How long one evaluation may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wall-clock bound.
    pub timeout: Duration,
}

/// Whether `expression` compiles; the error says why not.
pub fn check(expression: &str) -> Result<(), String> {
    bounded(expression)?;
    guarded(|| {
        let arena = Bump::new();
        JsonAta::new(expression, &arena)
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
}

/// Evaluates `expression`; `None` when the result is undefined (JSONata's "nothing").
pub fn eval(expression: &str, scope: Scope<'_>, limits: Limits) -> Result<Option<Value>, String> {
    bounded(expression)?;
    guarded(|| {
        let arena = Bump::new();
        let program = JsonAta::new(expression, &arena).map_err(|e| format!("does not compile: {e}"))?;
        if expression.contains("$msg") {
            program.assign_var("msg", to_jsonata(&arena, scope.msg));
        }
        if expression.contains("$steps") {
            program.assign_var("steps", to_jsonata(&arena, scope.steps));
        }
        if expression.contains("$execution") {
            program.assign_var("execution", to_jsonata(&arena, scope.execution));
        }
        let input = serde_json::to_string(scope.data).map_err(|e| e.to_string())?;
        let timeout = usize::try_from(limits.timeout.as_millis()).unwrap_or(usize::MAX);
        let out = program
            .evaluate_timeboxed(Some(&input), Some(MAX_DEPTH), Some(timeout))
            .map_err(|e| e.to_string())?;
        if out.is_undefined() {
            return Ok(None);
        }
        if out.is_function() {
            return Err("evaluates to a function, not to data".into());
        }
        let text = out.serialize(false);
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("result is not JSON: {e}"))
    })
}

/// JSONata truthiness of a result: undefined, `null`, `false`, `0`, `""`, empty arrays and empty objects are false.
pub fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => a.iter().any(|x| truthy(Some(x))),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

/// Replaces `{{ expression }}` inside every string of `value` (recursively). A string that is exactly one
/// `{{ expression }}` becomes the expression's JSON value; otherwise each expression's text is spliced in.
pub fn render(value: &Value, scope: Scope<'_>, limits: Limits) -> Result<Value, String> {
    match value {
        Value::String(s) => render_str(s, scope, limits),
        Value::Array(items) => items
            .iter()
            .map(|v| render(v, scope, limits))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| render(v, scope, limits).map(|v| (k.clone(), v)))
            .collect::<Result<_, _>>()
            .map(Value::Object),
        other => Ok(other.clone()),
    }
}

/// Every `{{ … }}` expression inside `value`, for compile checks at start.
pub fn templates(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    collect(value, &mut out);
    out
}

fn collect(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.extend(parts(s).into_iter().filter_map(|p| match p {
            Part::Expr(e) => Some(e.to_owned()),
            Part::Text(_) => None,
        })),
        Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect(v, out)),
        _ => {}
    }
}

enum Part<'a> {
    Text(&'a str),
    Expr(&'a str),
}

fn parts(s: &str) -> Vec<Part<'_>> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open + 2..].find("}}") else {
            break;
        };
        if open > 0 {
            out.push(Part::Text(&rest[..open]));
        }
        out.push(Part::Expr(rest[open + 2..open + 2 + close].trim()));
        rest = &rest[open + 2 + close + 2..];
    }
    if !rest.is_empty() {
        out.push(Part::Text(rest));
    }
    out
}

fn render_str(s: &str, scope: Scope<'_>, limits: Limits) -> Result<Value, String> {
    let parts = parts(s.trim());
    if let [Part::Expr(e)] = parts.as_slice() {
        return Ok(eval(e, scope, limits)
            .map_err(|m| format!("{{{{ {e} }}}}: {m}"))?
            .unwrap_or(Value::Null));
    }
    if !s.contains("{{") {
        return Ok(Value::String(s.to_owned()));
    }
    let mut out = String::with_capacity(s.len());
    for part in self::parts(s) {
        match part {
            Part::Text(t) => out.push_str(t),
            Part::Expr(e) => match eval(e, scope, limits).map_err(|m| format!("{{{{ {e} }}}}: {m}"))? {
                None | Some(Value::Null) => {}
                Some(Value::String(v)) => out.push_str(&v),
                Some(v) => out.push_str(&v.to_string()),
            },
        }
    }
    Ok(Value::String(out))
}

/// Runs `f`, turning a panic inside the expression engine into an error.
fn guarded<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    std::panic::catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err("the expression engine failed on this expression".into()))
}

fn to_jsonata<'a>(arena: &'a Bump, v: &Value) -> &'a JValue<'a> {
    match v {
        Value::Null => JValue::null(arena),
        Value::Bool(b) => JValue::bool(*b),
        Value::Number(n) => JValue::number(arena, n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => JValue::string(arena, s),
        Value::Array(items) => {
            let array = JValue::array_with_capacity(arena, items.len(), ArrayFlags::empty());
            for item in items {
                array.push(to_jsonata(arena, item));
            }
            array
        }
        Value::Object(map) => {
            let object = JValue::object_with_capacity(arena, map.len());
            for (k, item) in map {
                object.insert(k, to_jsonata(arena, item));
            }
            object
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const LIMITS: Limits = Limits {
        timeout: Duration::from_millis(500),
    };

    fn ev(expression: &str, data: Value) -> Result<Option<Value>, String> {
        let msg = json!({"data": data, "headers": {"x-a": "1"}});
        let steps = json!({"step_1": {"n": 7}});
        eval(
            expression,
            Scope {
                data: &data,
                msg: &msg,
                steps: &steps,
                execution: &json!({"id": "e-1"}),
            },
            LIMITS,
        )
    }

    #[test]
    fn paths_objects_and_functions_evaluate() {
        let order = json!({"id": "ord-1", "customer": {"name": "Ada"},
                           "items": [{"price": 3.5, "qty": 2}, {"price": 10, "qty": 1}]});
        assert_eq!(
            ev(
                r#"{"order": id, "who": customer.name, "total": $sum(items.(price * qty))}"#,
                order.clone()
            ),
            Ok(Some(json!({"order": "ord-1", "who": "Ada", "total": 17})))
        );
        assert_eq!(
            ev(
                "$join($map(items, function($i){ $string($i.qty) }), ',')",
                order.clone()
            ),
            Ok(Some(json!("2,1")))
        );
        assert_eq!(ev("items[price > 5].qty", order.clone()), Ok(Some(json!(1))));
        assert_eq!(ev("missing", order), Ok(None));
    }

    #[test]
    fn msg_and_steps_are_bound() {
        assert_eq!(ev("$msg.headers.`x-a`", json!({})), Ok(Some(json!("1"))));
        assert_eq!(ev("$steps.step_1.n + 1", json!({})), Ok(Some(json!(8))));
        assert_eq!(ev("$execution.id", json!({})), Ok(Some(json!("e-1"))));
    }

    #[test]
    fn bad_expressions_fail_with_a_message_and_runaway_ones_are_stopped() {
        assert!(check("{").is_err());
        assert!(check("a.b").is_ok());
        assert!(ev("$undefinedFunction(1)", json!({})).is_err());
        let recursion = "($f := function($n){ $f($n + 1) }; $f(0))";
        let err = ev(recursion, json!({})).unwrap_err();
        assert!(!err.is_empty());
        let deep = format!("{}1{}", "(".repeat(20_000), ")".repeat(20_000));
        assert_eq!(check(&deep), Err("longer than 20000 characters".into()));
        let nested = format!("{}1{}", "(".repeat(500), ")".repeat(500));
        assert_eq!(check(&nested), Err("nested deeper than 128 levels".into()));
    }

    #[test]
    fn templates_splice_text_or_take_the_value() {
        let data = json!({"id": 5, "name": "Ada"});
        let scope = Scope {
            data: &data,
            msg: &Value::Null,
            steps: &Value::Null,
            execution: &Value::Null,
        };
        let rendered = render(
            &json!({"url": "https://x.test/orders/{{ id }}?n={{name}}", "body": "{{ $ }}", "n": 3}),
            scope,
            LIMITS,
        )
        .unwrap();
        assert_eq!(
            rendered,
            json!({"url": "https://x.test/orders/5?n=Ada", "body": {"id": 5, "name": "Ada"}, "n": 3})
        );
        assert_eq!(
            templates(&json!({"a": ["{{ x }} and {{y}}"]})),
            vec!["x".to_owned(), "y".to_owned()]
        );
    }

    #[test]
    fn truthiness_follows_jsonata() {
        assert!(!truthy(None));
        assert!(!truthy(Some(&json!(0))));
        assert!(!truthy(Some(&json!([]))));
        assert!(truthy(Some(&json!("x"))));
        assert!(truthy(Some(&json!([false, 1]))));
    }
}
