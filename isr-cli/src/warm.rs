//! `isr warm`: requests every listed page through the app, so each one gets cached, and reports
//! what the cache said of each (`x-isr-cache`).

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::sync::Arc;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use reqwest::StatusCode;
use tokio::task::JoinSet;

use crate::app::App;
use crate::cli::WarmArgs;
use crate::failure::{Failure, innermost_cause};
use crate::format::{self, Align, Table};
use crate::output::emit;
use crate::pages::{self, Pages};

/// Failed pages listed by name in the report; the rest are counted.
const FAILURES_LISTED: usize = 20;

/// What became of one page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// `MISS`: rendered by this request, now cached.
    Rendered,
    /// `HIT`: it was cached already.
    Hit,
    /// `STALE`: cached already, past its time; the app regenerates it.
    Stale,
    /// `BYPASS`, or no `x-isr-cache` at all: the page is not cacheable.
    NotCached,
    /// An answer other than 2xx or 3xx, or no answer.
    Failed {
        /// The status, or the transport error.
        why: String,
        /// Whether the app could not be reached at all.
        unreachable: bool,
    },
}

/// Warms the pages `args` names and prints the report.
pub(crate) async fn run(app: &App, args: &WarmArgs) -> Result<(), Failure> {
    let pages = pages::load(app, args).await?;
    if pages.paths.is_empty() {
        let hint = match pages.skipped.first() {
            None => String::new(),
            Some(example) => format!(
                " ({} of another origin skipped, e.g. {example}: see --origin)",
                format::count(pages.skipped.len(), "URL"),
            ),
        };
        return Err(Failure::Usage(format!(
            "no pages to warm in {}{hint}",
            pages.source
        )));
    }
    let started = Instant::now();
    let outcomes = warm(app, &pages, args.concurrency).await;
    let unreachable = outcomes.iter().find_map(|(_, outcome)| match outcome {
        Outcome::Failed {
            why,
            unreachable: true,
        } => Some(why.clone()),
        _ => None,
    });
    let all_unreachable = outcomes.iter().all(|(_, o)| {
        matches!(
            o,
            Outcome::Failed {
                unreachable: true,
                ..
            }
        )
    });
    if let (true, Some(why)) = (all_unreachable, unreachable) {
        // Not one page could be asked for: a report would only repeat the reason.
        return Err(Failure::Unreachable {
            url: app.origin().to_string(),
            why,
        });
    }
    emit(&report(&pages, &outcomes, started.elapsed()))?;
    let failed = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Failed { .. }))
        .count();
    if failed > 0 {
        return Err(Failure::Partial(format!(
            "{failed} of {} failed to warm",
            format::count(outcomes.len(), "page")
        )));
    }
    Ok(())
}

