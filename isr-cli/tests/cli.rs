//! The `isr` binary against the docs-site example, served over real HTTP on loopback: every
//! subcommand, its output and its exit codes.

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use docs_site::{Config, Site};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const SECRET: &str = "cli-test-secret";

/// An app served on an ephemeral loopback port, stopped when dropped.
struct Served {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Served {
    async fn start(router: Router) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self { addr, task }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `x-isr-cache` of a `GET path`.
    async fn cache_of(&self, path: &str) -> String {
        let response = reqwest::get(format!("{}{path}", self.url())).await.unwrap();
        let cache = response.headers()["x-isr-cache"]
            .to_str()
            .unwrap()
            .to_owned();
        response.bytes().await.unwrap();
        cache
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The docs site with its 80 guides prerendered.
async fn docs_site() -> Served {
    let config = Config::from_vars(|name| match name {
        "REVALIDATION_SECRET" => Some(SECRET.to_owned()),
        _ => None,
    })
    .unwrap();
    let site = Site::new(config).await.unwrap();
    let router = site.router();
    let report = site.prerender(router.clone()).await;
    assert_eq!(report.rendered, 80);
    Served::start(router).await
}

/// What one run of `isr` did.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }

    /// Asserts the exit code, showing the output when it differs.
    fn exits(&self, code: i32) -> &Self {
        assert_eq!(self.code, code, "{self:#?}");
        self
    }
}

/// Runs `isr args` against the app at `url` with the right secret (unless `args` says
/// otherwise).
async fn isr(url: &str, args: &[&str]) -> Run {
    isr_with(url, Some(SECRET), args).await
}

async fn isr_with(url: &str, secret: Option<&str>, args: &[&str]) -> Run {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_isr"));
    command
        .args(args)
        .env("ISR_URL", url)
        .env_remove("REVALIDATION_SECRET")
        .kill_on_drop(true);
    if let Some(secret) = secret {
        command.env("REVALIDATION_SECRET", secret);
    }
    let output = command.output().await.unwrap();
    Run {
        code: output.status.code().expect("exited, not killed"),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// A loopback port nothing listens on (bound, then let go).
async fn closed_port() -> String {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// The keys of a `--json` listing, sorted.
fn keys(listing: &serde_json::Value) -> Vec<String> {
    let mut keys: Vec<String> = listing["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap().to_owned())
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn status_prints_the_counters_and_its_json_parses() {
    let app = docs_site().await;
    let run = isr(&app.url(), &["status"]).await;
    run.exits(0);
    let line = |name: &str| {
        run.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("{name} in\n{}", run.stdout))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(
        run.stdout
            .starts_with(&format!("cache of {}/\n", app.url()))
    );
    assert_eq!(line("entries"), "entries 80");
    assert_eq!(line("misses"), "misses 80 MISS");
    assert_eq!(
        line("hit ratio"),
        "hit ratio 0.0% (HIT and STALE over HIT, STALE and MISS)"
    );
    for name in [
        "bytes",
        "hits",
        "stale",
        "bypasses",
        "renders",
        "failed renders",
        "regenerations deferred",
        "invalidations",
        "store errors",
    ] {
        line(name);
    }

    app.cache_of("/docs/getting-started").await;
    let json = isr(&app.url(), &["status", "--json"]).await.exits(0).json();
    assert_eq!(
        (json["entries"].as_u64(), json["hits"].as_u64()),
        (Some(80), Some(1))
    );
    assert!((json["hit_ratio"].as_f64().unwrap() - 1.0 / 81.0).abs() < 1e-9);
}

#[tokio::test]
async fn exit_codes_say_usage_wrong_secret_unreachable_or_server_error() {
    let app = docs_site().await;
    let url = app.url();

    let help = isr(&url, &["--help"]).await;
    help.exits(0);
    assert!(help.stdout.contains("Exit codes:"), "{}", help.stdout);

    // Usage: clap's own errors, and what clap cannot see.
    for args in [
        &[][..],
        &["frobnicate"],
        &["ls", "--limit", "0"],
        &["ls", "--state", "old"],
        &["purge"],
        &["purge", "--path", "docs/a"],
        &["purge", "--path", "/a", "--tag", "b"],
        &["warm"],
        &["watch", "--interval", "0"],
    ] {
        let run = isr(&url, args).await;
        assert_eq!(run.code, 2, "isr {args:?}: {run:#?}");
        assert!(run.stdout.is_empty(), "isr {args:?}: {run:#?}");
    }
    let no_secret = isr_with(&url, None, &["status"]).await;
    no_secret.exits(2);
    assert!(
        no_secret.stderr.contains("REVALIDATION_SECRET"),
        "{no_secret:#?}"
    );
    let bad_url = isr(&url, &["status", "--url", "https://example.com"]).await;
    bad_url.exits(2);
    assert!(bad_url.stderr.contains("plain HTTP"), "{bad_url:#?}");

    // The secret.
    for args in [
        &["status"][..],
        &["ls"],
        &["purge", "--tag", "docs"],
        &["watch", "--count", "1"],
    ] {
        let run = isr_with(&url, Some("wrong"), args).await;
        assert_eq!(run.code, 3, "isr {args:?}: {run:#?}");
        assert!(run.stderr.contains("refused the secret"), "{run:#?}");
    }

    // Nothing listening.
    let closed = closed_port().await;
    for args in [&["status"][..], &["ls"], &["purge", "--path", "/"]] {
        let run = isr(&closed, args).await;
        assert_eq!(run.code, 4, "isr {args:?}: {run:#?}");
        assert!(run.stderr.contains("cannot reach the app"), "{run:#?}");
    }

    // An endpoint that is not the purge endpoint, and an answer the app refuses.
    let wrong = isr(&url, &["status", "--endpoint", "/nowhere"]).await;
    wrong.exits(5);
    assert!(wrong.stderr.contains("404"), "{wrong:#?}");
    let page = isr(&url, &["ls", "--endpoint", "/docs/getting-started"]).await;
    page.exits(5);
    assert!(page.stderr.contains("not JSON"), "{page:#?}");
}

#[tokio::test]
async fn ls_shows_an_aligned_table_or_json_filtered_by_route_and_tag() {
    let app = docs_site().await;
    let run = isr(&app.url(), &["ls", "--route", "/docs", "--limit", "5"]).await;
    run.exits(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 6, "a header and five rows:\n{}", run.stdout);
    let header = lines[0];
    for column in [
        "KEY",
        "ROUTE",
        "STATE",
        "AGE",
        "REVALIDATE",
        "BYTES",
        "TAGS",
    ] {
        assert!(header.contains(column), "{header}");
    }
    let state_at = header.find("STATE").unwrap();
    for row in &lines[1..] {
        assert!(row.starts_with("/docs/"), "{row}");
        assert_eq!(&row[state_at..state_at + 5], "fresh", "aligned: {row}");
        assert!(row.contains("/docs/{slug}") && row.contains("30m") && row.ends_with("docs"));
    }
    assert!(
        run.stderr.contains("5 of 80 matching entries shown"),
        "{run:#?}"
    );

    let json = isr(
        &app.url(),
        &["ls", "--tag", "docs", "--limit", "3", "--json"],
    )
    .await
    .exits(0)
    .json();
    assert_eq!(
        (json["count"].as_u64(), json["matched"].as_u64()),
        (Some(3), Some(80))
    );
    assert_eq!(json["entries"][0]["tags"][0], "docs");
    let none = isr(&app.url(), &["ls", "--tag", "no-such-tag"]).await;
    none.exits(0);
    assert!(none.stdout.is_empty(), "{none:#?}");
    assert!(none.stderr.contains("no entry matches"), "{none:#?}");
}

#[tokio::test]
async fn purge_by_tag_then_ls_shows_the_entry_invalid() {
    let app = docs_site().await;
    let url = app.url();
    for path in ["/products/red-hat", "/products/blue-sneakers"] {
        assert_eq!(app.cache_of(path).await, "MISS");
    }
    let invalid = isr(&url, &["ls", "--state", "invalid", "--json"])
        .await
        .exits(0)
        .json();
    assert_eq!(keys(&invalid), Vec::<String>::new());

    let purged = isr(&url, &["purge", "--tag", "product-red-hat"]).await;
    purged.exits(0);
    assert!(
        purged
            .stdout
            .starts_with("revalidated  pages tagged product-red-hat\n"),
        "{purged:#?}"
    );
    assert!(purged.stdout.contains("mode         expire"), "{purged:#?}");

    let invalid = isr(&url, &["ls", "--state", "invalid", "--json"])
        .await
        .exits(0)
        .json();
    assert_eq!(keys(&invalid), ["/products/red-hat"]);
    let table = isr(&url, &["ls", "--route", "/products"]).await;
    table.exits(0);
    let row = |key: &str| {
        table
            .stdout
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("{key} in {}", table.stdout))
            .to_owned()
    };
    assert!(
        row("/products/red-hat ").contains(" invalid "),
        "{}",
        table.stdout
    );
    assert!(
        row("/products/blue-sneakers ").contains(" fresh "),
        "{}",
        table.stdout
    );
    assert_eq!(
        app.cache_of("/products/red-hat").await,
        "MISS",
        "rendered again"
    );

    // A layout in stale mode, as JSON; a page.
    let layout = isr(&url, &["purge", "--layout", "/docs", "--stale", "--json"])
        .await
        .exits(0)
        .json();
    assert_eq!(
        (layout["type"].as_str(), layout["mode"].as_str()),
        (Some("layout"), Some("stale"))
    );
    let stale = isr(&url, &["ls", "--state", "stale", "--json"])
        .await
        .exits(0)
        .json();
    assert_eq!(
        stale["matched"], 80,
        "every guide is served stale while it regenerates"
    );
    let page = isr(&url, &["purge", "--path", "/products/blue-sneakers"]).await;
    page.exits(0);
    assert!(
        page.stdout.contains("affected     1 cached here"),
        "{page:#?}"
    );
}

#[tokio::test]
async fn warm_from_a_file_turns_every_page_into_a_hit() {
    let app = docs_site().await;
    let pages = [
        "/",
        "/products/red-hat",
        "/products/green-jacket",
        "/products/white-tee",
        "/docs/getting-started",
    ];
    let mut list = String::from("# pages to warm\n\n");
    for page in pages {
        list.push_str(page);
        list.push('\n');
    }
    list.push_str("/products/red-hat\nhttps://elsewhere.example/x\n");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), list).unwrap();
    let path = file.path().to_str().unwrap();

    let run = isr(&app.url(), &["warm", "--file", path, "--concurrency", "2"]).await;
    run.exits(0);
    let counts: Vec<String> = run
        .stdout
        .lines()
        .skip(1)
        .take(5)
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        counts,
        [
            "rendered (MISS) 4",
            "already cached (HIT) 1",
            "already cached (STALE) 0",
            "not cacheable (BYPASS) 0",
            "failed 0",
        ],
        "{run:#?}"
    );
    assert!(
        run.stdout
            .starts_with(&format!("requested 5 pages from {path} in ")),
        "{run:#?}"
    );
    assert!(
        run.stdout.contains("skipped 1 URL of another origin"),
        "{run:#?}"
    );
    assert!(
        run.stderr.is_empty(),
        "no progress bar without a terminal: {run:#?}"
    );
    for page in pages {
        assert_eq!(app.cache_of(page).await, "HIT", "{page}");
    }

    // Standard input works too; everything is cached now.
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_isr"));
    command
        .args(["warm", "--file", "-"])
        .env("ISR_URL", app.url())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stdin, b"/\n/products/red-hat\n")
        .await
        .unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.contains("already cached (HIT)    2"), "{stdout}");
}

#[tokio::test]
async fn warm_from_a_sitemap_turns_every_page_into_a_hit() {
    let app = docs_site().await;
    let pages = [
        "/products/black-boots",
        "/products/yellow-scarf",
        "/docs/routing",
    ];
    let mut xml = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?>
        <urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">"#,
    );
    for page in pages {
        xml.push_str(&format!(
            "<url><loc>{}{page}</loc><lastmod>2024-01-01</lastmod></url>",
            app.url()
        ));
    }
    xml.push_str("<url><loc>https://elsewhere.example/x</loc></url></urlset>");
    let sitemap = Served::start(Router::new().route(
        "/sitemap.xml",
        get(move || {
            let xml = xml.clone();
            async move { ([("content-type", "application/xml")], xml) }
        }),
    ))
    .await;

