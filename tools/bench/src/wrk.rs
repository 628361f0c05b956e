//! The load generator: `wrk` (Debian package `wrk`), bounded in time, on loopback only.

use std::{path::Path, process::Command, time::Duration};

use anyhow::{bail, Context};

/// What one wrk run measured.
#[derive(Debug, Clone, Default)]
pub struct Load {
    /// Requests completed.
    pub requests: u64,
    /// Of which answered with a status outside 2xx/3xx.
    pub errors: u64,
    /// Requests per second (all answers).
    pub rate: f64,
    /// Median latency, ms.
    pub p50: f64,
    /// 99th percentile latency, ms.
    pub p99: f64,
    /// The command line, for the report.
    pub command: String,
}

impl Load {
    /// Requests answered 2xx/3xx per second.
    pub fn ok_rate(&self, seconds: f64) -> f64 {
        (self.requests - self.errors) as f64 / seconds.max(0.001)
    }
}

/// A request wrk sends over and over.
pub struct Request<'a> {
    /// `GET` or `POST`.
    pub method: &'a str,
    /// Full URL on 127.0.0.1.
    pub url: &'a str,
    /// Body (POST).
    pub body: Option<&'a str>,
    /// Extra headers.
    pub headers: &'a [(&'a str, &'a str)],
}

fn ms(text: &str) -> Option<f64> {
    let text = text.trim();
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (text, 1.0)
    };
    number.parse::<f64>().ok().map(|n| n * factor)
}

fn lua_string(s: &str) -> String {
    format!("{s:?}")
}

/// Runs wrk with `connections` connections on one thread for `duration`.
pub fn run(
    request: &Request<'_>,
    connections: u32,
    duration: Duration,
    scratch: &Path,
) -> anyhow::Result<Load> {
    if !request.url.starts_with("http://127.0.0.1:") {
        bail!("load only ever goes to 127.0.0.1");
    }
    let script = scratch.join(format!("wrk-{}.lua", uuid::Uuid::new_v4().simple()));
    let mut lua = format!("wrk.method = {}\n", lua_string(request.method));
    if let Some(body) = request.body {
        lua.push_str(&format!(
            "wrk.body = {}\nwrk.headers[\"Content-Type\"] = \"application/json\"\n",
            lua_string(body)
        ));
    }
    for (k, v) in request.headers {
        lua.push_str(&format!("wrk.headers[{}] = {}\n", lua_string(k), lua_string(v)));
    }
    std::fs::write(&script, lua)?;
    let secs = duration.as_secs().max(1);
    let args = [
        "-t1".to_owned(),
        format!("-c{connections}"),
        format!("-d{secs}s"),
        "--latency".to_owned(),
        "--timeout".to_owned(),
        "10s".to_owned(),
        "-s".to_owned(),
        script.display().to_string(),
        request.url.to_owned(),
    ];
    let output = Command::new("wrk")
        .args(&args)
        .output()
        .context("running wrk (install it: apt-get install wrk)")?;
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!("wrk failed: {text}{}", String::from_utf8_lossy(&output.stderr));
    }
    let mut load = Load {
        command: format!(
            "wrk {} (script: {} {}{})",
            args[..6].join(" "),
            request.method,
            request.url,
            if request.body.is_some() {
                " with a JSON body"
            } else {
                ""
            }
        ),
        ..Load::default()
    };
    for line in text.lines() {
        let line = line.trim();
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("50%"), Some(v)) => load.p50 = ms(v).unwrap_or(0.0),
            (Some("99%"), Some(v)) => load.p99 = ms(v).unwrap_or(0.0),
            (Some("Requests/sec:"), Some(v)) => load.rate = v.parse().unwrap_or(0.0),
            (Some(n), Some("requests")) => load.requests = n.parse().unwrap_or(0),
            _ => {}
        }
        if let Some(n) = line.strip_prefix("Non-2xx or 3xx responses:") {
            load.errors = n.trim().parse().unwrap_or(0);
        }
    }
    Ok(load)
}

/// The wrk version line.
pub fn version() -> String {
    Command::new("wrk")
        .arg("--version")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("wrk")
                .to_owned()
        })
        .unwrap_or_else(|_| "wrk (not found)".into())
}
