//! The purge router over real HTTP: the handbook's webhook flow and every response code.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::Path;
use axum::http::Method;
use axum::response::IntoResponse;
use axum::routing::get;
use isr_axum::{CacheTags, IsrLayer, PurgeAuth, Revalidate, purge_router};
use isr_tests::Server;

const SECRET: &str = "test-secret-0123456789";

/// A small site: products tagged per product and `all-products`, docs under `/docs`.
async fn site() -> (Server, Arc<AtomicUsize>) {
    let renders = Arc::new(AtomicUsize::new(0));
    let counter = renders.clone();
    let product = move |Path(slug): Path<String>| {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            let tags = CacheTags::new([format!("product-{slug}"), "all-products".to_owned()]);
            let mut res = format!("{slug} render {n}").into_response();
            res.extensions_mut().insert(tags);
            res
        }
    };
    let counter = renders.clone();
    let doc = move |Path(slug): Path<String>| {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        async move { format!("doc {slug} render {n}") }
    };
    let isr = IsrLayer::builder()
        .revalidate(Revalidate::never())
        .build()
        .unwrap();
    let app = Router::new()
        .route("/products/{slug}", get(product))
        .route("/docs/{slug}", get(doc))
        .layer(isr.clone())
        .nest(
            "/api/revalidate",
            purge_router(isr.revalidator(), PurgeAuth::new(SECRET).unwrap()),
        );
    (Server::start(app).await, renders)
}

