//! `isr watch`: a live view of the cache, refreshed in place (like `varnishstat`): the counters
//! over the last interval and in total, and the latest renders.
//!
//! The app does not count requests per page (that would add a shared write to every cache
//! hit), so the view cannot rank the busiest pages; it shows the youngest entries instead,
//! which is where renders and regenerations land.

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use crate::app::{App, EntryRow, ListQuery, Stats};
use crate::cli::{SortArg, WatchArgs};
use crate::failure::Failure;
use crate::format::{self, Align, Table};
use crate::output::{Written, emit};

/// The youngest entries shown under the counters.
const LATEST: u64 = 10;

/// ANSI: cursor home, clear the screen.
const CLEAR: &str = "\x1b[H\x1b[2J";

/// Shows a frame every `args.interval`, `args.count` times (or until interrupted).
pub(crate) async fn run(app: &App, args: &WatchArgs) -> Result<(), Failure> {
    let in_place = std::io::stdout().is_terminal();
    let latest = ListQuery {
        sort: Some(SortArg::Age),
        limit: LATEST,
        ..ListQuery::default()
    };
    let mut previous: Option<(Stats, Instant)> = None;
    let mut frame = 0_u64;
    loop {
        frame += 1;
        let stats = app.stats().await?;
        let taken = Instant::now();
        let listing = app.list(&latest).await?;
        let since = previous.as_ref().map(|(before, at)| (before, taken - *at));
        let view = Frame {
            origin: app.origin().as_str(),
            interval: args.interval,
            number: frame,
            count: args.count,
            stats: &stats,
            since,
            latest: &listing.entries,
        };
        let mut text = view.render();
        if in_place {
            text.insert_str(0, CLEAR);
        } else if frame > 1 {
            text.insert(0, '\n');
        }
        if emit(&text)? == Written::Closed {
            return Ok(());
        }
        if args.count.is_some_and(|count| frame >= count) {
            return Ok(());
        }
        previous = Some((stats, taken));
        tokio::time::sleep(args.interval).await;
    }
}

/// One refresh of the view.
#[derive(Debug)]
pub(crate) struct Frame<'a> {
    pub(crate) origin: &'a str,
    pub(crate) interval: Duration,
    pub(crate) number: u64,
    pub(crate) count: Option<u64>,
    pub(crate) stats: &'a Stats,
    /// The counters one refresh earlier, and the time since; none on the first frame.
    pub(crate) since: Option<(&'a Stats, Duration)>,
    pub(crate) latest: &'a [EntryRow],
}

