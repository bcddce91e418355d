//! The handbook, end to end: the docs-site app on an ephemeral port, driven over HTTP, on
//! tokio's paused clock (the clock jumps; nothing sleeps for real).

use std::time::Duration;

use axum::http::Method;
use docs_site::{Config, Site};
use isr_tests::Server;

const SECRET: &str = "handbook-secret";

async fn start(docs_revalidate: u64) -> (Server, Site) {
    let config = Config::from_vars(|name| match name {
        "DOCS_REVALIDATE" => Some(docs_revalidate.to_string()),
        "REVALIDATION_SECRET" => Some(SECRET.to_owned()),
        _ => None,
    })
    .unwrap();
    let site = Site::new(config).await.unwrap();
    let router = site.router();
    let report = site.prerender(router.clone()).await;
    assert_eq!(
        (report.rendered, report.failed.len()),
        (80, 0),
        "all guides prerendered"
    );
    (Server::start(router).await, site)
}

/// `PATCH path` with a JSON body, with or without the admin secret.
async fn patch(server: &Server, path: &str, with_secret: bool, json: &str) -> isr_tests::Got {
    let mut headers = vec![("content-type", "application/json")];
    if with_secret {
        headers.push(("x-revalidate-secret", SECRET));
    }
    server.send(Method::PATCH, path, &headers, json).await
}

async fn advance(secs: u64) {
    tokio::time::advance(Duration::from_secs(secs)).await;
}

/// Lets a background regeneration finish (its content fetch takes 20 ms of paused time).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(50)).await;
}

#[tokio::test(start_paused = true)]
async fn the_five_acts_on_a_prerendered_guide() {
    let (server, site) = start(60).await;

    // Act 1: prerendered at start-up, so even the first visitor gets a HIT.
    let first = server.get("/docs/getting-started").await;
    assert_eq!(first.cache(), "HIT");
    assert!(first.body.contains("<h1>Getting Started</h1>"));
    assert!(first.body.contains("Last updated: "));
    let renders = site.isr.stats().renders;

    // Acts 2 and 3: the clock runs out; the old page is served at once, one render starts.
    advance(61).await;
    let stale = server.get("/docs/getting-started").await;
    assert_eq!(stale.cache(), "STALE");
    assert_eq!(stale.body, first.body);

    // Acts 4 and 5: the render lands; the next visitor gets the new page.
    settle().await;
    let fresh = server.get("/docs/getting-started").await;
    assert_eq!(fresh.cache(), "HIT");
    assert_ne!(fresh.body, first.body, "rendered again, at a later time");
    assert_eq!(site.isr.stats().renders, renders + 1);
}

