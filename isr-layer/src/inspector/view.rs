//! The inspector's pages: the figures, the entries and the recent history, rendered from
//! templates (HTML auto-escaped by `minijinja`).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use minijinja::value::Serde;
use minijinja::{Environment, Value, context};
use serde::Serialize;
use tokio::time::Instant;

use super::PageQuery;
use crate::invalidate::{EntryState, EntrySummary, Invalidation};
use crate::purge::{Listing, MAX_SCANNED};
use crate::store::{Entry, StoreStatus};
use crate::{IsrStats, Revalidate, Revalidator};

/// The span of the recent hit ratio.
pub(super) const MINUTE: Duration = Duration::from_secs(60);

/// Entries per page of the listing.
const PER_PAGE: usize = 50;

/// The counters behind the hit ratio, as read at one instant.
#[derive(Clone, Copy, Debug)]
pub(super) struct Sample {
    pub(super) at: Instant,
    served: u64,
    lookups: u64,
}

impl Sample {
    pub(super) fn of(stats: &IsrStats) -> Self {
        let served = stats.hits.saturating_add(stats.stale);
        Self {
            at: Instant::now(),
            served,
            lookups: served.saturating_add(stats.misses),
        }
    }
}

/// The summary, as display text (the page shows it, and the script refreshes it from the
/// same JSON).
#[derive(Clone, Debug, Serialize)]
pub(super) struct Figures {
    entries: String,
    bytes: String,
    hit_ratio: String,
    hit_ratio_minute: String,
    answers: String,
    renders: String,
    failed_renders: String,
    regenerations_deferred: String,
    store: String,
    store_errors: String,
}

impl Figures {
    /// The figures of `stats` and `store`; the recent ratio compares `now` with the oldest of
    /// `earlier` within the last minute.
    pub(super) fn new(
        stats: &IsrStats,
        store: &StoreStatus,
        now: Sample,
        earlier: &VecDeque<Sample>,
    ) -> Self {
        let since = earlier
            .iter()
            .find(|sample| now.at.duration_since(sample.at) <= MINUTE);
        let hit_ratio_minute = match since {
            Some(then) if now.lookups > then.lookups => format!(
                "{} over {} s",
                ratio(now.served - then.served, now.lookups - then.lookups),
                now.at.duration_since(then.at).as_secs()
            ),
            Some(then) => format!(
                "no lookups over {} s",
                now.at.duration_since(then.at).as_secs()
            ),
            None => "measured from the next refresh".to_owned(),
        };
        let bytes = match store.max_bytes {
            Some(cap) => format!("{} of {}", human_bytes(stats.bytes), human_bytes(cap)),
            None => human_bytes(stats.bytes),
        };
        let store_text = match (store.reachable, store.since) {
            (true, None) => format!("{}, answering", store.kind),
            (reachable, since) => format!(
                "{}, {} since {}{}",
                store.kind,
                if reachable {
                    "answering"
                } else {
                    "UNREACHABLE"
                },
                since.map_or_else(|| "start".to_owned(), httpdate::fmt_http_date),
                match store.outages {
                    0 => String::new(),
                    n => format!(" ({n} outages)"),
                }
            ),
        };
        Self {
            entries: stats.entries.to_string(),
            bytes,
            hit_ratio: if now.lookups == 0 {
                "no lookups yet".to_owned()
            } else {
                ratio(now.served, now.lookups)
            },
            hit_ratio_minute,
            answers: format!(
                "{} · {} · {} · {}",
                stats.hits, stats.stale, stats.misses, stats.bypasses
            ),
            renders: stats.renders.to_string(),
            failed_renders: stats.failed_renders.to_string(),
            regenerations_deferred: stats.regenerations_deferred.to_string(),
            store: store_text,
            store_errors: stats.store_errors.to_string(),
        }
    }
}

#[derive(Debug, Serialize)]
struct EntryRow {
    key: String,
    path: String,
    route: String,
    state: &'static str,
    age: String,
    revalidate: String,
    tags: Vec<String>,
    bytes: String,
    representations: String,
}

#[derive(Debug, Serialize)]
struct PurgeRow {
    when: String,
    target: String,
    mode: &'static str,
    origin: &'static str,
}

#[derive(Debug, Serialize)]
struct BypassRow {
    what: String,
    reason: String,
    count: u64,
    last: String,
}

