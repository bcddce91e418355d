//! `isr status`: the cache's summary.

use std::fmt::Write as _;

use crate::app::{App, Stats};
use crate::cli::StatusArgs;
use crate::failure::Failure;
use crate::format::{self, Align, Table};
use crate::output::emit;

/// Prints the app's counters as a table of names and values, or as JSON.
pub(crate) async fn run(app: &App, args: &StatusArgs) -> Result<(), Failure> {
    if args.json {
        let answer = app.stats_json().await?;
        emit(&format!("{answer:#}\n"))?;
        return Ok(());
    }
    let stats = app.stats().await?;
    emit(&render(app.origin().as_str(), &stats))?;
    Ok(())
}

/// The summary of `stats` for the app at `origin`.
pub(crate) fn render(origin: &str, stats: &Stats) -> String {
    let mut table = Table::new(&[("", Align::Left), ("", Align::Right), ("", Align::Left)]);
    let mut line = |name: &str, value: String, note: &str| {
        table.row(vec![format!("  {name}"), value, note.to_owned()]);
    };
    line("entries", stats.entries.to_string(), "");
    line(
        "bytes",
        format::bytes(stats.bytes),
        &format!("({})", stats.bytes),
    );
    line(
        "hit ratio",
        format::percent(stats.hit_ratio),
        "(HIT and STALE over HIT, STALE and MISS)",
    );
    line("hits", stats.hits.to_string(), "HIT");
    line("stale", stats.stale.to_string(), "STALE");
    line("misses", stats.misses.to_string(), "MISS");
    line("bypasses", stats.bypasses.to_string(), "BYPASS");
    line("renders", stats.renders.to_string(), "");
    line("failed renders", stats.failed_renders.to_string(), "");
    line(
        "regenerations deferred",
        stats.regenerations_deferred.to_string(),
        "",
    );
    line("invalidations", stats.invalidations.to_string(), "");
    line(
        "invalidation stamps",
        stats.invalidation_stamps.to_string(),
        "",
    );
    line("store errors", stats.store_errors.to_string(), "");
    if let Some(store) = &stats.store {
        let state = if store.reachable {
            "answering"
        } else {
            "UNREACHABLE"
        };
        // HTTP dates end with the year 9999: a later time (a broken answer) is left out.
        let since = store
            .since
            .filter(|&ms| ms < 253_402_300_800_000)
            .map_or_else(String::new, |ms| {
                let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
                format!(" since {}", httpdate::fmt_http_date(at))
            });
        let bound = store
            .max_bytes
            .map_or_else(String::new, |max| format!(", bound {}", format::bytes(max)));
        let outages = match store.outages {
            0 => String::new(),
            n => format!(", {n} outages"),
        };
        line(
            "store",
            store.kind.clone(),
            &format!("{state}{since}{bound}{outages}"),
        );
    }
    let rendered = table.render();
    let mut out = String::new();
    let _ = writeln!(out, "cache of {origin}");
    // The table's header line is empty: skip it.
    for row in rendered.lines().skip(1) {
        let _ = writeln!(out, "{row}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_change_past_the_year_9999_is_left_out() {
        let stats = Stats {
            store: Some(crate::app::StoreInfo {
                kind: "redis".to_owned(),
                reachable: true,
                since: Some(u64::MAX),
                ..crate::app::StoreInfo::default()
            }),
            ..Stats::default()
        };
        let text = render("http://127.0.0.1:3000/", &stats);
        assert!(text.contains("redis  answering\n"), "{text}");
    }

    #[test]
    fn the_summary_names_every_counter() {
        let stats = Stats {
            entries: 81,
            bytes: 2_000_000,
            hits: 9,
            misses: 1,
            hit_ratio: Some(0.9),
            store_errors: 2,
            store: Some(crate::app::StoreInfo {
                kind: "redis".to_owned(),
                max_bytes: Some(256 << 20),
                reachable: false,
                since: Some(1_700_000_000_000),
                outages: 1,
            }),
            ..Stats::default()
        };
        let text = render("http://127.0.0.1:3000/", &stats);
        assert!(
            text.starts_with("cache of http://127.0.0.1:3000/\n"),
            "{text}"
        );
        for expected in [
            "entries                      81",
            "bytes                   1.9 MiB  (2000000)",
            "hit ratio                 90.0%",
            "hits                          9  HIT",
            "store errors                  2",
            "regenerations deferred",
            "failed renders",
            "invalidations",
            "store                     redis  UNREACHABLE since Tue, 14 Nov 2023 22:13:20 GMT, bound 256.0 MiB, 1 outages",
        ] {
            assert!(text.contains(expected), "{expected:?} in\n{text}");
        }
    }
}
