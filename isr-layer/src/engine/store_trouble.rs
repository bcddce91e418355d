//! Store failures: each one counted, at most one WARN line a second.
//!
//! When a shared store is unreachable every request's store call fails; a WARN line for each
//! would flood the log (hundreds a second under load) and bury the one line that says the
//! store went away. So the first failure in a second is logged at WARN with how many were
//! logged at DEBUG only since the WARN before; the others of that second go to DEBUG. Every
//! failure is counted in `store_errors` either way.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::clock::Micros;

/// The shortest time between two WARN lines about store failures.
const WARN_EVERY: Micros = 1_000_000;

/// When the last WARN line was written, and how many failures went to DEBUG since.
#[derive(Debug, Default)]
pub(super) struct StoreTrouble {
    /// Microseconds of the last WARN line, plus one (0: none yet).
    last_warn: AtomicU64,
    quiet: AtomicU64,
}

impl StoreTrouble {
    /// Logs a failed store operation on `key` at `now`: what failed and what the engine does
    /// instead (`consequence`).
    pub(super) fn report(
        &self,
        now: Micros,
        key: &str,
        error: &dyn fmt::Display,
        consequence: &'static str,
    ) {
        let last = self.last_warn.load(Ordering::Relaxed);
        let due = last == 0 || now.saturating_add(1).saturating_sub(last) >= WARN_EVERY;
        // Of threads failing at once, one wins the exchange and writes the WARN line.
        if due
            && self
                .last_warn
                .compare_exchange(
                    last,
                    now.saturating_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            let quiet = self.quiet.swap(0, Ordering::Relaxed);
            tracing::warn!(target: "isr", key, %error, logged_at_debug_since = quiet, "{consequence}");
        } else {
            self.quiet.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(target: "isr", key, %error, "{consequence}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_log::Captured;

    #[test]
    fn one_warn_line_a_second_with_the_count_of_the_quiet_ones() {
        let trouble = StoreTrouble::default();
        let log = Captured::default();
        log.record(|| {
            for i in 0..500 {
                // 500 failures over the first half second.
                trouble.report(i * 1_000, "/a", &"connection refused", "store write failed");
            }
            trouble.report(999_999, "/b", &"connection refused", "store write failed");
            trouble.report(1_000_000, "/c", &"timed out", "store read failed");
            trouble.report(1_000_001, "/d", &"timed out", "store read failed");
        });
        assert_eq!(log.count(" WARN "), 2, "{}", log.text());
        assert_eq!(log.count(" DEBUG "), 501, "{}", log.text());
        assert_eq!(
            log.count("logged_at_debug_since=0"),
            1,
            "the first WARN line"
        );
        assert_eq!(
            log.count("logged_at_debug_since=500"),
            1,
            "the second counts the quiet ones"
        );
        assert_eq!(log.count(" isr:"), 503, "every line under the isr target");
    }

    #[test]
    fn a_failure_after_a_quiet_second_is_a_warn_line_again() {
        let trouble = StoreTrouble::default();
        let log = Captured::default();
        log.record(|| {
            trouble.report(5_000_000, "/a", &"refused", "store write failed");
            trouble.report(9_000_000, "/a", &"refused", "store write failed");
        });
        assert_eq!(log.count(" WARN "), 2, "{}", log.text());
    }
}
