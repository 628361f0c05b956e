//! How a code step's code is wrapped, and how what JavaScript threw becomes the step's error: the name of a thrown
//! Error with its message and a stack whose lines and columns point into the user's code (the wrapper adds one
//! line above it), the limits (`TimeoutError`, `MemoryLimitError`, `StackOverflowError`), a result that is not
//! JSON (`CodeError`), and a compile error with its line and column.

use rquickjs::{CaughtError, Ctx, Value};

use super::sandbox::FILE;

/// The line the wrapper puts above the user's code.
const PREFIX: &str = "export default async function code(data, $msg, $steps, $flow, $execution, console) {\n";

/// The user's code as the body of the module's default export.
pub(super) fn wrap(code: &str) -> String {
    let mut out = String::with_capacity(PREFIX.len() + code.len() + 3);
    out.push_str(PREFIX);
    out.push_str(code);
    out.push_str("\n}\n");
    out
}

/// Why a run or a compile failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The code ran past its time limit.
    Timeout,
    /// The code allocated past its memory limit.
    Memory,
    /// The code recursed past the stack limit.
    StackOverflow,
    /// The code threw (an Error, or another value: `name` is then `Error`).
    Thrown {
        /// The error's name (`TypeError`, …).
        name: String,
        /// Its message.
        message: String,
        /// Its stack, positions in the user's code.
        stack: Option<String>,
    },
    /// The code does not compile.
    Syntax {
        /// The parser's message.
        message: String,
        /// 1-based line in the user's code.
        line: u32,
        /// 1-based column.
        column: u32,
    },
    /// What the code returned cannot be the step's output.
    Code(String),
    /// The sandbox itself failed (it could not start, or a run was abandoned).
    Internal(String),
}

/// `code.js:L:C` positions in `text` with `L` moved up by the wrapper's line; frames that are not the user's code
/// or a native function are left out.
pub(super) fn user_stack(text: &str) -> String {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.contains("(native)") {
            out.push(line.to_owned());
        } else if let Some(at) = line.find(FILE) {
            out.push(format!("{}{}", &line[..at], shift(&line[at..])));
        }
    }
    out.join("\n")
}

/// `code.js:L:C…` with `L - 1`.
fn shift(position: &str) -> String {
    let rest = &position[FILE.len()..];
    let mut parts = rest.trim_start_matches(':').splitn(2, ':');
    let line = parts.next().and_then(|l| l.parse::<u32>().ok());
    match line {
        Some(l) => format!(
            "{FILE}:{}:{}",
            l.saturating_sub(1).max(1),
            parts.next().unwrap_or("")
        ),
        None => position.to_owned(),
    }
}

/// The first `code.js:L:C` in `stack`, in the user's lines (for compile errors).
fn first_position(stack: &str) -> Option<(u32, u32)> {
    let at = stack.find(FILE)?;
    let mut parts = stack[at + FILE.len()..]
        .trim_start_matches(':')
        .split(|c: char| !c.is_ascii_digit());
    let line = parts.next()?.parse::<u32>().ok()?;
    let column = parts.next().and_then(|c| c.parse::<u32>().ok()).unwrap_or(1);
    Some((line.saturating_sub(1).max(1), column))
}

/// What a thrown value that is not an Error reads as.
fn describe<'js>(ctx: &Ctx<'js>, value: &Value<'js>) -> String {
    if let Some(s) = value.as_string().and_then(|s| s.to_string().ok()) {
        return s;
    }
    match ctx.json_stringify(value.clone()) {
        Ok(Some(s)) => s.to_string().unwrap_or_else(|_| "a value".into()),
        _ => format!("a value of type {}", value.type_name()),
    }
}

/// What `error` means for the step. `deadline_passed`: the run's time limit had passed when it failed (an
/// interrupted run throws an uncatchable error of its own).
pub(super) fn classify<'js>(ctx: &Ctx<'js>, error: CaughtError<'js>, deadline_passed: bool) -> Failure {
    let (name, message, stack) = match error {
        CaughtError::Exception(e) => {
            let name = e
                .as_object()
                .get::<_, String>("name")
                .unwrap_or_else(|_| "Error".into());
            (name, e.message().unwrap_or_default(), e.stack())
        }
        // Out of memory while making the error itself, QuickJS throws null.
        CaughtError::Value(v) if v.is_null() => return Failure::Memory,
        CaughtError::Value(v) => ("Error".into(), describe(ctx, &v), None),
        CaughtError::Error(rquickjs::Error::Allocation) => return Failure::Memory,
        CaughtError::Error(e) => return Failure::Internal(e.to_string()),
    };
    if deadline_passed && message.contains("interrupted") {
        return Failure::Timeout;
    }
    if message == "out of memory" {
        return Failure::Memory;
    }
    if name == "RangeError" && message.contains("call stack size exceeded") || message == "stack overflow" {
        return Failure::StackOverflow;
    }
    if name == "SyntaxError" {
        if let Some((line, column)) = stack.as_deref().and_then(first_position) {
            return Failure::Syntax {
                message,
                line,
                column,
            };
        }
    }
    Failure::Thrown {
        name,
        message,
        stack: stack.map(|s| user_stack(&s)).filter(|s| !s.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_positions_point_into_the_users_lines() {
        let raw = "    at f (code.js:3:16)\n    at code (code.js:4:1)\n    at parse (native)\n    at harness (prelude:9:3)";
        assert_eq!(
            user_stack(raw),
            "    at f (code.js:2:16)\n    at code (code.js:3:1)\n    at parse (native)"
        );
        assert_eq!(first_position("    at code.js:5:9\n"), Some((4, 9)));
    }

    #[test]
    fn the_wrapper_adds_exactly_one_line_above_the_code() {
        let wrapped = wrap("return 1");
        assert_eq!(wrapped.lines().nth(1), Some("return 1"));
    }
}