impl Frame<'_> {
    /// The frame as text.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        let of = self
            .count
            .map_or_else(String::new, |count| format!("/{count}"));
        let _ = writeln!(
            out,
            "isr watch {}  every {}  frame {}{of}",
            self.origin,
            format::took(self.interval),
            self.number
        );
        let span = self.since.map_or_else(
            || "last -".to_owned(),
            |(_, d)| format!("last {}", format::took(d)),
        );
        let mut table = Table::new(&[
            ("", Align::Left),
            (&span, Align::Right),
            ("total", Align::Right),
        ]);
        let now = self.stats;
        let before = self.since.map(|(before, _)| before);
        // A counter that went down means the app restarted: no difference to show.
        let delta =
            |f: fn(&Stats) -> u64| -> Option<u64> { before.and_then(|b| f(now).checked_sub(f(b))) };
        let show = |d: Option<u64>| d.map_or_else(|| "-".to_owned(), |d| d.to_string());
        let lookups = |s: &Stats| s.hits + s.stale + s.misses;
        let served = |s: &Stats| s.hits + s.stale;
        let requests = |s: &Stats| s.hits + s.stale + s.misses + s.bypasses;
        let interval_ratio = match (delta(served), delta(lookups)) {
            (Some(served), Some(lookups)) => format::percent(format::ratio(served, lookups)),
            _ => "-".to_owned(),
        };
        let mut line = |name: &str, interval: String, total: String| {
            table.row(vec![format!("  {name}"), interval, total]);
        };
        line("requests", show(delta(requests)), requests(now).to_string());
        line("hit ratio", interval_ratio, format::percent(now.hit_ratio));
        line("hits", show(delta(|s| s.hits)), now.hits.to_string());
        line("stale", show(delta(|s| s.stale)), now.stale.to_string());
        line("misses", show(delta(|s| s.misses)), now.misses.to_string());
        line(
            "bypasses",
            show(delta(|s| s.bypasses)),
            now.bypasses.to_string(),
        );
        line(
            "renders",
            show(delta(|s| s.renders)),
            now.renders.to_string(),
        );
        line(
            "failed renders",
            show(delta(|s| s.failed_renders)),
            now.failed_renders.to_string(),
        );
        line(
            "regenerations deferred",
            show(delta(|s| s.regenerations_deferred)),
            now.regenerations_deferred.to_string(),
        );
        line(
            "invalidations",
            show(delta(|s| s.invalidations)),
            now.invalidations.to_string(),
        );
        line(
            "store errors",
            show(delta(|s| s.store_errors)),
            now.store_errors.to_string(),
        );
        line("entries", String::new(), now.entries.to_string());
        line("bytes", String::new(), format::bytes(now.bytes));
        out.push_str(&table.render());
        let _ = writeln!(
            out,
            "\nlatest renders (the youngest entries; requests are not counted per page)"
        );
        if self.latest.is_empty() {
            let _ = writeln!(out, "  none cached");
        } else {
            let mut latest = Table::new(&[
                ("  AGE", Align::Right),
                ("STATE", Align::Left),
                ("KEY", Align::Left),
            ]);
            for entry in self.latest {
                latest.row(vec![
                    format!("  {}", format::age(entry.age)),
                    entry.state.clone(),
                    entry.key.clone(),
                ]);
            }
            out.push_str(&latest.render());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::RevalidateField;

    #[test]
    fn a_frame_shows_the_interval_beside_the_totals() {
        let before = Stats {
            hits: 90,
            misses: 10,
            renders: 10,
            ..Stats::default()
        };
        let now = Stats {
            hits: 108,
            misses: 12,
            renders: 12,
            entries: 12,
            bytes: 4096,
            hit_ratio: Some(0.9),
            ..Stats::default()
        };
        let latest = [EntryRow {
            key: "/docs/a".to_owned(),
            route: None,
            age: 0,
            revalidate: RevalidateField::Never(false),
            state: "fresh".to_owned(),
            tags: Vec::new(),
            bytes: 10,
        }];
        let frame = Frame {
            origin: "http://127.0.0.1:3000/",
            interval: Duration::from_secs(1),
            number: 2,
            count: Some(2),
            stats: &now,
            since: Some((&before, Duration::from_millis(1000))),
            latest: &latest,
        };
        let text = frame.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "isr watch http://127.0.0.1:3000/  every 1.00s  frame 2/2"
        );
        assert_eq!(lines[1], "                          last 1.00s    total");
        assert_eq!(lines[2], "  requests                        20      120");
        assert_eq!(lines[3], "  hit ratio                    90.0%    90.0%");
        assert!(
            text.contains("  renders                          2       12\n"),
            "{text}"
        );
        assert!(text.contains("\n   0s  fresh  /docs/a\n"), "{text}");
    }

    #[test]
    fn the_first_frame_and_a_restart_have_no_interval() {
        let now = Stats {
            hits: 1,
            ..Stats::default()
        };
        let before = Stats {
            hits: 50,
            ..Stats::default()
        };
        for since in [None, Some((&before, Duration::from_secs(1)))] {
            let frame = Frame {
                origin: "http://127.0.0.1:3000/",
                interval: Duration::from_secs(1),
                number: 1,
                count: None,
                stats: &now,
                since,
                latest: &[],
            };
            let text = frame.render();
            assert!(
                text.contains("  hits  ") && text.contains("-      1\n"),
                "{text}"
            );
            assert!(text.contains("none cached"), "{text}");
        }
    }
}
