//! Retry back-off for pages whose regenerations fail, so a broken backend is not hammered.
//!
//! The state lives on the entry being regenerated ([`Failures`]), so checking it on the
//! stale-serving path is one load, and a successful render resets it by replacing the entry.

use std::time::Duration;

use crate::clock::Micros;
use crate::entry::Failures;

/// The delay between retries: doubles from `min` up to `max` with every consecutive failure.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        Self { min, max }
    }

    /// Records a failure at `now` and returns the delay before the next retry.
    pub(crate) fn failed(&self, failures: &Failures, now: Micros) -> Duration {
        failures.record(now, |count| self.delay(count))
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
    fn a_failure_blocks_retries_until_due() {
        let b = Backoff::new(Duration::from_secs(3), Duration::from_secs(30));
        let f = Failures::default();
        assert!(!f.is_backing_off(0));
        assert_eq!(b.failed(&f, 0), Duration::from_secs(3));
        assert!(f.is_backing_off(2_999_999));
        assert!(!f.is_backing_off(3_000_000));
        assert_eq!(b.failed(&f, 3_000_000), Duration::from_secs(6));
        assert!(f.is_backing_off(8_999_999));
    }
}
