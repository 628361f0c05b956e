//! The web console in a real browser: headless Chromium driven over WebDriver (`chromedriver`) with fantoccini,
//! so the tests need no Node.js. They sign in, watch a webhook's execution turn up as succeeded without a
//! reload, read a step's output, retry a failed execution, stop a flow, check another tenant sees none of it and
//! that hostile names and outputs stay text; and they save a screenshot of each page under the target
//! directory (`target/tmp/console-screenshots`).
//!
//! Without `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian's `chromium` and `chromium-driver`) the
//! tests return early with a note; with `CI=true` they fail instead.

#![allow(clippy::unwrap_used, clippy::expect_used)]

// The e2e harness, shared: the journeys use part of it.
#[allow(dead_code)]
#[path = "../e2e/harness.rs"]
mod harness;
#[path = "../e2e/console/support.rs"]
mod support;

mod driver;
mod journeys;
