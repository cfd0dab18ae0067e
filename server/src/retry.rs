//! How long a delivery loop (federation, push gateways, application
//! services) leaves a target alone after it failed: a delay per target
//! that doubles from one second to ten minutes while it keeps failing,
//! and is forgotten once it succeeds.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// The delay after a target's first failure.
pub const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest delay, however often it failed.
pub const LAST_RETRY: Duration = Duration::from_secs(600);
/// How long a delivery loop with nothing to retry sleeps unless woken: a
/// bound on what a missed wake-up could delay.
pub const IDLE: Duration = Duration::from_secs(30);

/// The failing targets, each with when it may be tried again.
#[derive(Debug)]
pub struct Backoff<K> {
    waiting: HashMap<K, (Instant, Duration)>,
}

impl<K> Default for Backoff<K> {
    fn default() -> Self {
        Backoff {
            waiting: HashMap::new(),
        }
    }
}

impl<K: Eq + Hash> Backoff<K> {
    /// How long until `target` may be tried again; `None` when it may now.
    pub fn wait(&self, target: &K) -> Option<Duration> {
        let (until, _) = self.waiting.get(target)?;
        until.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())
    }

    /// How long until the first failing target may be tried again, if any.
    pub fn soonest(&self) -> Option<Duration> {
        let now = Instant::now();
        let until = self.waiting.values().map(|(until, _)| *until).min()?;
        Some(until.saturating_duration_since(now))
    }

    pub fn succeeded(&mut self, target: &K) {
        self.waiting.remove(target);
    }

    /// Notes a failure; returns how long `target` is now left alone.
    pub fn failed(&mut self, target: K) -> Duration {
        let delay = self
            .waiting
            .get(&target)
            .map_or(FIRST_RETRY, |(_, last)| (*last * 2).min(LAST_RETRY));
        self.waiting.insert(target, (Instant::now() + delay, delay));
        delay
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_up_to_its_limit_and_success_forgets_it() {
        let mut backoff = Backoff::default();
        assert_eq!(backoff.wait(&"a"), None);
        let delays: Vec<Duration> = (0..12).map(|_| backoff.failed("a")).collect();
        assert_eq!(delays[..3], [FIRST_RETRY, FIRST_RETRY * 2, FIRST_RETRY * 4]);
        assert_eq!(delays[11], LAST_RETRY);
        assert!(backoff.wait(&"a").is_some_and(|d| d <= LAST_RETRY));
        assert!(backoff.soonest().is_some_and(|d| d <= LAST_RETRY));
        assert_eq!(backoff.wait(&"b"), None, "targets are apart");
        backoff.succeeded(&"a");
        assert_eq!(backoff.wait(&"a"), None);
        assert_eq!(backoff.soonest(), None);
        assert_eq!(backoff.failed("a"), FIRST_RETRY);
    }
}
