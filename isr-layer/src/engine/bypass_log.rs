//! The answers that bypassed the cache lately, grouped by route (or path) and reason: how an
//! operator finds a page that silently never caches.

use std::collections::VecDeque;
use std::fmt::{self, Write as _};
use std::sync::{Mutex, PoisonError};

use crate::clock::Micros;

/// How many (route, reason) pairs are remembered; the least recently seen is forgotten first.
const REMEMBERED: usize = 64;

/// One route (or path) and the reason its answers were not cached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BypassRecord {
    /// The route name the render reported, or the request's path.
    pub(crate) what: String,
    /// Why, as the debug log says it.
    pub(crate) reason: String,
    /// How many answers bypassed the cache for this reason since it was first seen.
    pub(crate) count: u64,
    /// When the last one did.
    pub(crate) last_at: Micros,
}

/// The recent bypasses, most recently seen first. Written on bypassed answers only, never on a
/// hit.
#[derive(Debug, Default)]
pub(crate) struct BypassLog {
    records: Mutex<VecDeque<BypassRecord>>,
}

impl BypassLog {
    /// Counts one bypassed answer. `what` is a route name or a cache key: of a key, only the
    /// path is kept (no query, no variant), so that the values of a visitor's headers and query
    /// (a `Vary: Cookie` variant, a token in a URL) never reach the inspector's page.
    pub(crate) fn record(&self, what: &str, reason: &dyn fmt::Display, now: Micros) {
        let what = what.split(['\n', '?']).next().unwrap_or(what);
        let mut text = String::new();
        // Writing to a `String` cannot fail.
        let _ = write!(text, "{reason}");
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        let found = records
            .iter()
            .position(|r| r.what == what && r.reason == text);
        let mut record = match found.and_then(|at| records.remove(at)) {
            Some(record) => record,
            None => BypassRecord {
                what: what.to_owned(),
                reason: text,
                count: 0,
                last_at: now,
            },
        };
        record.count += 1;
        record.last_at = now;
        records.push_front(record);
        records.truncate(REMEMBERED);
    }

    /// The records, most recently seen first.
    pub(crate) fn recent(&self) -> Vec<BypassRecord> {
        let records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        records.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bypasses_are_counted_per_route_and_reason_most_recent_first() {
        let log = BypassLog::default();
        log.record("/dashboard/stats", &"dynamic", 1);
        log.record("/login", &"Set-Cookie", 2);
        log.record("/dashboard/stats", &"dynamic", 3);
        log.record("/dashboard/stats", &"status 500", 4);
        let recent = log.recent();
        let seen: Vec<_> = recent
            .iter()
            .map(|r| (r.what.as_str(), r.reason.as_str(), r.count, r.last_at))
            .collect();
        assert_eq!(
            seen,
            [
                ("/dashboard/stats", "status 500", 1, 4),
                ("/dashboard/stats", "dynamic", 2, 3),
                ("/login", "Set-Cookie", 1, 2),
            ]
        );
    }

    #[test]
    fn a_key_is_recorded_by_its_path_without_query_or_variant() {
        let log = BypassLog::default();
        log.record(
            "/account?token=s3cret\n~cookie:session=abc",
            &"Set-Cookie",
            1,
        );
        log.record("example.com/account\n~cookie:session=def", &"Set-Cookie", 2);
        let recent = log.recent();
        let seen: Vec<_> = recent.iter().map(|r| (r.what.as_str(), r.count)).collect();
        assert_eq!(seen, [("example.com/account", 1), ("/account", 1)]);
    }

    #[test]
    fn only_the_most_recent_pairs_are_remembered() {
        let log = BypassLog::default();
        for n in 0..REMEMBERED + 10 {
            log.record(&format!("/p{n}"), &"dynamic", n as Micros);
        }
        let recent = log.recent();
        assert_eq!(recent.len(), REMEMBERED);
        assert_eq!(recent[0].what, format!("/p{}", REMEMBERED + 9));
        assert!(recent.iter().all(|r| r.what != "/p0"));
    }
}