#[tokio::test]
async fn the_webhook_flow_purges_by_tag_path_and_layout() {
    let (server, _) = site().await;
    for path in [
        "/products/blue-sneakers",
        "/products/red-hat",
        "/docs/a",
        "/docs/b",
    ] {
        assert_eq!(server.get(path).await.cache(), "MISS");
        assert_eq!(server.get(path).await.cache(), "HIT");
    }

    // The CMS changed a product: the handbook's `{"tag": ..., "secret": ...}`.
    let res = server
        .post_json(
            "/api/revalidate",
            &[],
            &format!(r#"{{"tag": "product-blue-sneakers", "secret": "{SECRET}"}}"#),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let json = res.json();
    assert_eq!(json["revalidated"], true);
    assert!(json["now"].as_u64().unwrap() > 1_700_000_000_000);
    let got = server.get("/products/blue-sneakers").await;
    assert_eq!(got.cache(), "MISS");
    assert_eq!(server.get("/products/red-hat").await.cache(), "HIT");

    // A path, with the secret as a bearer token.
    let auth = format!("Bearer {SECRET}");
    let res = server
        .post_json(
            "/api/revalidate",
            &[("authorization", &auth)],
            r#"{"path": "/docs/a"}"#,
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(server.get("/docs/a").await.cache(), "MISS");
    assert_eq!(server.get("/docs/b").await.cache(), "HIT");

    // A layout, with the secret in x-revalidate-secret.
    let res = server
        .post_json(
            "/api/revalidate",
            &[("x-revalidate-secret", SECRET)],
            r#"{"path": "/docs", "type": "layout"}"#,
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(server.get("/docs/a").await.cache(), "MISS");
    assert_eq!(server.get("/docs/b").await.cache(), "MISS");

    // Several tags at once.
    let res = server
        .post_json(
            "/api/revalidate",
            &[("x-revalidate-secret", SECRET)],
            r#"{"tags": ["all-products"]}"#,
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(server.get("/products/red-hat").await.cache(), "MISS");
}

#[tokio::test]
async fn stale_mode_serves_the_old_page_while_it_regenerates() {
    let (server, renders) = site().await;
    server.get("/products/x").await;
    let res = server
        .post_json(
            "/api/revalidate",
            &[("x-revalidate-secret", SECRET)],
            r#"{"tag": "product-x", "mode": "stale"}"#,
        )
        .await;
    assert_eq!(
        (res.status.as_u16(), res.json()["mode"].as_str()),
        (200, Some("stale"))
    );
    let got = server.get("/products/x").await;
    assert_eq!((got.cache(), got.body.as_str()), ("STALE", "x render 1"));
    // That visit started one background regeneration, which lands: the next visitors get the
    // new page as a HIT, and nothing renders again.
    let mut landed = None;
    for _ in 0..500 {
        let got = server.get("/products/x").await;
        if got.cache() == "HIT" {
            landed = Some(got.body);
            break;
        }
        assert_eq!(got.cache(), "STALE", "stale until the regeneration lands");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(
        landed.as_deref(),
        Some("x render 2"),
        "the regeneration landed"
    );
    assert_eq!(
        renders.load(Ordering::SeqCst),
        2,
        "exactly one regeneration"
    );
}

#[tokio::test]
async fn a_missing_or_wrong_secret_is_401_and_purges_nothing() {
    let (server, renders) = site().await;
    server.get("/products/x").await;
    for (headers, body) in [
        (vec![], r#"{"tag": "product-x"}"#.to_owned()),
        (
            vec![],
            r#"{"tag": "product-x", "secret": "wrong"}"#.to_owned(),
        ),
        (
            vec![("authorization", "Bearer wrong")],
            r#"{"tag": "product-x"}"#.to_owned(),
        ),
        (
            vec![("x-revalidate-secret", "")],
            r#"{"tag": "product-x"}"#.to_owned(),
        ),
        (
            vec![("x-revalidate-secret", "wrong")],
            format!(r#"{{"tag": "product-x", "secret": "{SECRET}"}}"#),
        ),
    ] {
        let res = server.post_json("/api/revalidate", &headers, &body).await;
        assert_eq!(res.status, 401, "{headers:?} {body}");
        assert_eq!(res.body, r#"{"error":"Unauthorized"}"#);
    }
    assert_eq!(server.get("/products/x").await.cache(), "HIT");
    assert_eq!(renders.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn bad_requests_get_400_with_a_message() {
    let (server, _) = site().await;
    let auth = [("x-revalidate-secret", SECRET)];
    for (body, expect) in [
        ("{not json", "malformed JSON"),
        (r#"{}"#, "nothing to revalidate"),
        (r#"{"tag": ""}"#, "tag must not be empty"),
        (r#"{"tags": []}"#, "tags must not be empty"),
        (r#"{"tags": ["ok", ""]}"#, "tag must not be empty"),
        (
            &format!(r#"{{"tag": "{}"}}"#, "t".repeat(257)),
            "longer than 256 bytes",
        ),
        (
            &format!(r#"{{"tag": "{}"}}"#, "é".repeat(200)),
            "longer than 256 bytes",
        ),
        (r#"{"path": "docs/a"}"#, "must start with '/'"),
        (r#"{"path": "/a", "tag": "b"}"#, "only one of"),
        (r#"{"path": "/a", "type": "folder"}"#, "unknown type"),
        (
            r#"{"tag": "a", "type": "layout"}"#,
            "goes with \"path\" only",
        ),
        (r#"{"tag": "a", "mode": "later"}"#, "unknown mode"),
        (r#"{"tag": "a", "colour": "red"}"#, "unknown field"),
        (r#"{"tag": 7}"#, "malformed JSON"),
    ] {
        let res = server.post_json("/api/revalidate", &auth, body).await;
        assert_eq!(res.status, 400, "{body}: {}", res.body);
        let message = res.json()["error"].as_str().unwrap().to_owned();
        assert!(message.contains(expect), "{body}: {message}");
    }
}

#[tokio::test]
async fn oversize_wrong_type_and_wrong_method_are_refused() {
    let (server, _) = site().await;
    let auth = [("x-revalidate-secret", SECRET)];
    let huge = format!(r#"{{"tag": "a", "pad": "{}"}}"#, "x".repeat(70 * 1024));
    let res = server.post_json("/api/revalidate", &auth, &huge).await;
    assert_eq!(res.status, 413, "{}", res.body);

    let res = server
        .send(
            Method::POST,
            "/api/revalidate",
            &[
                ("x-revalidate-secret", SECRET),
                ("content-type", "text/plain"),
            ],
            r#"{"tag": "a"}"#,
        )
        .await;
    assert_eq!(res.status, 415, "{}", res.body);

    for method in [Method::PUT, Method::DELETE, Method::PATCH] {
        let res = server
            .send(method.clone(), "/api/revalidate", &auth, "")
            .await;
        assert_eq!(res.status, 405, "{method}");
        assert_eq!(res.header("allow"), Some("GET, POST"));
    }
}

#[tokio::test]
async fn the_inspect_endpoint_lists_entries_behind_the_same_secret() {
    let (server, _) = site().await;
    server.get("/products/blue-sneakers").await;
    server.get("/docs/a").await;
    assert_eq!(server.get("/api/revalidate").await.status, 401);
    assert_eq!(server.get("/api/revalidate?secret=wrong").await.status, 401);

    let res = server
        .send(
            Method::GET,
            "/api/revalidate?limit=10",
            &[("x-revalidate-secret", SECRET)],
            "",
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let json = res.json();
    assert_eq!(json["count"], 2);
    assert_eq!(res.header("cache-control"), Some("no-store, private"));
    let product = json["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["key"] == "/products/blue-sneakers")
        .expect("listed");
    assert_eq!(product["state"], "fresh");
    assert_eq!(product["status"], 200);
    assert_eq!(product["revalidate"], false);
    assert_eq!(product["tags"][0], "product-blue-sneakers");
    assert!(product["bytes"].as_u64().unwrap() > 0);

    server
        .post_json(
            "/api/revalidate",
            &[("x-revalidate-secret", SECRET)],
            r#"{"tag": "all-products"}"#,
        )
        .await;
    let json = server
        .get(&format!("/api/revalidate?secret={SECRET}&limit=1"))
        .await
        .json();
    assert_eq!(json["count"], 1, "the limit applies");
    let json = server
        .get(&format!("/api/revalidate?secret={SECRET}"))
        .await
        .json();
    let states: Vec<_> = json["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["key"].as_str().unwrap().to_owned(),
                e["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        states.contains(&("/products/blue-sneakers".into(), "invalid".into())),
        "{states:?}"
    );
    assert!(
        states.contains(&("/docs/a".into(), "fresh".into())),
        "{states:?}"
    );
}

#[tokio::test]
async fn the_purge_endpoint_answers_stats_and_filtered_listings() {
    let (server, _) = site().await;
    for path in ["/products/blue-sneakers", "/products/red-hat", "/docs/a"] {
        assert_eq!(server.get(path).await.cache(), "MISS");
    }
    assert_eq!(server.get("/docs/a").await.cache(), "HIT");
    let secret = [("x-revalidate-secret", SECRET)];
    let read = |query: &'static str| {
        let server = &server;
        async move {
            let got = server
                .send(
                    Method::GET,
                    &format!("/api/revalidate?{query}"),
                    &secret,
                    "",
                )
                .await;
            assert_eq!(got.status, 200, "{query}: {}", got.body);
            assert_eq!(got.header("cache-control"), Some("no-store, private"));
            got.json()
        }
    };

    let stats = read("view=stats").await;
    assert_eq!(stats["entries"], 3, "{stats}");
    assert_eq!(
        (stats["hits"].as_u64(), stats["misses"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(stats["hit_ratio"], 0.25);
    assert_eq!(stats["renders"], 3);
    assert!(stats["bytes"].as_u64().unwrap() > 0);
    assert_eq!(
        server.get("/api/revalidate?view=stats").await.status,
        401,
        "the stats are behind the secret too"
    );

    server
        .post_json("/api/revalidate", &secret, r#"{"tag": "product-red-hat"}"#)
        .await;
    let keys = |listing: &serde_json::Value| {
        let mut keys: Vec<String> = listing["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["key"].as_str().unwrap().to_owned())
            .collect();
        keys.sort();
        keys
    };
    let invalid = read("state=invalid").await;
    assert_eq!(keys(&invalid), ["/products/red-hat"]);
    assert_eq!(invalid["entries"][0]["state"], "invalid");
    assert_eq!(invalid["matched"], 1);
    assert_eq!(
        keys(&read("state=fresh").await),
        ["/docs/a", "/products/blue-sneakers"]
    );
    assert_eq!(
        keys(&read("tag=all-products").await),
        ["/products/blue-sneakers", "/products/red-hat"]
    );
    assert_eq!(keys(&read("route=/docs").await), ["/docs/a"]);
    let one = read("route=/products&limit=1").await;
    assert_eq!(
        (one["count"].as_u64(), one["matched"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(read("view=stats").await["invalidations"], 1);

    let bad = server
        .send(Method::GET, "/api/revalidate?sort=name", &secret, "")
        .await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.json()["error"]
            .as_str()
            .unwrap()
            .contains("unknown sort")
    );
}

#[test]
fn an_empty_secret_is_a_build_time_error() {
    assert!(PurgeAuth::new("").is_err());
    assert!(PurgeAuth::new("   ").is_err());
    assert!(PurgeAuth::from_env("ISR_TEST_SURELY_UNSET_VARIABLE").is_err());
}
