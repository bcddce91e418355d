//! The actix docs site's `/metrics` (`ISR_METRICS=1`): the same counters as the axum site's,
//! served beside the cache. One test in its own binary: a process has one metrics recorder.

use actix_docs_site::{Site, app};
use docs_site::Config;
use isr_tests::{Server, assert_counted, prometheus_series as series};

#[tokio::test(start_paused = true)]
async fn the_actix_site_counts_what_the_cache_did() {
    let local = tokio::task::LocalSet::new();
    local.run_until(scenario()).await;
}

async fn scenario() {
    let config = Config::from_vars(|name| match name {
        "REVALIDATION_SECRET" => Some("actix-metrics-secret".to_owned()),
        "ISR_METRICS" => Some("1".to_owned()),
        _ => None,
    })
    .unwrap();
    let site = Site::new(config).await.unwrap();
    let server = Server::start_actix(app(site.clone())).await;

    // An unlisted guide would 404 under dynamic params, so a product: a miss, then two hits.
    assert_eq!(server.get("/products/blue-sneakers").await.cache(), "MISS");
    assert_eq!(server.get("/products/blue-sneakers").await.cache(), "HIT");
    assert_eq!(server.get("/products/blue-sneakers").await.cache(), "HIT");
    assert_eq!(server.get("/dashboard/stats").await.cache(), "BYPASS");

    let body = isr_tests::scrape_metrics(&server).await;
    assert_counted(
        &body,
        &[
            (r#"isr_requests_total{status="MISS"}"#, 1.0),
            (r#"isr_requests_total{status="HIT"}"#, 2.0),
            (r#"isr_requests_total{status="BYPASS"}"#, 1.0),
            // The product and the dashboard were rendered; nothing failed.
            ("isr_renders_total", 2.0),
            ("isr_failed_renders_total", 0.0),
            ("isr_store_entries", 1.0),
        ],
    );

    // Scrapes are not counted as answers of the cache.
    let again = server.get("/metrics").await;
    assert_eq!(
        series(&again.body, r#"isr_requests_total{status="BYPASS"}"#),
        1.0
    );
}
