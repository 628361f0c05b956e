//! `BENCHMARKS.md`: the machine, versions, exact commands, and each figure with its ratio to the limit measured in
//! the same run.

use std::{fmt::Write, process::Command, time::Duration};

use crate::{wrk::Load, Options};

/// How FlowMate ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One process, SQLite, embedded queue.
    Standalone,
    /// One process per service, PostgreSQL, RabbitMQ.
    Distributed,
}

/// Everything measured in one mode.
#[derive(Debug, Clone)]
pub struct ModeResults {
    /// The mode.
    pub mode: Mode,
    /// Start to `/readyz` 200.
    pub ready_after: Duration,
    /// RSS after start, MiB (all processes).
    pub idle_rss: f64,
    /// Peak RSS during scenario 1, MiB.
    pub load_rss: f64,
    /// Scenario 1: webhooks.
    pub ingest: Load,
    /// Its limit: a bare axum JSON handler.
    pub ingest_limit: Load,
    /// Webhooks answered 200.
    pub accepted: u64,
    /// Every accepted webhook has its succeeded execution (checked, else the run fails).
    pub all_recorded: bool,
    /// Executions completed and recorded per second (from the start of the load to the last one recorded).
    pub executions_per_sec: f64,
    /// FlowMate CPU per accepted webhook, ingest and execution together, µs.
    pub ingest_cpu_per_execution_us: f64,
    /// Scenario 2 at a fixed 1,000/s.
    pub sync_fixed: Load,
    /// Scenario 2 flat out.
    pub sync_max: Load,
    /// Scenario 3.
    pub five_step_executions_per_sec: f64,
    /// FlowMate CPU per step in scenario 3, µs.
    pub five_step_cpu_per_step_us: f64,
    /// FlowMate CPU per execution in scenario 3, µs.
    pub five_step_cpu_per_execution_us: f64,
    /// Scenario 4.
    pub flows_stored: usize,
    /// `GET /flows/{id}`.
    pub get_one: Load,
    /// `GET /flows?page[size]=50`.
    pub list_page: Load,
    /// Its limit: bare axum + sqlx reading one row.
    pub row_limit: Load,
    /// Scenario 6: what a credential adds to an `http` step.
    pub credentials: Option<crate::credentials::Cost>,
    /// Scenario 7: the code step next to the transform step.
    pub code: Option<crate::code::CodeFigures>,
    /// Scenario 9: split → transform → merge.
    pub merge: Option<crate::merge::MergeFigures>,
    /// Scenario 8: `sql.query` inserting one row per webhook on PostgreSQL.
    pub sql: Option<crate::sql::SqlFigures>,
    /// Scenario 10: noisy neighbour.
    pub noisy: Option<crate::noisy::NoisyFigures>,
    /// Scenario 11: a tenant member's flow list.
    pub listing: Option<crate::listing::ListingFigures>,
}

impl ModeResults {
    /// Results with only the start-up figures.
    pub fn new(mode: Mode, ready_after: Duration, idle_rss: f64) -> Self {
        ModeResults {
            mode,
            ready_after,
            idle_rss,
            load_rss: 0.0,
            ingest: Load::default(),
            ingest_limit: Load::default(),
            accepted: 0,
            all_recorded: false,
            executions_per_sec: 0.0,
            ingest_cpu_per_execution_us: 0.0,
            sync_fixed: Load::default(),
            sync_max: Load::default(),
            five_step_executions_per_sec: 0.0,
            five_step_cpu_per_step_us: 0.0,
            five_step_cpu_per_execution_us: 0.0,
            flows_stored: 0,
            get_one: Load::default(),
            list_page: Load::default(),
            row_limit: Load::default(),
            credentials: None,
            code: None,
            merge: None,
            sql: None,
            noisy: None,
            listing: None,
        }
    }
}

/// The report being assembled.
pub struct Report {
    options: Options,
    modes: Vec<ModeResults>,
    skipped: Vec<(Mode, String)>,
}

