//! Retry back-off for keys whose renders fail, so a broken backend is not hammered.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Micros, saturating_micros};

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    retry_at: Micros,
}

/// Failing keys and when each may be retried. The delay doubles from `min` up to `max` with
/// every consecutive failure; a success forgets the key.
#[derive(Debug)]
pub(crate) struct Backoff {
    failing: moka::sync::Cache<Arc<str>, Failures>,
    min: Duration,
    max: Duration,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        let failing = moka::sync::Cache::builder()
            .max_capacity(100_000)
            // A key that has not failed for a while starts over from `min`.
            .time_to_idle(max.saturating_mul(4).max(Duration::from_secs(1)))
            .build();
        Self { failing, min, max }
    }

    /// Records a failure at `now` and returns the delay before the next retry.
    pub(crate) fn failed(&self, key: &str, now: Micros) -> Duration {
        let count = self
            .failing
            .get(key)
            .map_or(1, |f| f.count.saturating_add(1));
        let delay = self.delay(count);
        self.failing.insert(
            Arc::from(key),
            Failures {
                count,
                retry_at: now.saturating_add(saturating_micros(delay)),
            },
        );
        delay
    }

    pub(crate) fn succeeded(&self, key: &str) {
        self.failing.invalidate(key);
    }

    pub(crate) fn is_backing_off(&self, key: &str, now: Micros) -> bool {
        self.failing.get(key).is_some_and(|f| now < f.retry_at)
    }

    fn delay(&self, failures: u32) -> Duration {
        let factor = 1u32
            .checked_shl(failures.saturating_sub(1).min(31))
            .unwrap_or(u32::MAX);
        self.min.saturating_mul(factor).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_doubles_up_to_the_cap() {
        let b = Backoff::new(Duration::from_secs(3), Duration::from_secs(30));
        let delays: Vec<_> = (1..=6).map(|n| b.delay(n).as_secs()).collect();
        assert_eq!(delays, [3, 6, 12, 24, 30, 30]);
    }

    #[test]
    fn a_failure_blocks_retries_until_due_and_success_clears_it() {
        let b = Backoff::new(Duration::from_secs(3), Duration::from_secs(30));
        assert_eq!(b.failed("/a", 0), Duration::from_secs(3));
        assert!(b.is_backing_off("/a", 2_999_999));
        assert!(!b.is_backing_off("/a", 3_000_000));
        assert_eq!(b.failed("/a", 3_000_000), Duration::from_secs(6));
        b.succeeded("/a");
        assert!(!b.is_backing_off("/a", 3_000_001));
    }
}
