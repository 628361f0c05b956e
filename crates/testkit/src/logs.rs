//! Every log line of the test process, captured (for tests that search the logs, e.g. for a leaked secret): the
//! formatted events of FlowMate's crates at trace, the HTTP and gRPC stacks' at debug and the rest at info, with
//! the fields of their spans. Kept in memory, the oldest half dropped past a bound.

use std::{
    fmt::Write,
    sync::{Mutex, OnceLock},
};

use tracing::{
    field::{Field, Visit},
    span, Event, Subscriber,
};
use tracing_subscriber::{layer::Context, registry::LookupSpan, Layer};

const MAX_LINES: usize = 200_000;

fn lines() -> &'static Mutex<Vec<String>> {
    static LINES: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    LINES.get_or_init(|| Mutex::new(Vec::new()))
}

fn push(line: String) {
    let mut l = lines().lock().unwrap_or_else(|p| p.into_inner());
    if l.len() >= MAX_LINES {
        l.drain(..MAX_LINES / 2);
    }
    l.push(line);
}

/// Every captured line so far (of every test of the process).
pub fn captured_logs() -> Vec<String> {
    lines().lock().unwrap_or_else(|p| p.into_inner()).clone()
}

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={value}", field.name());
    }
}

/// The capturing layer.
pub struct Capture;

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &span::Attributes<'_>, _id: &span::Id, _ctx: Context<'_, S>) {
        let mut f = Fields(format!("span {}:", attrs.metadata().name()));
        attrs.record(&mut f);
        push(f.0);
    }

    fn on_record(&self, _id: &span::Id, values: &span::Record<'_>, _ctx: Context<'_, S>) {
        let mut f = Fields("span record:".into());
        values.record(&mut f);
        push(f.0);
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let m = event.metadata();
        let mut f = Fields(format!("{} {}:", m.level(), m.target()));
        event.record(&mut f);
        push(f.0);
    }
}