fn shell(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn memory() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map(|kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown".into())
}

fn ratio(value: f64, limit: f64) -> String {
    if limit > 0.0 {
        format!("{:.0} %", value / limit * 100.0)
    } else {
        "–".into()
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "**missed**"
    }
}

impl Report {
    /// An empty report for `options`.
    pub fn new(options: &Options) -> Report {
        Report {
            options: options.clone(),
            modes: vec![],
            skipped: vec![],
        }
    }

    /// Adds a mode's results.
    pub fn add(&mut self, results: ModeResults) {
        self.modes.push(results);
    }

    /// Notes a mode that did not run.
    pub fn skipped(&mut self, mode: Mode, why: &str) {
        self.skipped.push((mode, why.to_owned()));
    }

    /// How the run was made: the command, the machine and the versions, what the limits are.
    fn preamble(&self, out: &mut String, took: Duration) {
        let o = &self.options;
        let _ = writeln!(out, "# FlowMate benchmarks\n");
        if o.smoke {
            let _ = writeln!(out, "**Smoke run** (1 s per scenario, {} flows): checks the tool works; the figures mean nothing.\n", o.flows);
        }
        let _ = writeln!(
            out,
            "Written by `flowmate-bench` on {} in {:.0} s. Regenerate with:\n",
            chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
            took.as_secs_f64()
        );
        let _ = writeln!(out, "```sh\nsudo apt-get install wrk      # the load generator (Debian package)\nexport TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f   # distributed mode\ncargo run --release -p flowmate-bench -- --duration {} --flows {}\n```\n", o.duration.as_secs(), o.flows);
        let _ = writeln!(out, "## Machine and versions\n");
        let _ = writeln!(out, "| | |\n|---|---|");
        let _ = writeln!(
            out,
            "| CPU | {} × {} (load generator and FlowMate share them) |",
            shell("nproc", &[]),
            cpu_model()
        );
        let _ = writeln!(out, "| memory | {} |", memory());
        let _ = writeln!(out, "| kernel | {} |", shell("uname", &["-sr"]));
        let _ = writeln!(
            out,
            "| FlowMate | {} ({}), release build |",
            env!("CARGO_PKG_VERSION"),
            shell(
                "git",
                &["-C", env!("CARGO_MANIFEST_DIR"), "rev-parse", "--short", "HEAD"]
            )
        );
        let _ = writeln!(out, "| Rust | {} |", shell("rustc", &["--version"]));
        let _ = writeln!(out, "| load generator | {} (1 thread, keep-alive connections); sync at a fixed rate: a built-in open-loop generator |", crate::wrk::version());
        let _ = writeln!(
            out,
            "| PostgreSQL / RabbitMQ (distributed) | {} / RabbitMQ on 127.0.0.1 |\n",
            shell("psql", &["--version"])
        );
        let _ = writeln!(out, "Each scenario runs {} s of load. **Limit** is measured in the same run on the same machine: a bare axum handler that only parses the same JSON and answers 200 (webhooks), or a bare axum + sqlx handler reading one flow row from the same database (reads). The ratio is FlowMate's figure divided by the limit's. The sync scenario at a fixed rate measures the steady state: it follows 2 s of the same load that are not measured.\n", o.duration.as_secs());
    }

    /// The Markdown.
    pub fn render(&self, took: Duration) -> String {
        let mut out = String::new();
        self.preamble(&mut out, took);
        let secs = self.options.duration.as_secs_f64();
        for r in &self.modes {
            mode_table(&mut out, r, secs);
            if r.mode == Mode::Standalone {
                standalone_targets(&mut out, r, secs);
            }
            commands(&mut out, r);
        }
        for (mode, why) in &self.skipped {
            let _ = writeln!(out, "## {mode:?}\n\nNot run: {why}.\n");
        }
        out
    }
}

/// One mode's scenarios and figures.
fn mode_table(out: &mut String, r: &ModeResults, secs: f64) {
    let mode = match r.mode {
        Mode::Standalone => "Standalone (one process, SQLite, embedded queue)",
        Mode::Distributed => "Distributed (a process per service, PostgreSQL, RabbitMQ, all on this machine)",
    };
    let _ = writeln!(out, "## {mode}\n");
    let _ = writeln!(
        out,
        "| scenario | figure | p50 | p99 | limit | ratio |\n|---|---|---|---|---|---|"
    );
    let _ = writeln!(out, "| 1. async webhook ingest (webhook → transform), 32 connections | {:.0} accepted/s ({} accepted, {} refused) | {:.2} ms | {:.2} ms | {:.0}/s, p99 {:.2} ms | {} |",
        r.ingest.ok_rate(secs), r.accepted, r.ingest.errors, r.ingest.p50, r.ingest.p99, r.ingest_limit.rate, r.ingest_limit.p99, ratio(r.ingest.ok_rate(secs), r.ingest_limit.rate));
    let _ = writeln!(out, "| 1. executions completed and recorded | {:.0}/s; every accepted webhook has its succeeded execution, none twice: {} | | | {:.0}/s (ingest limit) | {} |",
        r.executions_per_sec, if r.all_recorded { "yes" } else { "NO" }, r.ingest_limit.rate, ratio(r.executions_per_sec, r.ingest_limit.rate));
    let _ = writeln!(
        out,
        "| 2. sync webhook at a fixed 1,000/s | {:.0}/s answered ({} failed) | {:.2} ms | {:.2} ms | | |",
        r.sync_fixed.rate, r.sync_fixed.errors, r.sync_fixed.p50, r.sync_fixed.p99
    );
    let _ = writeln!(
        out,
        "| 2. sync webhook flat out, 32 connections | {:.0}/s | {:.2} ms | {:.2} ms | {:.0}/s | {} |",
        r.sync_max.ok_rate(secs),
        r.sync_max.p50,
        r.sync_max.p99,
        r.ingest_limit.rate,
        ratio(r.sync_max.ok_rate(secs), r.ingest_limit.rate)
    );
    let _ = writeln!(out, "| 3. five-step flow (transform, filter, split over 10 items, transform, log: 24 steps) | {:.0} executions/s = {:.0} steps/s | | | | |",
        r.five_step_executions_per_sec, r.five_step_executions_per_sec * 24.0);
    let _ = writeln!(out, "| 3. FlowMate CPU per step (everything: ingest, engine, recording) | {:.1} µs/step, {:.0} µs/execution | | | | |",
        r.five_step_cpu_per_step_us, r.five_step_cpu_per_execution_us);
    let _ = writeln!(out, "| 4. `GET /flows/{{id}}`, {} flows stored, 32 connections | {:.0}/s | {:.2} ms | {:.2} ms | {:.0}/s, p99 {:.2} ms | {} |",
        r.flows_stored, r.get_one.ok_rate(secs), r.get_one.p50, r.get_one.p99, r.row_limit.rate, r.row_limit.p99, ratio(r.get_one.ok_rate(secs), r.row_limit.rate));
    let _ = writeln!(
        out,
        "| 4. `GET /flows?page[size]=50` | {:.0}/s | {:.2} ms | {:.2} ms | {:.0}/s | {} |",
        r.list_page.ok_rate(secs),
        r.list_page.p50,
        r.list_page.p99,
        r.row_limit.rate,
        ratio(r.list_page.ok_rate(secs), r.row_limit.rate)
    );
    let _ = writeln!(
        out,
        "| 5. start to `/readyz` 200 | {:.0} ms | | | | |",
        r.ready_after.as_secs_f64() * 1000.0
    );
    let _ = writeln!(
        out,
        "| 5. RSS idle / peak under scenario 1 | {:.1} MiB / {:.1} MiB | | | | |\n",
        r.idle_rss, r.load_rss
    );
    let _ = writeln!(
        out,
        "FlowMate CPU per accepted webhook in scenario 1 (ingest and execution): {:.0} µs.\n",
        r.ingest_cpu_per_execution_us
    );
    if let Some(c) = &r.credentials {
        crate::credentials::render(out, c);
    }
    if let Some(c) = &r.code {
        crate::code::render(out, c, secs);
    }
    if let Some(f) = &r.sql {
        crate::sql::render(out, f);
    }
    if let Some(m) = &r.merge {
        crate::merge::render(out, m);
    }
    if let Some(n) = &r.noisy {
        crate::noisy::render(out, n);
    }
    if let Some(l) = &r.listing {
        crate::listing::render(out, l, secs);
    }
}

/// The standalone targets of the benchmarks issue, with verdicts.
fn standalone_targets(out: &mut String, r: &ModeResults, secs: f64) {
    let ingest = r.ingest.ok_rate(secs);
    let _ = writeln!(
        out,
        "Targets (standalone, this machine, load generator included):\n"
    );
    let _ = writeln!(out, "| target | measured | |\n|---|---|---|");
    let _ = writeln!(
        out,
        "| ≥ 5,000 accepted webhooks/s at p99 < 20 ms | {:.0}/s at p99 {:.2} ms | {} |",
        ingest,
        r.ingest.p99,
        verdict(ingest >= 5000.0 && r.ingest.p99 < 20.0)
    );
    let _ = writeln!(
        out,
        "| ≥ 3,000 executions/s completed and recorded | {:.0}/s | {} |",
        r.executions_per_sec,
        verdict(r.executions_per_sec >= 3000.0)
    );
    let _ = writeln!(
        out,
        "| sync p99 < 25 ms at 1,000 requests/s | p99 {:.2} ms at {:.0}/s | {} |",
        r.sync_fixed.p99,
        r.sync_fixed.rate,
        verdict(r.sync_fixed.p99 < 25.0 && r.sync_fixed.rate >= 990.0)
    );
    let get = r.get_one.ok_rate(secs) / r.row_limit.rate.max(1.0);
    let _ = writeln!(
        out,
        "| gateway reads ≥ 50 % of the bare limit | `GET /flows/{{id}}` {} | {} |",
        ratio(r.get_one.ok_rate(secs), r.row_limit.rate),
        verdict(get >= 0.5)
    );
    let _ = writeln!(
        out,
        "| idle RSS < 40 MB | {:.1} MiB | {} |",
        r.idle_rss,
        verdict(r.idle_rss < 40.0 / 1.048_576)
    );
    let _ = writeln!(
        out,
        "| ready in < 1 s | {:.0} ms | {} |\n",
        r.ready_after.as_secs_f64() * 1000.0,
        verdict(r.ready_after < Duration::from_secs(1))
    );
}

/// The commands each scenario ran.
fn commands(out: &mut String, r: &ModeResults) {
    let _ = writeln!(out, "Commands:\n");
    for (name, load) in [
        ("ingest", &r.ingest),
        ("ingest limit", &r.ingest_limit),
        ("sync", &r.sync_fixed),
        ("sync flat out", &r.sync_max),
        ("get", &r.get_one),
        ("list", &r.list_page),
        ("row limit", &r.row_limit),
    ] {
        let _ = writeln!(out, "- {name}: `{}`", load.command);
    }
    let _ = writeln!(out);
}
