//! Per-flow rate limits: a token bucket per flow, refilled continuously. Written here rather than taken from a
//! crate because each flow has its own rate (`flowSettings.webhooks.rateLimit`), which keyed limiters with one
//! shared quota do not model, and the whole thing is a few lines under one mutex.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets by flow id.
#[derive(Default)]
pub struct RateLimits {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimits {
    /// Takes one token from `flow`'s bucket (`per_second` refill, `burst` capacity); `Err(wait)` when empty.
    pub fn take(&self, flow: &str, per_second: f64, burst: u32) -> Result<(), Duration> {
        let now = Instant::now();
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if buckets.len() > 100_000 {
            buckets.retain(|_, b| now.duration_since(b.at) < Duration::from_secs(60));
        }
        let bucket = buckets.entry(flow.to_owned()).or_insert(Bucket {
            tokens: f64::from(burst),
            at: now,
        });
        let elapsed = now.duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(f64::from(burst));
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_requests_wait_for_the_refill() {
        // One token per 1000 s: the next one is ~1000 s away, and even a thread descheduled for seconds between
        // the calls refills less than 1% of it, so the bounds below hold however slowly the test runs.
        const PER_SECOND: f64 = 0.001;
        let limits = RateLimits::default();
        for _ in 0..3 {
            assert_eq!(limits.take("f", PER_SECOND, 3), Ok(()));
        }
        let wait = limits.take("f", PER_SECOND, 3).unwrap_err();
        assert!(
            wait > Duration::from_secs(990) && wait <= Duration::from_secs(1000),
            "the wait for the next token is 1000 s less the time since the burst, got {wait:?}"
        );
        assert_eq!(
            limits.take("other", PER_SECOND, 3),
            Ok(()),
            "each flow has its own bucket"
        );
    }
}
