//! Counts renders per page per second, so a soak can check that the cache never renders one
//! page twice in a window (`GET /api/render-audit`, behind the admin secret).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use serde::Serialize;

/// The audit so far.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct AuditReport {
    /// Cacheable page renders counted.
    pub renders: u64,
    /// The most renders of one page within one second.
    pub max_renders_per_page_per_second: u32,
    /// (page, second) pairs with more than one render.
    pub windows_over_one: u64,
}

#[derive(Debug, Default)]
struct State {
    second: u64,
    counts: HashMap<String, u32>,
    report: AuditReport,
}

/// Renders per page per second.
#[derive(Clone, Debug, Default)]
pub struct RenderAudit {
    state: Arc<Mutex<State>>,
}

impl RenderAudit {
    /// Counts one render of `path` during `second`.
    pub fn record(&self, path: &str, second: u64) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.second != second {
            state.second = second;
            state.counts.clear();
        }
        let count = {
            let c = state.counts.entry(path.to_owned()).or_default();
            *c += 1;
            *c
        };
        state.report.renders += 1;
        if count == 2 {
            state.report.windows_over_one += 1;
        }
        state.report.max_renders_per_page_per_second =
            state.report.max_renders_per_page_per_second.max(count);
    }

    /// The figures so far.
    pub fn report(&self) -> AuditReport {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_page_per_second() {
        let audit = RenderAudit::default();
        audit.record("/a", 1);
        audit.record("/b", 1);
        audit.record("/a", 2);
        assert_eq!(audit.report().max_renders_per_page_per_second, 1);
        audit.record("/a", 2);
        let report = audit.report();
        assert_eq!(
            (
                report.renders,
                report.max_renders_per_page_per_second,
                report.windows_over_one
            ),
            (4, 2, 1)
        );
    }
}
