//! One sandbox thread's JavaScript: QuickJS runtimes with their memory, stack and time limits, one hardened
//! context per tenant (at most a few, least recently used first out), and running one job in one of them.
//!
//! A context costs milliseconds to make and harden, so a tenant's runs share one; they cannot see one another
//! because `prelude.js` froze every intrinsic and removed code from strings, every run's code is a module of its
//! own, and the global object is restored after each run. A context whose reset fails, that ran out of memory or
//! time, or that has served [`RUNS_PER_CONTEXT`] runs (each leaves its module behind) is thrown away.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Instant,
};

use rquickjs::{
    context::intrinsic, Array, CatchResultExt, CaughtError, Context, Ctx, Function, Module, Object,
    Persistent, Promise, Runtime, Value,
};

use super::{
    errors::{self, Failure},
    CodeOutput, Job, Limits,
};
use crate::model::{LogLine, StepLogs};

/// The intrinsics a code step has: no `WeakRef`/`FinalizationRegistry` (their callbacks would run in a later run),
/// no `performance` (a timer).
type Intrinsics = (
    intrinsic::Eval,
    intrinsic::Json,
    intrinsic::Promise,
    intrinsic::MapSet,
    intrinsic::RegExpCompiler,
    intrinsic::RegExp,
    intrinsic::Date,
    intrinsic::TypedArrays,
    intrinsic::Proxy,
);

/// Runs after which a context is replaced by a fresh one.
const RUNS_PER_CONTEXT: u32 = 500;
/// Runs between two explicit garbage collections of a context (besides QuickJS's own, by allocation).
const GC_EVERY: u32 = 32;
/// Tenants whose contexts one thread keeps.
const CONTEXTS_PER_THREAD: usize = 4;
/// The JavaScript stack a run may use (the thread's own stack is larger).
const MAX_STACK: usize = 1024 * 1024;
/// The module name stack traces show for the user's code.
pub(super) const FILE: &str = "code.js";
/// No deadline.
const NEVER: u64 = u64::MAX;

/// A tenant's runtime and hardened context.
struct Slot {
    tenant: String,
    runs: u32,
    // Dropped in this order: the persistent functions, then the context, then the runtime.
    harness: Persistent<Function<'static>>,
    reset: Persistent<Function<'static>>,
    context: Context,
    runtime: Runtime,
    /// Microseconds since the thread's epoch after which the interrupt handler stops the run.
    deadline: Arc<AtomicU64>,
}

/// The JavaScript of one sandbox thread.
pub(super) struct Sandbox {
    slots: Vec<Slot>,
    epoch: Instant,
    limits: Limits,
}

fn failed(message: impl Into<String>) -> Failure {
    Failure::Internal(message.into())
}

impl Sandbox {
    /// A sandbox with no contexts yet.
    pub(super) fn new(limits: Limits) -> Sandbox {
        Sandbox {
            slots: Vec::new(),
            epoch: Instant::now(),
            limits,
        }
    }

    fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    fn make_slot(&self, tenant: &str) -> Result<Slot, Failure> {
        let runtime = Runtime::new().map_err(|e| failed(format!("cannot start JavaScript: {e}")))?;
        runtime.set_max_stack_size(MAX_STACK);
        let deadline = Arc::new(AtomicU64::new(NEVER));
        let (check, epoch) = (deadline.clone(), self.epoch);
        runtime.set_interrupt_handler(Some(Box::new(move || {
            epoch.elapsed().as_micros() as u64 > check.load(Ordering::Relaxed)
        })));
        let context = Context::custom::<Intrinsics>(&runtime)
            .map_err(|e| failed(format!("cannot make a JavaScript context: {e}")))?;
        let (harness, reset) = context.with(|ctx| -> Result<_, Failure> {
            let parts: Object = ctx
                .eval(include_str!("prelude.js"))
                .catch(&ctx)
                .map_err(|e| failed(format!("the sandbox prelude failed: {e}")))?;
            let harness: Function = parts.get("harness").map_err(|e| failed(e.to_string()))?;
            let reset: Function = parts.get("reset").map_err(|e| failed(e.to_string()))?;
            Ok((Persistent::save(&ctx, harness), Persistent::save(&ctx, reset)))
        })?;
        // The prelude's own memory does not count against a run's limit.
        let base = runtime.memory_usage().malloc_size.max(0) as usize;
        runtime.set_memory_limit(base + self.limits.memory_bytes);
        Ok(Slot {
            tenant: tenant.to_owned(),
            runs: 0,
            harness,
            reset,
            context,
            runtime,
            deadline,
        })
    }