    let source = format!("{}/sitemap.xml", sitemap.url());
    let run = isr(&app.url(), &["warm", "--sitemap", &source]).await;
    run.exits(0);
    assert!(run.stdout.contains("rendered (MISS)         2"), "{run:#?}");
    assert!(run.stdout.contains("already cached (HIT)    1"), "{run:#?}");
    assert!(
        run.stdout.contains("skipped 1 URL of another origin"),
        "{run:#?}"
    );
    for page in pages {
        assert_eq!(app.cache_of(page).await, "HIT", "{page}");
    }

    // A sitemap file of the public site's URLs, with the origin they belong to.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        r#"<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
             <url><loc>https://docs.example/products/white-tee</loc></url>
             <url><loc>https://docs.example/?utm_source=sitemap</loc></url>
           </urlset>"#,
    )
    .unwrap();
    let path = file.path().to_str().unwrap();
    let without = isr(&app.url(), &["warm", "--sitemap", path]).await;
    without.exits(2);
    assert!(without.stderr.contains("see --origin"), "{without:#?}");
    let with = isr(
        &app.url(),
        &[
            "warm",
            "--sitemap",
            path,
            "--origin",
            "https://docs.example",
        ],
    )
    .await;
    with.exits(0);
    assert!(
        with.stdout.contains("rendered (MISS)         2"),
        "{with:#?}"
    );
    assert_eq!(app.cache_of("/products/white-tee").await, "HIT");
    assert_eq!(app.cache_of("/").await, "HIT");

    // Not a sitemap.
    let html = isr(
        &app.url(),
        &["warm", "--sitemap", &format!("{}/", app.url())],
    )
    .await;
    html.exits(2);
    assert!(html.stderr.contains("not a sitemap"), "{html:#?}");
}

