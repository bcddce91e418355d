//! The command line: subcommands, options and their help.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

use crate::failure::EXIT_CODES;

/// The `isr` command: an isr-rs app's cache, over its purge endpoint.
#[derive(Debug, Parser)]
#[command(
    name = "isr",
    version,
    about = "Inspect, purge and warm the page cache of an isr-rs app, over its purge endpoint",
    after_help = EXIT_CODES
)]
pub(crate) struct Cli {
    /// Where the app is and how to reach it.
    #[command(flatten)]
    pub(crate) app: AppArgs,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The app's address and the purge endpoint's secret, for every subcommand.
#[derive(Debug, Args)]
pub(crate) struct AppArgs {
    /// The app's origin: scheme, host and port (plain HTTP)
    #[arg(
        long,
        env = "ISR_URL",
        default_value = "http://127.0.0.1:3000",
        global = true
    )]
    pub(crate) url: String,

    /// The purge endpoint's secret (needed by status, ls, purge and watch)
    #[arg(
        long,
        env = "REVALIDATION_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub(crate) secret: Option<String>,

    /// The purge endpoint's path on the app
    #[arg(long, default_value = "/api/revalidate", global = true, value_parser = parse_path)]
    pub(crate) endpoint: String,

    /// Seconds to wait for each answer
    #[arg(long, value_name = "SECS", default_value = "30", global = true, value_parser = parse_secs)]
    pub(crate) timeout: Duration,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// The cache's summary: entries, bytes, hit ratio, renders and the other counters
    Status(StatusArgs),
    /// Cached entries (key, route, state, age, revalidate, tags, bytes) as a table or JSON
    Ls(LsArgs),
    /// Revalidate a page, every page under a path, or every page carrying a tag
    Purge(PurgeArgs),
    /// Request pages through the app so that each one gets cached, then report
    Warm(WarmArgs),
    /// A live view of the cache, refreshed in place: hit ratio and renders over each interval
    Watch(WatchArgs),
}

/// `isr status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// Print the app's answer as JSON
    #[arg(long)]
    pub(crate) json: bool,
}

/// `isr ls`.
#[derive(Debug, Args)]
pub(crate) struct LsArgs {
    /// Only entries in this state
    #[arg(long, value_enum)]
    pub(crate) state: Option<StateArg>,

    /// Only entries carrying this tag
    #[arg(long, value_name = "TAG")]
    pub(crate) tag: Option<String>,

    /// Only entries whose route name (e.g. /docs/{slug}) or path starts with this prefix
    #[arg(long, value_name = "PREFIX", value_parser = parse_path)]
    pub(crate) route: Option<String>,

    /// Order: youngest first (age) or largest first (bytes); default: the store's order
    #[arg(long, value_enum)]
    pub(crate) sort: Option<SortArg>,

    /// At most this many entries (the app answers at most 10000)
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub(crate) limit: u64,

    /// Print the app's answer as JSON
    #[arg(long)]
    pub(crate) json: bool,
}

/// An entry's state, as the app names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum StateArg {
    /// Served as HIT.
    Fresh,
    /// Past its revalidate time: served as STALE while it regenerates.
    Stale,
    /// Purged: the next visitor waits for a render.
    Invalid,
}

impl StateArg {
    /// The name the purge endpoint takes.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Fresh => "fresh",
            Self::Stale => "stale",
            Self::Invalid => "invalid",
        }
    }
}

/// The order of a listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum SortArg {
    /// Youngest first: the latest renders.
    Age,
    /// Largest first.
    Bytes,
}

impl SortArg {
    /// The name the purge endpoint takes.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Age => "age",
            Self::Bytes => "bytes",
        }
    }
}

/// `isr purge`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("target").required(true).args(["path", "layout", "tag"])))]
pub(crate) struct PurgeArgs {
    /// Revalidate one page (every query string and variant of it)
    #[arg(long, value_name = "PATH", value_parser = parse_path)]
    pub(crate) path: Option<String>,