/// The templates, parsed once.
#[derive(Debug)]
pub(super) struct Pages {
    env: Environment<'static>,
}

impl Pages {
    pub(super) fn new() -> Self {
        let mut env = Environment::new();
        for (name, source) in [
            ("style.css", include_str!("templates/style.css")),
            ("sign_in.html", include_str!("templates/sign_in.html")),
            ("page.html", include_str!("templates/page.html")),
        ] {
            // The templates are part of this crate and tested: they parse.
            if let Err(error) = env.add_template(name, source) {
                tracing::error!(target: "isr", %error, name, "an inspector template does not parse");
            }
        }
        Self { env }
    }

    fn render(&self, name: &str, ctx: Value) -> String {
        self.env
            .get_template(name)
            .and_then(|template| template.render(ctx))
            .unwrap_or_else(|error| {
                tracing::error!(target: "isr", %error, name, "an inspector page could not be rendered");
                "<!doctype html><p>The inspector page could not be rendered; see the log.</p>"
                    .to_owned()
            })
    }

    pub(super) fn sign_in(&self, base: &str, error: Option<String>) -> String {
        self.render("sign_in.html", context! { base, error })
    }

    /// The page: figures, purges, bypasses and one page of the filtered entries.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn dashboard(
        &self,
        base: &str,
        revalidator: &Revalidator,
        query: &PageQuery,
        error: Option<String>,
        csrf: &str,
        figures: &Figures,
        purges: &[Invalidation],
    ) -> (StatusCode, String) {
        let mut error = error;
        let state = match query.state.as_deref().filter(|s| !s.is_empty()) {
            None => None,
            Some(name) => match EntryState::from_name(name) {
                Some(state) => Some(state),
                None => {
                    error = Some(format!(
                        "unknown state {name:?}: expected fresh, stale or invalid"
                    ));
                    None
                }
            },
        };
        let nonempty = |value: &Option<String>| value.clone().filter(|v| !v.trim().is_empty());
        let listing = Listing {
            limit: MAX_SCANNED,
            state,
            tag: nonempty(&query.tag),
            route: nonempty(&query.route),
            sort: None,
        };
        let mut entries = revalidator.local_entries(MAX_SCANNED);
        let scanned = entries.len();
        entries.retain(|entry| listing.admits(entry, || revalidator.state(entry)));
        let matched = entries.len();
        let pages = matched.div_ceil(PER_PAGE).max(1);
        let page = query.page.unwrap_or(1).clamp(1, pages);
        // Only the page shown is put in order and summarized: with many entries, sorting and
        // weighing every one would be most of the answer's time.
        let rows: Vec<EntryRow> = page_window(&mut entries, (page - 1) * PER_PAGE, PER_PAGE)
            .iter()
            .map(|entry| entry_row(&revalidator.summarize(Arc::clone(entry))))
            .collect();
        let link = |page: usize| {
            let mut pairs = vec![];
            for (name, value) in [
                ("state", &query.state),
                ("tag", &query.tag),
                ("route", &query.route),
            ] {
                if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                    pairs.push((name, value.to_owned()));
                }
            }
            pairs.push(("page", page.to_string()));
            format!(
                "{base}?{}",
                serde_urlencoded::to_string(&pairs).unwrap_or_default()
            )
        };
        let now = revalidator.now_micros();
        let bypasses: Vec<BypassRow> = revalidator
            .recent_bypasses()
            .into_iter()
            .map(|record| BypassRow {
                last: ago(now.saturating_sub(record.last_at) / 1_000_000),
                what: record.what,
                reason: record.reason,
                count: record.count,
            })
            .collect();
        let purges: Vec<PurgeRow> = purges
            .iter()
            .map(|p| PurgeRow {
                when: httpdate::fmt_http_date(p.at),
                target: p.target.to_string(),
                mode: p.mode.as_str(),
                origin: p.origin.as_str(),
            })
            .collect();
        let status = if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        let html = self.render(
            "page.html",
            context! {
                base,
                csrf,
                figures => Value::from(Serde(figures)),
                purges => Value::from(Serde(&purges)),
                bypasses => Value::from(Serde(&bypasses)),
                entries => Value::from(Serde(&rows)),
                matched,
                scanned,
                page,
                pages,
                prev_page => (page > 1).then(|| link(page - 1)),
                next_page => (page < pages).then(|| link(page + 1)),
                filter => context! {
                    state => query.state.clone().unwrap_or_default(),
                    tag => query.tag.clone().unwrap_or_default(),
                    route => query.route.clone().unwrap_or_default(),
                },
                flash => query.done.clone(),
                error,
            },
        );
        (status, html)
    }
}