#[tokio::test(start_paused = true)]
async fn the_webhook_purges_by_tag_and_the_next_visitor_renders() {
    let (server, _) = start(1800).await;
    assert_eq!(server.get("/docs/routing").await.cache(), "HIT");
    let res = server
        .post_json(
            "/api/revalidate",
            &[],
            &format!(r#"{{"tag": "docs", "secret": "{SECRET}"}}"#),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.json()["revalidated"], true);
    assert_eq!(server.get("/docs/routing").await.cache(), "MISS");
    assert_eq!(server.get("/docs/routing").await.cache(), "HIT");
}

#[tokio::test(start_paused = true)]
async fn a_price_change_shows_on_the_product_and_the_home_page() {
    let (server, _) = start(1800).await;
    let product = server.get("/products/blue-sneakers").await;
    assert!(product.body.contains("price: $89.00"), "{}", product.body);
    let home = server.get("/").await;
    assert!(home.body.contains("Blue Sneakers</a> — $89.00"));
    assert_eq!(server.get("/").await.cache(), "HIT");
    assert_eq!(server.get("/products/blue-sneakers").await.cache(), "HIT");

    let res = patch(
        &server,
        "/api/products/blue-sneakers",
        true,
        r#"{"price": 79.5}"#,
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body);

    let product = server.get("/products/blue-sneakers").await;
    assert_eq!(product.cache(), "MISS");
    assert!(product.body.contains("price: $79.50"), "{}", product.body);
    let home = server.get("/").await;
    assert_eq!(home.cache(), "MISS");
    assert!(home.body.contains("Blue Sneakers</a> — $79.50"));
    assert_eq!(
        server.get("/products/red-hat").await.cache(),
        "MISS",
        "first visit"
    );
    assert_eq!(server.get("/products/red-hat").await.cache(), "HIT");
}

#[tokio::test(start_paused = true)]
async fn guide_81_appears_and_joins_the_prerender_list() {
    let (server, site) = start(1800).await;
    assert_eq!(server.get("/docs/guide-81").await.status, 404);
    let res = server
        .post_json(
            "/api/guides",
            &[("authorization", &format!("Bearer {SECRET}"))],
            r#"{"slug": "guide-81", "title": "Guide #81", "body": "New!"}"#,
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let got = server.get("/docs/guide-81").await;
    assert_eq!(
        (got.status.as_u16(), got.cache()),
        (200, "MISS"),
        "the cached 404 was purged"
    );
    assert!(got.body.contains("Guide #81"));
    settle().await;
    assert!(
        site.params.is_listed("/docs/guide-81"),
        "the list was refreshed"
    );
}

fn line<'a>(body: &'a str, prefix: &str) -> &'a str {
    body.lines()
        .find(|l| l.contains(prefix))
        .unwrap_or_else(|| panic!("no {prefix} in {body}"))
}

#[tokio::test(start_paused = true)]
async fn the_dashboard_renders_every_time_but_fetches_once_per_ttl() {
    let (server, _) = start(1800).await; // STATS_REVALIDATE defaults to 300 s
    let get = || {
        server.send(
            Method::GET,
            "/dashboard/stats",
            &[("cookie", "user=ada")],
            "",
        )
    };
    let first = get().await;
    tokio::time::advance(Duration::from_secs(10)).await;
    let second = get().await;
    assert_eq!(second.cache(), "BYPASS");
    assert_ne!(
        line(&first.body, "rendered-at"),
        line(&second.body, "rendered-at")
    );
    assert_eq!(
        line(&first.body, "data-fetched-at"),
        line(&second.body, "data-fetched-at")
    );

    advance(300).await;
    let stale_data = get().await;
    assert_eq!(
        line(&stale_data.body, "data-fetched-at"),
        line(&first.body, "data-fetched-at")
    );
    settle().await;
    let refreshed = get().await;
    assert_ne!(
        line(&refreshed.body, "data-fetched-at"),
        line(&first.body, "data-fetched-at")
    );
}

#[tokio::test(start_paused = true)]
async fn the_dashboard_is_dynamic() {
    let (server, _) = start(1800).await;
    for user in ["ada", "grace"] {
        let got = server
            .send(
                Method::GET,
                "/dashboard/stats",
                &[("cookie", &format!("user={user}"))],
                "",
            )
            .await;
        assert_eq!(got.cache(), "BYPASS");
        assert!(got.body.contains(&format!("Stats for {user}")));
        assert!(got.body.contains("rendered-at: ") && got.body.contains("data-fetched-at: "));
    }
}

#[tokio::test(start_paused = true)]
async fn the_purge_and_admin_routes_refuse_bad_calls() {
    let (server, _) = start(1800).await;
    let res = server
        .post_json(
            "/api/revalidate",
            &[],
            r#"{"tag": "docs", "secret": "nope"}"#,
        )
        .await;
    assert_eq!(
        (res.status.as_u16(), res.body.as_str()),
        (401, r#"{"error":"Unauthorized"}"#)
    );
    let res = server
        .post_json(
            "/api/revalidate",
            &[("x-revalidate-secret", SECRET)],
            r#"{"path": "docs"}"#,
        )
        .await;
    assert_eq!(res.status, 400);
    let res = patch(
        &server,
        "/api/products/blue-sneakers",
        false,
        r#"{"price": 1}"#,
    )
    .await;
    assert_eq!(res.status, 401);
    let res = patch(
        &server,
        "/api/products/blue-sneakers",
        true,
        r#"{"price": -1}"#,
    )
    .await;
    assert_eq!(res.status, 400);
    let res = patch(
        &server,
        "/api/products/no-such-thing",
        true,
        r#"{"price": 1}"#,
    )
    .await;
    assert_eq!(res.status, 404);
    let res = server
        .post_json(
            "/api/guides",
            &[("x-revalidate-secret", SECRET)],
            r#"{"slug": "Bad Slug", "title": "x"}"#,
        )
        .await;
    assert_eq!(res.status, 400);
}

/// Two instances configured as a user would (`ISR_REDIS_CLUSTER_NODES`) on a private Redis
/// Cluster of three masters and three replicas, on the real clock: a page rendered on one is a
/// hit on the other, and a purge sent to one reaches the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_a_redis_cluster_share_pages_and_purges() {
    let cluster = isr_tests::RedisCluster::start().await;
    let nodes = cluster.urls().join(",");
    let instance = async || {
        let config = Config::from_vars(|name| match name {
            "ISR_REDIS_CLUSTER_NODES" => Some(nodes.clone()),
            "REVALIDATION_SECRET" => Some(SECRET.to_owned()),
            _ => None,
        })
        .unwrap();
        assert!(matches!(
            config.store,
            docs_site::StoreChoice::RedisCluster(_)
        ));
        let site = Site::new(config).await.unwrap();
        (Server::start(site.router()).await, site)
    };
    let (a, site_a) = instance().await;
    let (b, site_b) = instance().await;
    let renders = || site_a.isr.stats().renders + site_b.isr.stats().renders;
    let wait = async |what: &str, mut done: Box<dyn FnMut() -> bool + '_>| {
        for _ in 0..3_000 {
            if done() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{what}: not within 30 s");
    };

    assert_eq!(a.get("/products/red-hat").await.cache(), "MISS");
    assert_eq!(b.get("/products/red-hat").await.cache(), "HIT");
    assert_eq!(renders(), 1, "rendered once, on A");

    // Both instances subscribed (asked of the nodes), then one purge sent to A.
    let channel = "docs-site:invalidations";
    let mut subscribed = 0;
    for _ in 0..3_000 {
        subscribed = 0;
        for node in &cluster.nodes {
            if let Ok(redis::Value::Array(counts)) =
                node.query(&["PUBSUB", "NUMSUB", channel]).await
                && let Some(redis::Value::Int(n)) = counts.get(1)
            {
                subscribed += n;
            }
        }
        if subscribed >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(subscribed >= 2, "both instances subscribed: {subscribed}");
    let purged = a
        .post_json(
            "/api/revalidate",
            &[("x-revalidate-secret", SECRET)],
            r#"{"tag": "product-red-hat"}"#,
        )
        .await;
    assert_eq!(purged.status, 200, "{}", purged.body);
    wait(
        "B applied the purge",
        Box::new(|| {
            site_b.isr.revalidator().inspect(100).iter().any(|summary| {
                summary.entry.key() == "/products/red-hat"
                    && summary.state == isr_layer::invalidate::EntryState::Invalidated
            })
        }),
    )
    .await;
    let on_b = b.get("/products/red-hat").await;
    assert_eq!(on_b.cache(), "MISS");
    // A's copy is purged too: it takes B's new render from the cluster rather than render.
    let on_a = a.get("/products/red-hat").await;
    assert_eq!(on_a.body, on_b.body);
    assert_eq!(renders(), 2, "rendered once more after the purge, on B");
    assert_eq!(a.get("/products/red-hat").await.cache(), "HIT");
}
