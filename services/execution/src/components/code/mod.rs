//! The `code.execute` component (API.md §8): the body of a JavaScript function, run in QuickJS on sandbox threads
//! with time, memory and stack limits; `data`, `$msg`, `$steps`, `$flow`, `$execution` and `console` in scope;
//! nothing else (no `require`/`import`, network, file system, timers, environment, or code from strings), and
//! nothing one run sets is seen by another.

mod errors;
mod runner;
mod sandbox;

use std::time::Duration;

pub use errors::Failure;
pub use runner::CodeRunner;

use crate::model::{StepError, StepLogs};

/// What every run is bounded by (besides its time limit, which each run carries).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Memory one context may allocate beyond its own (`FLOWMATE_CODE_MEMORY_MB`).
    pub memory_bytes: usize,
    /// The longest result, in characters of JSON.
    pub max_result_bytes: usize,
    /// Console lines kept per step.
    pub max_log_lines: u32,
    /// Console text kept per step.
    pub max_log_bytes: u32,
}

impl Limits {
    /// The limits with `memory_mb` of memory and results up to `max_result_bytes`; console lines as API.md §8
    /// says (100 lines, 16 KiB).
    pub fn new(memory_mb: u32, max_result_bytes: usize) -> Limits {
        Limits {
            memory_bytes: memory_mb as usize * 1024 * 1024,
            max_result_bytes,
            max_log_lines: 100,
            max_log_bytes: 16 * 1024,
        }
    }
}

/// `fields.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The body runs once with `data`.
    Once,
    /// When `data` is an array, the body runs once per element and the output is the array of results.
    Each,
}

impl Mode {
    /// Parses `once` (the default) or `each`.
    pub fn parse(s: Option<&str>) -> Option<Mode> {
        match s {
            None | Some("") | Some("once") => Some(Mode::Once),
            Some("each") => Some(Mode::Each),
            _ => None,
        }
    }
}

/// One run of a code step: the code, and its scope as JSON text.
#[derive(Debug, Clone)]
pub struct Job {
    /// Whose run it is: runs of different tenants never share a context.
    pub tenant: String,
    /// The function body.
    pub code: String,
    /// `data`.
    pub data: String,
    /// `$msg`.
    pub msg: String,
    /// `$steps`.
    pub steps: String,
    /// `$flow`.
    pub flow: String,
    /// `$execution`.
    pub execution: String,
    /// Whether `fields.mode` is `each`.
    pub each: bool,
    /// Its time limit.
    pub timeout: Duration,
}

/// What a run produced: its result and what it wrote to the console, whether it succeeded or not.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeOutput {
    /// The returned value, as JSON, or why there is none.
    pub result: Result<serde_json::Value, Failure>,
    /// Console lines.
    pub logs: StepLogs,
}

impl CodeOutput {
    /// A run that failed before it could write anything.
    pub fn failed(failure: Failure) -> CodeOutput {
        CodeOutput {
            result: Err(failure),
            logs: StepLogs::default(),
        }
    }
}

impl Failure {
    /// The step's error; `timeout` and `limits` name the limits in the messages.
    pub fn into_step_error(self, timeout: Duration, limits: Limits) -> StepError {
        match self {
            Failure::Timeout => StepError::new(
                "TimeoutError",
                format!(
                    "the code ran longer than its {} ms limit (nodeSettings.timeoutMs; default FLOWMATE_CODE_TIMEOUT_MS)",
                    timeout.as_millis()
                ),
            ),
            Failure::Memory => StepError::new(
                "MemoryLimitError",
                format!(
                    "the code used more than its {} MB of memory (FLOWMATE_CODE_MEMORY_MB)",
                    limits.memory_bytes / (1024 * 1024)
                ),
            ),
            Failure::StackOverflow => StepError::new(
                "StackOverflowError",
                "the code recursed too deeply (Maximum call stack size exceeded)",
            ),
            Failure::Thrown {
                name,
                message,
                stack,
            } => StepError {
                stack,
                ..StepError::new(&name, message)
            },
            Failure::Syntax {
                message,
                line,
                column,
            } => StepError::new(
                "SyntaxError",
                format!("{message} (line {line}, column {column})"),
            ),
            Failure::Code(message) => StepError::new("CodeError", message),
            Failure::Internal(message) => StepError::new("CodeError", message),
        }
    }
}