/// The entries at places `start..start + len` of `entries` in key order, in order; the others
/// are left in no particular order. Linear on average, where sorting all would not be.
fn page_window(entries: &mut [Arc<Entry>], start: usize, len: usize) -> &[Arc<Entry>] {
    let by_key = |a: &Arc<Entry>, b: &Arc<Entry>| a.key().cmp(b.key());
    if start >= entries.len() {
        return &[];
    }
    if start > 0 {
        entries.select_nth_unstable_by(start, by_key);
    }
    let rest = &mut entries[start..];
    let len = len.min(rest.len());
    if len < rest.len() {
        rest.select_nth_unstable_by(len, by_key);
    }
    let window = &mut rest[..len];
    window.sort_unstable_by(by_key);
    window
}

fn entry_row(summary: &EntrySummary) -> EntryRow {
    let entry = &summary.entry;
    let mut representations = vec!["identity"];
    representations.extend(entry.encodings().map(|coding| coding.as_str()));
    EntryRow {
        key: entry.key().to_owned(),
        path: entry.path().to_owned(),
        route: entry.route().unwrap_or("-").to_owned(),
        state: summary.state.as_str(),
        age: ago(summary.age.as_secs()),
        revalidate: match entry.revalidate() {
            Revalidate::After(every) => duration(every.as_secs()),
            Revalidate::Never => "never".to_owned(),
            Revalidate::Dynamic => "dynamic".to_owned(),
        },
        tags: entry.tags().map(str::to_owned).collect(),
        bytes: human_bytes(summary.bytes as u64),
        representations: representations.join(", "),
    }
}

fn ratio(part: u64, whole: u64) -> String {
    // Precision lost above 2^53 lookups does not matter to a percentage.
    #[allow(clippy::cast_precision_loss)]
    let percent = part as f64 * 100.0 / whole as f64;
    format!("{percent:.1} %")
}

fn ago(secs: u64) -> String {
    format!("{} ago", duration(secs))
}

fn duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86_400 => format!("{} h", secs / 3600),
        _ => format!("{} d", secs / 86_400),
    }
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes;
    let mut unit = 0;
    while value >= 10 * 1024 && unit < UNITS.len() - 1 {
        value /= 1024;
        unit += 1;
    }
    format!("{value} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_templates_parse() {
        let pages = Pages::new();
        for name in ["style.css", "sign_in.html", "page.html"] {
            assert!(pages.env.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn a_page_window_is_the_slice_of_the_sorted_keys() {
        use crate::policy::Revalidate;
        let entry = |n: usize| {
            Arc::new(Entry::fetched(
                Arc::from(format!("/k{n:03}")),
                http::StatusCode::OK,
                http::HeaderMap::new(),
                bytes::Bytes::new(),
                0,
                0,
                Revalidate::Never,
                Box::default(),
            ))
        };
        // 123 keys in a scrambled order.
        let mut entries: Vec<_> = (0..123).map(|n| entry((n * 37) % 123)).collect();
        for (start, len, first, count) in [(0, 50, 0, 50), (50, 50, 50, 50), (100, 50, 100, 23)] {
            let window = page_window(&mut entries, start, len);
            let keys: Vec<_> = window.iter().map(|e| e.key().to_owned()).collect();
            let expected: Vec<_> = (first..first + count)
                .map(|n| format!("/k{n:03}"))
                .collect();
            assert_eq!(keys, expected, "{start}");
        }
        assert!(page_window(&mut entries, 200, 50).is_empty());
    }

    #[test]
    fn figures_read_as_text() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(20 * 1024), "20 KiB");
        assert_eq!(human_bytes(3 << 30), "3072 MiB");
        assert_eq!(duration(59), "59 s");
        assert_eq!(duration(3_599), "59 min");
        assert_eq!(duration(7_200), "2 h");
        assert_eq!(ratio(1, 3), "33.3 %");
    }
}
