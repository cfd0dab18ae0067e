//! Rate limiting for the operations the spec documents with a `429`
//! (`Metadata::rate_limited`): a token bucket per operation and requester,
//! where the requester is the access token, else the peer's IP address.
//! A request over the limit gets `429 M_LIMIT_EXCEEDED` with
//! `retry_after_ms` (and `Retry-After`) before its handler runs.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many requests a requester may make to one operation: `burst` at
/// once, then `per_second` on average.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    pub burst: u32,
    pub per_second: f64,
}

/// Buckets kept before the full ones are dropped (a full bucket is the
/// same as none), so that many requesters cannot grow the map without end.
const MAX_BUCKETS: usize = 100_000;

pub(crate) struct Limiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<(&'static str, String), Bucket>>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

impl Limiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Limiter {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn refilled(&self, bucket: Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        (bucket.tokens + elapsed * self.limit.per_second).min(f64::from(self.limit.burst))
    }

    /// Takes one request's token, or says how long until there is one.
    pub(crate) fn take(&self, operation: &'static str, requester: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_BUCKETS {
            let burst = f64::from(self.limit.burst);
            buckets.retain(|_, b| self.refilled(*b, now) < burst);
        }
        let full = Bucket {
            tokens: f64::from(self.limit.burst),
            updated: now,
        };
        let bucket = buckets.entry((operation, requester.to_owned())).or_insert(full);
        let tokens = self.refilled(*bucket, now);
        if tokens >= 1.0 {
            *bucket = Bucket {
                tokens: tokens - 1.0,
                updated: now,
            };
            return Ok(());
        }
        let wait = if self.limit.per_second > 0.0 {
            (1.0 - tokens) / self.limit.per_second
        } else {
            f64::from(u32::MAX)
        };
        Err(Duration::from_secs_f64(wait.max(0.001)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate_per_requester_and_operation() {
        let limiter = Limiter::new(RateLimit {
            burst: 3,
            per_second: 1.0,
        });
        for _ in 0..3 {
            assert!(limiter.take("login", "1.2.3.4").is_ok());
        }
        let wait = limiter.take("login", "1.2.3.4").unwrap_err();
        assert!(
            wait > Duration::from_millis(900) && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(
            limiter.take("login", "5.6.7.8").is_ok(),
            "another requester has its own bucket"
        );
        assert!(limiter.take("register", "1.2.3.4").is_ok(), "another operation too");
    }
}
