//! The actix docs site's `/metrics` (`ISR_METRICS=1`): the same counters as the axum site's,
//! served beside the cache. One test in its own binary: a process has one metrics recorder.

use actix_docs_site::{Site, app};
use docs_site::Config;
use isr_tests::Server;

/// The value of the series `name` (with its labels, as Prometheus prints them), 0 if absent.
fn series(scrape: &str, name: &str) -> f64 {
    scrape
        .lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            (series == name).then(|| value.parse().expect("a number"))
        })
        .unwrap_or(0.0)
}

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

    let scrape = server.get("/metrics").await;
    assert_eq!(scrape.status, 200);
    assert_eq!(scrape.header("cache-control"), Some("no-store"));
    assert!(
        scrape.headers.get("x-isr-cache").is_none(),
        "/metrics is beside the cache"
    );
    let body = &scrape.body;
    assert_eq!(
        series(body, r#"isr_requests_total{status="MISS"}"#),
        1.0,
        "{body}"
    );
    assert_eq!(
        series(body, r#"isr_requests_total{status="HIT"}"#),
        2.0,
        "{body}"
    );
    assert_eq!(
        series(body, r#"isr_requests_total{status="BYPASS"}"#),
        1.0,
        "{body}"
    );
    // The product and the dashboard were rendered; nothing failed.
    assert_eq!(series(body, "isr_renders_total"), 2.0, "{body}");
    assert_eq!(series(body, "isr_failed_renders_total"), 0.0, "{body}");
    assert_eq!(series(body, "isr_store_entries"), 1.0, "{body}");

    // Scrapes are not counted as answers of the cache.
    let again = server.get("/metrics").await;
    assert_eq!(
        series(&again.body, r#"isr_requests_total{status="BYPASS"}"#),
        1.0
    );
}
