//! The docs site's `/metrics` (`ISR_METRICS=1`) after traffic: every answer, render, failure
//! and purge is counted under the names the README lists. One test in its own binary: a
//! process has one metrics recorder.

use std::time::Duration;

use axum::http::Method;
use docs_site::{Config, Site};
use isr_tests::{Server, assert_counted, prometheus_series as series};

const SECRET: &str = "metrics-secret";

#[tokio::test(start_paused = true)]
async fn the_metrics_count_what_the_cache_did() {
    let config = Config::from_vars(|name| match name {
        "DOCS_REVALIDATE" => Some("30".to_owned()),
        "REVALIDATION_SECRET" => Some(SECRET.to_owned()),
        "ISR_METRICS" => Some("1".to_owned()),
        _ => None,
    })
    .unwrap();
    let site = Site::new(config).await.unwrap();
    let server = Server::start(site.router()).await;

    // A miss, two hits, a stale answer (one regeneration), a purge and the miss after it.
    assert_eq!(server.get("/docs/getting-started").await.cache(), "MISS");
    assert_eq!(server.get("/docs/getting-started").await.cache(), "HIT");
    assert_eq!(server.get("/docs/getting-started").await.cache(), "HIT");
    tokio::time::advance(Duration::from_secs(31)).await;
    assert_eq!(server.get("/docs/getting-started").await.cache(), "STALE");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let purge = server
        .send(
            Method::POST,
            "/api/revalidate",
            &[
                ("content-type", "application/json"),
                ("x-revalidate-secret", SECRET),
            ],
            r#"{"tag": "product-blue-sneakers", "mode": "stale"}"#,
        )
        .await;
    assert_eq!(purge.status, 200, "{}", purge.body);
    // A dynamic page: bypassed.
    assert_eq!(server.get("/dashboard/stats").await.cache(), "BYPASS");

    let body = &isr_tests::scrape_metrics(&server).await;
    assert_counted(
        body,
        &[
            (r#"isr_requests_total{status="MISS"}"#, 1.0),
            (r#"isr_requests_total{status="HIT"}"#, 2.0),
            (r#"isr_requests_total{status="STALE"}"#, 1.0),
            (r#"isr_requests_total{status="BYPASS"}"#, 1.0),
            // The first render and the regeneration of the guide, and the dashboard's render.
            ("isr_renders_total", 3.0),
            ("isr_failed_renders_total", 0.0),
            (r#"isr_invalidations_total{mode="stale"}"#, 1.0),
            ("isr_store_entries", 1.0),
            // The dashboard's data came through the data cache: one miss, one fetch.
            (r#"isr_data_requests_total{status="miss"}"#, 1.0),
            ("isr_data_fetches_total", 1.0),
        ],
    );
    assert!(series(body, "isr_store_bytes") > 10_000.0, "{body}");
}

#[tokio::test(start_paused = true)]
async fn without_the_variable_there_is_no_metrics_route() {
    let config = Config::from_vars(|name| match name {
        "REVALIDATION_SECRET" => Some(SECRET.to_owned()),
        _ => None,
    })
    .unwrap();
    let site = Site::new(config).await.unwrap();
    let server = Server::start(site.router()).await;
    assert_eq!(server.get("/metrics").await.status, 404);
    assert!(
        Config::from_vars(|name| (name == "ISR_METRICS").then(|| "yes".to_owned())).is_err(),
        "a value other than 0 or 1 is refused"
    );
}
