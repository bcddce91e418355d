//! The one clock the cache reads.
//!
//! Wall-clock time is needed because entries outlive the process (file and Redis stores keep
//! render times), and tokio's clock is needed so tests can pause and advance time. The clock
//! takes the wall-clock time once and then advances with [`tokio::time::Instant`], which follows
//! tokio's paused clock in tests and the monotonic clock otherwise.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Microseconds since the Unix epoch.
pub(crate) type Micros = u64;

#[derive(Debug)]
pub(crate) struct Clock {
    base_unix: Micros,
    base: Instant,
    last_stamp: AtomicU64,
}

impl Clock {
    pub(crate) fn new() -> Self {
        let base_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, saturating_micros);
        Self {
            base_unix,
            base: Instant::now(),
            last_stamp: AtomicU64::new(0),
        }
    }

    /// The current time.
    pub(crate) fn now(&self) -> Micros {
        self.base_unix.saturating_add(saturating_micros(
            Instant::now().saturating_duration_since(self.base),
        ))
    }

    /// A strictly increasing timestamp.
    ///
    /// Render starts and invalidations both take a stamp, so "was this page invalidated after
    /// its render started?" has one answer even when both happen within the same microsecond
    /// (or, in tests, at the same paused instant).
    /// Makes every later [`stamp`](Self::stamp) greater than `stamp` (one made elsewhere).
    pub(crate) fn observe(&self, stamp: Micros) {
        self.last_stamp.fetch_max(stamp, Ordering::AcqRel);
    }

    pub(crate) fn stamp(&self) -> Micros {
        let now = self.now();
        let mut last = self.last_stamp.load(Ordering::Relaxed);
        loop {
            let next = now.max(last + 1);
            match self.last_stamp.compare_exchange_weak(
                last,
                next,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return next,
                Err(actual) => last = actual,
            }
        }
    }
}

pub(crate) fn saturating_micros(d: Duration) -> Micros {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn stamps_strictly_increase_at_one_paused_instant() {
        let clock = Clock::new();
        let a = clock.stamp();
        let b = clock.stamp();
        assert!(b > a);
    }

    #[tokio::test(start_paused = true)]
    async fn stamps_move_past_stamps_observed_from_elsewhere() {
        let clock = Clock::new();
        let ahead = clock.now() + 5_000_000;
        clock.observe(ahead);
        assert!(clock.stamp() > ahead);
    }

    #[tokio::test(start_paused = true)]
    async fn now_follows_paused_time() {
        let clock = Clock::new();
        let before = clock.now();
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(clock.now() - before, 10_000_000);
    }
}