    /// Revalidate every page under this path (a layout)
    #[arg(long, value_name = "PATH", value_parser = parse_path)]
    pub(crate) layout: Option<String>,

    /// Revalidate every page carrying this tag; repeat for several tags
    #[arg(long, value_name = "TAG", value_parser = parse_tag)]
    pub(crate) tag: Vec<String>,

    /// Keep serving the old page (STALE) while one regeneration runs, instead of making the
    /// next visitor wait for a render
    #[arg(long)]
    pub(crate) stale: bool,

    /// Print the app's answer as JSON
    #[arg(long)]
    pub(crate) json: bool,
}

/// `isr warm`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("pages").required(true).args(["sitemap", "file"])))]
pub(crate) struct WarmArgs {
    /// A sitemap.xml to warm every <loc> of: an http:// URL or a file
    #[arg(long, value_name = "URL|FILE")]
    pub(crate) sitemap: Option<String>,

    /// A file of pages to warm, one path (or URL) per line; `-` reads standard input
    #[arg(long, value_name = "PATHS")]
    pub(crate) file: Option<PathBuf>,

    /// The origin the listed URLs belong to, when it is not the app's (--url) nor the
    /// sitemap's own: URLs of other origins are skipped
    #[arg(long, value_name = "ORIGIN")]
    pub(crate) origin: Option<String>,

    /// Pages requested at once
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u64).range(1..=64))]
    pub(crate) concurrency: u64,
}

/// `isr watch`.
#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    /// Seconds between refreshes (fractions allowed)
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = parse_interval)]
    pub(crate) interval: Duration,

    /// Stop after this many refreshes (default: until interrupted)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) count: Option<u64>,
}

/// A path on the app: starts with `/`.
fn parse_path(value: &str) -> Result<String, String> {
    if value.starts_with('/') {
        Ok(value.to_owned())
    } else {
        Err(format!("{value:?} must start with '/'"))
    }
}

/// A tag: not empty, at most 256 bytes (the app's rule, checked here for a clearer message).
fn parse_tag(value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        Err("a tag must not be empty".to_owned())
    } else if value.len() > 256 {
        Err("a tag is at most 256 bytes".to_owned())
    } else {
        Ok(value.to_owned())
    }
}

/// Seconds, whole or fractional, greater than zero.
fn parse_secs(value: &str) -> Result<Duration, String> {
    let secs: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("{value:?} is not a number of seconds"))?;
    if !(secs > 0.0 && secs <= 86_400.0) {
        return Err(format!(
            "{value:?}: expected more than 0 and at most 86400 seconds"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A refresh interval: at least a tenth of a second, so a live view cannot flood the app.
fn parse_interval(value: &str) -> Result<Duration, String> {
    let interval = parse_secs(value)?;
    if interval < Duration::from_millis(100) {
        return Err(format!("{value:?}: the interval is at least 0.1 seconds"));
    }
    Ok(interval)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_help_lists_the_exit_codes() {
        let help = Cli::command().render_help().to_string();
        assert!(help.contains("Exit codes:"), "{help}");
        assert!(help.contains("3  the app refused the secret"), "{help}");
    }

    #[test]
    fn purge_takes_exactly_one_kind_of_target() {
        let parse = |args: &[&str]| Cli::try_parse_from([&["isr", "purge"], args].concat());
        assert!(parse(&["--tag", "a", "--tag", "b"]).is_ok());
        assert!(parse(&["--path", "/a"]).is_ok());
        assert!(parse(&[]).is_err());
        assert!(parse(&["--path", "/a", "--tag", "b"]).is_err());
        assert!(parse(&["--path", "a"]).is_err());
        assert!(parse(&["--tag", ""]).is_err());
    }

    #[test]
    fn seconds_are_checked() {
        assert_eq!(parse_secs("1.5"), Ok(Duration::from_millis(1500)));
        for bad in ["0", "-1", "soon", "NaN", "inf", "1e9"] {
            assert!(parse_secs(bad).is_err(), "{bad}");
        }
        assert!(parse_interval("0.01").is_err());
        assert!(parse_interval("0.1").is_ok());
    }
}