    /// The tenant's slot, made (evicting the least recently used) when there is none; it moves to the front.
    fn slot(&mut self, tenant: &str) -> Result<&mut Slot, Failure> {
        match self.slots.iter().position(|s| s.tenant == tenant) {
            Some(i) => {
                let slot = self.slots.remove(i);
                self.slots.insert(0, slot);
            }
            None => {
                let slot = self.make_slot(tenant)?;
                self.slots.truncate(CONTEXTS_PER_THREAD - 1);
                self.slots.insert(0, slot);
            }
        }
        self.slots.first_mut().ok_or_else(|| failed("no sandbox context"))
    }

    /// Compiles `code` without running it (the start-time check): `Ok` or the compile error.
    pub(super) fn check(&mut self, code: &str) -> Result<(), Failure> {
        let slot = self.slot("")?;
        slot.context.with(|ctx| {
            Module::declare(ctx.clone(), FILE, errors::wrap(code))
                .catch(&ctx)
                .map(|_| ())
                .map_err(|e| errors::classify(&ctx, e, false))
        })
    }

    /// Runs one job in its tenant's context.
    pub(super) fn run(&mut self, job: &Job) -> CodeOutput {
        let timeout_us = job.timeout.as_micros() as u64;
        let limits = self.limits;
        let epoch = self.epoch;
        let start = self.now_us();
        let slot = match self.slot(&job.tenant) {
            Ok(slot) => slot,
            Err(failure) => return CodeOutput::failed(failure),
        };
        slot.runs += 1;
        slot.deadline
            .store(start.saturating_add(timeout_us), Ordering::Relaxed);
        let passed = || epoch.elapsed().as_micros() as u64 > slot.deadline.load(Ordering::Relaxed);
        let outcome = slot.context.with(|ctx| run_in(&ctx, slot, job, limits, &passed));
        slot.deadline.store(NEVER, Ordering::Relaxed);
        let clean = slot.context.with(|ctx| {
            slot.reset
                .clone()
                .restore(&ctx)
                .and_then(|reset| reset.call::<_, bool>(()))
                .unwrap_or(false)
        });
        let spent = matches!(
            outcome.result,
            Err(Failure::Timeout | Failure::Memory | Failure::Internal(_))
        );
        if !clean || spent || slot.runs >= RUNS_PER_CONTEXT {
            self.slots.remove(0);
        } else if slot.runs % GC_EVERY == 0 {
            // Reference counting frees most of a run at once; cycles wait for a collection.
            slot.runtime.run_gc();
        }
        outcome
    }
}

/// Compiles the job's code as a module of its own, runs it through the harness, and waits for the result; the
/// console lines are read whatever happened.
fn run_in(
    ctx: &Ctx<'_>,
    slot: &Slot,
    job: &Job,
    limits: Limits,
    deadline_passed: &dyn Fn() -> bool,
) -> CodeOutput {
    let sink = match new_sink(ctx) {
        Ok(sink) => sink,
        Err(e) => return CodeOutput::failed(failed(e.to_string())),
    };
    let result = run_module(ctx, slot, job, limits, &sink, deadline_passed);
    CodeOutput {
        result,
        logs: read_logs(ctx, &sink),
    }
}

fn new_sink<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    let sink = Object::new(ctx.clone())?;
    sink.set("lines", Array::new(ctx.clone())?)?;
    sink.set("dropped", 0)?;
    Ok(sink)
}

