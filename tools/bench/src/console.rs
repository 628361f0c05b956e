//! `flowmate-bench console URL USER PASSWORD [N]`: how long the web console's executions page takes to render on
//! a running FlowMate (for API.md §13's budget: < 100 ms with 100,000 executions stored). It signs in through the
//! console's login form, then fetches the executions page (the first page, and filtered by status) N times one
//! after another and prints p50/p99 of the time to the last byte on loopback.

use std::time::{Duration, Instant};

use anyhow::Context;

fn field(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &html[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_owned())
}

fn quantile(sorted: &[Duration], q: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Signs in and times `n` renders of each executions page variant; prints one line per variant.
pub async fn measure(base: &str, user: &str, password: &str, n: usize) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let login = http.get(format!("{base}/console")).send().await?;
    let nonce_cookie = login
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("flowmate_login="))
        .and_then(|c| c.split(';').next())
        .context("no login cookie")?
        .to_owned();
    let nonce = field(&login.text().await?, "csrf").context("no login nonce")?;
    let r = http
        .post(format!("{base}/console/login"))
        .header(reqwest::header::COOKIE, nonce_cookie)
        .form(&[
            ("csrf", nonce.as_str()),
            ("username", user),
            ("password", password),
            ("next", ""),
        ])
        .send()
        .await?;
    let session = r
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("flowmate_session="))
        .and_then(|c| c.split(';').next())
        .with_context(|| format!("sign-in failed: {}", r.status()))?
        .to_owned();
    for path in [
        "/console/executions",
        "/console/executions?status=succeeded",
        "/console/executions?page=100",
    ] {
        let mut times = Vec::with_capacity(n);
        let mut bytes = 0;
        for _ in 0..n {
            let started = Instant::now();
            let r = http
                .get(format!("{base}{path}"))
                .header(reqwest::header::COOKIE, &session)
                .send()
                .await?;
            anyhow::ensure!(r.status() == 200, "{path}: {}", r.status());
            bytes = r.bytes().await?.len();
            times.push(started.elapsed());
        }
        times.sort();
        println!(
            "{path}: {n} renders, p50 {:.2} ms, p99 {:.2} ms, {bytes} bytes",
            quantile(&times, 0.5),
            quantile(&times, 0.99)
        );
    }
    Ok(())
}