#[tokio::test]
async fn warm_reports_failed_and_uncacheable_pages() {
    let app = docs_site().await;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        "/products/red-hat\n/products/no-such-product\n/dashboard/stats\n",
    )
    .unwrap();
    let path = file.path().to_str().unwrap();
    let run = isr(&app.url(), &["warm", "--file", path]).await;
    run.exits(1);
    assert!(run.stdout.contains("not cacheable (BYPASS)  1"), "{run:#?}");
    assert!(run.stdout.contains("failed                  1"), "{run:#?}");
    assert!(
        run.stdout
            .contains("failed pages:\n  /products/no-such-product  404 Not Found"),
        "{run:#?}"
    );
    assert!(
        run.stderr.contains("1 of 3 pages failed to warm"),
        "{run:#?}"
    );

    let closed = closed_port().await;
    let unreachable = isr(&closed, &["warm", "--file", path]).await;
    unreachable.exits(4);
    assert!(unreachable.stdout.is_empty(), "{unreachable:#?}");

    std::fs::write(file.path(), "/a\nnot a path\n").unwrap();
    let bad = isr(&app.url(), &["warm", "--file", path]).await;
    bad.exits(2);
    assert!(bad.stderr.contains("line 2"), "{bad:#?}");
}

#[tokio::test]
async fn watch_prints_as_many_frames_as_asked() {
    let app = docs_site().await;
    app.cache_of("/docs/getting-started").await;
    let run = isr(&app.url(), &["watch", "--count", "2", "--interval", "0.1"]).await;
    run.exits(0);
    assert_eq!(
        run.stdout.matches("isr watch ").count(),
        2,
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("frame 1/2"), "{}", run.stdout);
    assert!(run.stdout.contains("frame 2/2"), "{}", run.stdout);
    assert!(
        !run.stdout.contains('\x1b'),
        "no screen control without a terminal"
    );
    let frames: Vec<&str> = run.stdout.split("\nisr watch ").collect();
    assert_eq!(frames.len(), 2);
    for frame in &frames {
        for name in ["requests", "hit ratio", "renders", "latest renders"] {
            assert!(frame.contains(name), "{name} in {frame}");
        }
    }
    assert!(frames[0].contains("last -"), "{}", frames[0]);
    assert!(frames[1].contains("last 0."), "{}", frames[1]);
    let hits = |frame: &str| {
        frame
            .lines()
            .find(|l| l.trim_start().starts_with("hits"))
            .map(|l| l.split_whitespace().last().unwrap().to_owned())
    };
    assert_eq!(hits(frames[1]).as_deref(), Some("1"), "{}", frames[1]);
}