fn run_module<'js>(
    ctx: &Ctx<'js>,
    slot: &Slot,
    job: &Job,
    limits: Limits,
    sink: &Object<'js>,
    deadline_passed: &dyn Fn() -> bool,
) -> Result<serde_json::Value, Failure> {
    let classify = |e: CaughtError<'js>| errors::classify(ctx, e, deadline_passed());
    let settled = |e: Unsettled<'js>| match e {
        Unsettled::Caught(e) => errors::classify(ctx, e, deadline_passed()),
        Unsettled::Pending if deadline_passed() => Failure::Timeout,
        Unsettled::Pending => Failure::Code(
            "the returned Promise never settled (a code step has no timers or I/O that could settle it)"
                .into(),
        ),
    };
    let module = Module::declare(ctx.clone(), FILE, errors::wrap(&job.code))
        .catch(ctx)
        .map_err(classify)?;
    let (module, evaluated) = module.eval().catch(ctx).map_err(classify)?;
    settle::<Value>(ctx, &evaluated).map_err(settled)?;
    let entry: Function = module.get("default").catch(ctx).map_err(classify)?;
    let harness = slot
        .harness
        .clone()
        .restore(ctx)
        .map_err(|e| failed(e.to_string()))?;
    let input = run_input(ctx, job, limits, sink).map_err(|e| failed(e.to_string()))?;
    let promise: Promise = harness.call((entry, input)).catch(ctx).map_err(classify)?;
    let done: Object = settle(ctx, &promise).map_err(settled)?;
    if let Some(problem) = done.get::<_, Option<String>>("codeError").ok().flatten() {
        return Err(Failure::Code(problem));
    }
    let out = done
        .get::<_, Option<String>>("out")
        .ok()
        .flatten()
        .unwrap_or_else(|| "null".into());
    serde_json::from_str(&out).map_err(|e| Failure::Code(format!("the result is not JSON: {e}")))
}

/// What the harness is given besides the code: the scope as JSON text, the mode, the bounds, the sink.
fn run_input<'js>(
    ctx: &Ctx<'js>,
    job: &Job,
    limits: Limits,
    sink: &Object<'js>,
) -> rquickjs::Result<Object<'js>> {
    let input = Object::new(ctx.clone())?;
    input.set("sink", sink.clone())?;
    input.set("data", job.data.as_str())?;
    input.set("msg", job.msg.as_str())?;
    input.set("steps", job.steps.as_str())?;
    input.set("flow", job.flow.as_str())?;
    input.set("execution", job.execution.as_str())?;
    input.set("each", job.each)?;
    input.set("maxLines", limits.max_log_lines)?;
    input.set("maxBytes", limits.max_log_bytes)?;
    input.set("maxResult", limits.max_result_bytes as f64)?;
    Ok(input)
}

fn read_logs<'js>(ctx: &Ctx<'js>, sink: &Object<'js>) -> StepLogs {
    let lines = sink
        .get::<_, Value>("lines")
        .ok()
        .and_then(|v| ctx.json_stringify(v).ok().flatten())
        .and_then(|s| s.to_string().ok())
        .and_then(|s| serde_json::from_str::<Vec<LogLine>>(&s).ok())
        .unwrap_or_default();
    StepLogs {
        lines,
        truncated: sink.get::<_, u32>("dropped").unwrap_or(0),
    }
}

/// Why a promise has no value.
enum Unsettled<'js> {
    /// It was rejected (or running its jobs threw).
    Caught(CaughtError<'js>),
    /// Nothing is left to run and it is still pending.
    Pending,
}

/// Runs pending jobs until `promise` settles (the interrupt handler bounds this); its value, or why not.
fn settle<'js, T: rquickjs::FromJs<'js>>(
    ctx: &Ctx<'js>,
    promise: &Promise<'js>,
) -> Result<T, Unsettled<'js>> {
    loop {
        if let Some(result) = promise.result::<T>() {
            return result.catch(ctx).map_err(Unsettled::Caught);
        }
        // A job that was interrupted (or ran out of memory) leaves its promise pending; the caller tells that
        // from a promise nothing can settle by the deadline.
        if !ctx.execute_pending_job() && promise.result::<Value>().is_none() {
            return Err(Unsettled::Pending);
        }
    }
}
