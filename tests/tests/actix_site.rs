//! The actix docs site, end to end: prerendered through its app at start-up, then driven over
//! HTTP on tokio's paused clock, like the axum docs site.

use std::time::Duration;

use actix_docs_site::{Site, app};
use docs_site::Config;
use http::Method;
use isr_tests::Server;

const SECRET: &str = "actix-handbook-secret";

async fn eventually(what: &str, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..1_000 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never happened: {what}");
}

#[tokio::test(start_paused = true)]
async fn the_handbook_on_actix() {
    let local = tokio::task::LocalSet::new();
    local.run_until(handbook()).await;
}

async fn handbook() {
    let config = Config::from_vars(|name| match name {
        "DOCS_REVALIDATE" => Some("30".to_owned()),
        "REVALIDATION_SECRET" => Some(SECRET.to_owned()),
        _ => None,
    })
    .unwrap();
    let site = Site::new(config).await.unwrap();
    let report = site.prerender().await;
    assert_eq!((report.rendered, report.failed.len()), (80, 0));
    assert_eq!(site.isr.stats().renders, 80);
    let server = Server::start_actix(app(site.clone())).await;

    // Act 1: prerendered, so the first visitor hits the cache.
    let first = server.get("/docs/getting-started").await;
    assert_eq!((first.status.as_u16(), first.cache()), (200, "HIT"));
    assert!(first.body.contains("rendered-at:"));

    // Acts 2–5: the clock runs out, one visitor gets the old page, the new one lands.
    tokio::time::advance(Duration::from_secs(31)).await;
    let stale = server.get("/docs/getting-started").await;
    assert_eq!(
        (stale.cache(), stale.body.as_str()),
        ("STALE", first.body.as_str())
    );
    eventually("the regenerated guide", async || {
        let got = server.get("/docs/getting-started").await;
        got.cache() == "HIT" && got.body != first.body
    })
    .await;

    // A price change revalidates the product and the home page that features it.
    let home = server.get("/").await;
    assert_eq!(home.cache(), "MISS");
    assert_eq!(server.get("/").await.cache(), "HIT");
    let product = server.get("/products/blue-sneakers").await;
    assert_eq!(product.cache(), "MISS");
    // The handler's `#[revalidate(3600, ..)]` reaches caches in front.
    let cache_control = product.header("cache-control").unwrap();
    assert!(
        cache_control.starts_with("s-maxage=3600"),
        "{cache_control}"
    );
    let headers = [
        ("content-type", "application/json"),
        ("x-revalidate-secret", SECRET),
    ];
    let change = server
        .send(
            Method::PATCH,
            "/api/products/blue-sneakers",
            &headers,
            r#"{"price": 79.5}"#,
        )
        .await;
    assert_eq!(change.status, 200, "{}", change.body);
    let product = server.get("/products/blue-sneakers").await;
    assert_eq!(product.cache(), "MISS");
    assert!(product.body.contains("$79.50"), "{}", product.body);
    let home = server.get("/").await;
    assert_eq!(home.cache(), "MISS");
    assert!(home.body.contains("$79.50"), "{}", home.body);

    // A purge by tag through the purge endpoint.
    let purge = server
        .post_json(
            "/api/revalidate",
            &[("x-revalidate-secret", SECRET)],
            r#"{"tag": "docs"}"#,
        )
        .await;
    assert_eq!(purge.status, 200, "{}", purge.body);
    assert_eq!(server.get("/docs/routing").await.cache(), "MISS");

    // Guide #81, published by the admin call, renders on its first visit.
    let publish = server
        .send(
            Method::POST,
            "/api/guides",
            &headers,
            r#"{"slug": "guide-81", "title": "Guide 81"}"#,
        )
        .await;
    assert_eq!(publish.status, 201, "{}", publish.body);
    let new = server.get("/docs/guide-81").await;
    assert_eq!((new.status.as_u16(), new.cache()), (200, "MISS"));
    // Publishing revalidated the `/docs` layout, which refreshed the prerender list.
    eventually("guide #81 joins the list", async || {
        site.params.is_listed("/docs/guide-81")
    })
    .await;

    // The dashboard is dynamic; bad admin calls are refused.
    let dashboard = server
        .send(
            Method::GET,
            "/dashboard/stats",
            &[("cookie", "user=ada")],
            "",
        )
        .await;
    assert_eq!(
        (dashboard.status.as_u16(), dashboard.cache()),
        (200, "BYPASS")
    );
    assert!(dashboard.body.contains("Stats for ada"));
    let unauthorized = server
        .send(
            Method::PATCH,
            "/api/products/blue-sneakers",
            &[("content-type", "application/json")],
            r#"{"price": 1}"#,
        )
        .await;
    assert_eq!(unauthorized.status, 401);
    let bad = server
        .send(
            Method::PATCH,
            "/api/products/blue-sneakers",
            &headers,
            r#"{"price": -1}"#,
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(server.get("/docs/no-such-guide").await.status, 404);
}