/// Requests every page, `concurrency` at a time; the outcomes in the pages' order.
async fn warm(app: &App, pages: &Pages, concurrency: u64) -> Vec<(String, Outcome)> {
    let progress = progress_bar(pages.paths.len() as u64);
    let concurrency = usize::try_from(concurrency).unwrap_or(1).max(1);
    let client = app.client().clone();
    let urls: Arc<[(usize, String, reqwest::Url)]> = pages
        .paths
        .iter()
        .enumerate()
        .map(|(i, path)| (i, path.clone(), app.page_url(path)))
        .collect();
    let mut outcomes: Vec<Option<Outcome>> = vec![None; urls.len()];
    let mut tasks = JoinSet::new();
    let mut next = 0;
    loop {
        while tasks.len() < concurrency && next < urls.len() {
            let (index, _, url) = urls[next].clone();
            let client = client.clone();
            tasks.spawn(async move { (index, visit(&client, url).await) });
            next += 1;
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        // A task that panicked leaves its page unknown: counted as failed below.
        if let Ok((index, outcome)) = joined {
            progress.set_message(urls[index].1.clone());
            outcomes[index] = Some(outcome);
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    urls.iter()
        .zip(outcomes)
        .map(|((_, path, _), outcome)| {
            let outcome = outcome.unwrap_or(Outcome::Failed {
                why: "the request did not finish".to_owned(),
                unreachable: false,
            });
            (path.clone(), outcome)
        })
        .collect()
}

/// A progress bar on standard error, only when it is a terminal (never in logs or pipes).
fn progress_bar(len: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {elapsed} {wide_msg}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Requests one page and reads its whole body, so a streamed render is stored.
async fn visit(client: &reqwest::Client, url: reqwest::Url) -> Outcome {
    let response = match client.get(url).send().await {
        Ok(response) => response,
        Err(e) => {
            return Outcome::Failed {
                why: innermost_cause(&e),
                unreachable: e.is_connect(),
            };
        }
    };
    let status = response.status();
    let cache = response
        .headers()
        .get("x-isr-cache")
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_uppercase);
    if let Err(e) = response.bytes().await {
        return Outcome::Failed {
            why: format!("{status}, then the body broke: {}", innermost_cause(&e)),
            unreachable: false,
        };
    }
    classify(status, cache.as_deref())
}

/// What an answer's status and `x-isr-cache` say of a page.
pub(crate) fn classify(status: StatusCode, cache: Option<&str>) -> Outcome {
    if !(status.is_success() || status.is_redirection()) {
        return Outcome::Failed {
            why: status.to_string(),
            unreachable: false,
        };
    }
    match cache {
        Some("MISS") => Outcome::Rendered,
        Some("HIT") => Outcome::Hit,
        Some("STALE") => Outcome::Stale,
        _ => Outcome::NotCached,
    }
}

/// The report: counts by outcome, the time taken, and the failed pages.
pub(crate) fn report(
    pages: &Pages,
    outcomes: &[(String, Outcome)],
    took: std::time::Duration,
) -> String {
    let count = |f: fn(&Outcome) -> bool| outcomes.iter().filter(|(_, o)| f(o)).count();
    let failed: Vec<(&str, &str)> = outcomes
        .iter()
        .filter_map(|(path, outcome)| match outcome {
            Outcome::Failed { why, .. } => Some((path.as_str(), why.as_str())),
            _ => None,
        })
        .collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "requested {} from {} in {}",
        format::count(outcomes.len(), "page"),
        pages.source,
        format::took(took)
    );
    let mut table = Table::new(&[("", Align::Left), ("", Align::Right)]);
    let mut line = |name: &str, n: usize| table.row(vec![format!("  {name}"), n.to_string()]);
    line("rendered (MISS)", count(|o| *o == Outcome::Rendered));
    line("already cached (HIT)", count(|o| *o == Outcome::Hit));
    line("already cached (STALE)", count(|o| *o == Outcome::Stale));
    line(
        "not cacheable (BYPASS)",
        count(|o| *o == Outcome::NotCached),
    );
    line("failed", failed.len());
    for row in table.render().lines().skip(1) {
        let _ = writeln!(out, "{row}");
    }
    if !pages.skipped.is_empty() {
        let _ = writeln!(
            out,
            "  skipped {} of another origin (e.g. {}; see --origin)",
            format::count(pages.skipped.len(), "URL"),
            pages.skipped[0]
        );
    }
    if !failed.is_empty() {
        let _ = writeln!(out, "failed pages:");
        for (path, why) in failed.iter().take(FAILURES_LISTED) {
            let _ = writeln!(out, "  {path}  {why}");
        }
        if failed.len() > FAILURES_LISTED {
            let _ = writeln!(out, "  … and {} more", failed.len() - FAILURES_LISTED);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn statuses_and_cache_headers_classify_a_page() {
        assert_eq!(classify(StatusCode::OK, Some("MISS")), Outcome::Rendered);
        assert_eq!(classify(StatusCode::OK, Some("HIT")), Outcome::Hit);
        assert_eq!(classify(StatusCode::OK, Some("STALE")), Outcome::Stale);
        assert_eq!(classify(StatusCode::OK, Some("BYPASS")), Outcome::NotCached);
        assert_eq!(classify(StatusCode::OK, None), Outcome::NotCached);
        assert_eq!(
            classify(StatusCode::PERMANENT_REDIRECT, Some("HIT")),
            Outcome::Hit
        );
        assert!(matches!(
            classify(StatusCode::NOT_FOUND, Some("MISS")),
            Outcome::Failed { .. }
        ));
        assert!(matches!(
            classify(StatusCode::SERVICE_UNAVAILABLE, Some("BYPASS")),
            Outcome::Failed { .. }
        ));
    }

    #[test]
    fn the_report_counts_and_names_the_failures() {
        let pages = Pages {
            source: "pages.txt".to_owned(),
            paths: Vec::new(),
            skipped: vec!["https://elsewhere.example/x".to_owned()],
        };
        let outcomes = vec![
            ("/a".to_owned(), Outcome::Rendered),
            ("/b".to_owned(), Outcome::Hit),
            ("/c".to_owned(), Outcome::Hit),
            (
                "/d".to_owned(),
                Outcome::Failed {
                    why: "404 Not Found".to_owned(),
                    unreachable: false,
                },
            ),
        ];
        let text = report(&pages, &outcomes, Duration::from_millis(1500));
        assert_eq!(
            text,
            "requested 4 pages from pages.txt in 1.50s\n\
             \x20 rendered (MISS)         1\n\
             \x20 already cached (HIT)    2\n\
             \x20 already cached (STALE)  0\n\
             \x20 not cacheable (BYPASS)  0\n\
             \x20 failed                  1\n\
             \x20 skipped 1 URL of another origin (e.g. https://elsewhere.example/x; see --origin)\n\
             failed pages:\n\
             \x20 /d  404 Not Found\n"
        );
    }
}
