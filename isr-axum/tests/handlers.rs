//! Policies and tags from handlers, through a real axum router, on the paused clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{Request, StatusCode};
use axum::response::Html;
use axum::routing::get;
use http_body_util::BodyExt;
use isr_axum::{
    Isr, IsrLayer, IsrPolicyLayer, ParamSet, Revalidate, StaticParams, Tags, revalidate,
};
use tower::ServiceExt;

async fn visit(app: &Router, path: &str) -> (StatusCode, String, String) {
    let res = app
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let cache = res
        .headers()
        .get("x-isr-cache")
        .map_or("-".to_owned(), |v| v.to_str().unwrap().to_owned());
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, cache, String::from_utf8(body.to_vec()).unwrap())
}

async fn cache_of(app: &Router, path: &str) -> String {
    visit(app, path).await.1
}

/// Seconds until `path` is first served STALE.
async fn freshness(app: &Router, path: &str) -> u64 {
    assert_eq!(cache_of(app, path).await, "MISS");
    for second in 1..=4000 {
        tokio::time::advance(Duration::from_secs(1)).await;
        if cache_of(app, path).await == "STALE" {
            return second;
        }
    }
    panic!("never stale");
}

fn layer(default: u64) -> IsrLayer {
    IsrLayer::builder()
        .revalidate(Revalidate::secs(default))
        .build()
        .unwrap()
}

async fn with_extractor(isr: Isr) -> &'static str {
    isr.revalidate(Duration::from_secs(20));
    isr.tag("extracted");
    "extracted"
}

async fn with_parts() -> (Revalidate, Tags, Html<&'static str>) {
    (Revalidate::secs(30), Tags::new(["parts"]), Html("parts"))
}

#[revalidate(40, tags = ["attributed"])]
async fn with_attribute(Path(slug): Path<String>) -> String {
    slug
}

#[revalidate(0)]
async fn attribute_dynamic() -> &'static str {
    "dynamic"
}

fn app(isr: &IsrLayer) -> Router {
    Router::new()
        .route("/extractor", get(with_extractor))
        .route("/parts", get(with_parts))
        .route("/attribute/{slug}", get(with_attribute))
        .route("/dynamic", get(attribute_dynamic))
        .layer(isr.clone())
}

#[tokio::test(start_paused = true)]
async fn extractor_parts_and_attribute_set_the_policy() {
    let isr = layer(3600);
    let app = app(&isr);
    assert_eq!(freshness(&app, "/extractor").await, 20);
    assert_eq!(freshness(&app, "/parts").await, 30);
    assert_eq!(freshness(&app, "/attribute/x").await, 40);
    assert_eq!(cache_of(&app, "/dynamic").await, "BYPASS");
    assert_eq!(cache_of(&app, "/dynamic").await, "BYPASS");
}

#[tokio::test(start_paused = true)]
async fn extractor_parts_and_attribute_set_tags() {
    let isr = layer(3600);
    let app = app(&isr);
    for (path, tag) in [
        ("/extractor", "extracted"),
        ("/parts", "parts"),
        ("/attribute/y", "attributed"),
    ] {
        visit(&app, path).await;
        assert_eq!(cache_of(&app, path).await, "HIT");
        isr.revalidator().revalidate_tag(tag).await.unwrap();
        assert_eq!(cache_of(&app, path).await, "MISS", "{tag} reached {path}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_lowest_revalidate_wins_between_layout_and_handler() {
    let isr = layer(3600);
    let products = Router::new()
        .route("/slow", get(with_attribute_like(300)))
        .route("/fast", get(with_attribute_like(15)))
        .layer(IsrPolicyLayer::revalidate(60));
    let app = Router::new().nest("/products", products).layer(isr);
    assert_eq!(
        freshness(&app, "/products/slow").await,
        60,
        "layout lower than handler"
    );
    assert_eq!(
        freshness(&app, "/products/fast").await,
        15,
        "handler lower than layout"
    );
}

fn with_attribute_like(
    secs: u64,
) -> impl Fn() -> std::future::Ready<(Revalidate, &'static str)> + Clone {
    move || std::future::ready((Revalidate::secs(secs), "product"))
}

#[tokio::test(start_paused = true)]
async fn a_dynamic_layout_makes_its_whole_subtree_bypass() {
    let isr = layer(3600);
    let dashboard = Router::new()
        .route("/stats", get(|| async { "stats" }))
        .route("/users", get(with_parts))
        .layer(IsrPolicyLayer::dynamic());
    let app = Router::new()
        .route("/", get(|| async { "home" }))
        .nest("/dashboard", dashboard)
        .layer(isr);
    for path in ["/dashboard/stats", "/dashboard/users"] {
        assert_eq!(cache_of(&app, path).await, "BYPASS");
        assert_eq!(cache_of(&app, path).await, "BYPASS");
    }
    assert_eq!(cache_of(&app, "/").await, "MISS");
    assert_eq!(cache_of(&app, "/").await, "HIT");
}

#[tokio::test(start_paused = true)]
async fn the_extractor_without_a_layer_changes_nothing() {
    let app = Router::new().route("/extractor", get(with_extractor));
    let (status, cache, body) = visit(&app, "/extractor").await;
    assert_eq!(
        (status, cache.as_str(), body.as_str()),
        (StatusCode::OK, "-", "extracted")
    );

    let inactive = Router::new().route(
        "/probe",
        get(|isr: Isr| async move {
            if isr.is_active() {
                "active"
            } else {
                "inactive"
            }
        }),
    );
    assert_eq!(visit(&inactive, "/probe").await.2, "inactive");
    let active = inactive.layer(layer(60));
    assert_eq!(visit(&active, "/probe").await.2, "active");
}

/// A docs router whose handler counts its calls, with static params for three guides.
fn docs(
    calls: Arc<AtomicUsize>,
    dynamic_params: bool,
    fail: Option<&'static str>,
) -> (Router, StaticParams, IsrLayer) {
    let params = StaticParams::new()
        .route("/docs/{slug}", || async {
            Ok(["getting-started", "routing", "caching"]
                .into_iter()
                .map(|s| vec![("slug".to_owned(), s.to_owned())])
                .collect::<Vec<ParamSet>>())
        })
        .unwrap()
        .dynamic_params(dynamic_params);
    let isr = layer(3600);
    let handler = move |Path(slug): Path<String>| {
        calls.fetch_add(1, Ordering::SeqCst);
        async move {
            if Some(slug.as_str()) == fail {
                return Err((StatusCode::INTERNAL_SERVER_ERROR, "broken"));
            }
            Ok(format!("guide {slug}"))
        }
    };
    let app = Router::new()
        .route("/docs/{slug}", get(handler))
        .layer(params.layer())
        .layer(isr.clone());
    (app, params, isr)
}

#[tokio::test(start_paused = true)]
async fn prerender_renders_every_listed_path_exactly_once() {
    let calls = Arc::new(AtomicUsize::new(0));
    let (app, params, isr) = docs(calls.clone(), true, None);
    assert_eq!(params.generate().await, 3);
    let report = params.prerender(app.clone(), 2).await;
    assert_eq!((report.rendered, report.failed.len()), (3, 0));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    for slug in ["getting-started", "routing", "caching"] {
        assert_eq!(cache_of(&app, &format!("/docs/{slug}")).await, "HIT");
    }
    // A second prerender (e.g. a restart with a persistent store) renders nothing still good.
    let again = params.prerender(app, 2).await;
    assert_eq!(again.rendered, 3);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(isr.stats().renders, 3);
}

#[tokio::test(start_paused = true)]
async fn prerender_reports_failures_without_aborting() {
    let calls = Arc::new(AtomicUsize::new(0));
    let (app, params, _) = docs(calls.clone(), true, Some("routing"));
    params.generate().await;
    let report = params.prerender(app.clone(), 8).await;
    assert_eq!(report.rendered, 2);
    assert_eq!(
        report.failed,
        vec![("/docs/routing".to_owned(), "status 500".to_owned())]
    );
    assert_eq!(cache_of(&app, "/docs/caching").await, "HIT");
}

#[tokio::test(start_paused = true)]
async fn dynamic_params_false_answers_404_without_calling_the_handler() {
    let calls = Arc::new(AtomicUsize::new(0));
    let (app, params, _) = docs(calls.clone(), false, None);
    params.generate().await;
    let (status, _, _) = visit(&app, "/docs/not-a-guide").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, cache, _) = visit(&app, "/docs/not-a-guide").await;
    assert_eq!(
        (status, cache.as_str()),
        (StatusCode::NOT_FOUND, "HIT"),
        "the 404 is cached"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert_eq!(visit(&app, "/docs/routing").await.0, StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn dynamic_params_true_renders_an_unlisted_path_once_then_caches_it() {
    let calls = Arc::new(AtomicUsize::new(0));
    let (app, params, _) = docs(calls.clone(), true, None);
    params.generate().await;
    assert_eq!(visit(&app, "/docs/brand-new").await.1, "MISS");
    assert_eq!(visit(&app, "/docs/brand-new").await.1, "HIT");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn the_list_is_refreshed_when_its_layout_is_revalidated() {
    let guides = Arc::new(std::sync::Mutex::new(vec!["a".to_owned()]));
    let source = guides.clone();
    let params = StaticParams::new()
        .route("/docs/{slug}", move || {
            let list = source.lock().unwrap().clone();
            async move {
                Ok(list
                    .into_iter()
                    .map(|s| vec![("slug".to_owned(), s)])
                    .collect())
            }
        })
        .unwrap()
        .dynamic_params(false);
    params.generate().await;
    let isr = layer(3600);
    let _refresher = params.refresh_on_revalidation(&isr.revalidator());
    assert!(!params.is_listed("/docs/b"));

    guides.lock().unwrap().push("b".to_owned());
    isr.revalidator().revalidate_tag("unrelated").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert!(
        !params.is_listed("/docs/b"),
        "a tag does not cover the layout"
    );
    isr.revalidator()
        .revalidate_path_scoped(
            "/docs",
            isr_axum::PathScope::Layout,
            isr_axum::InvalidationMode::Expire,
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert!(params.is_listed("/docs/b"));
}

#[revalidate(60, query = ["page"], cookies = ["theme"])]
async fn with_declared(
    axum::extract::Query(query): axum::extract::Query<std::collections::HashMap<String, String>>,
    headers: axum::http::HeaderMap,
) -> String {
    let cookie = headers
        .get("cookie")
        .map(|v| v.to_str().unwrap().to_owned());
    let mut query: Vec<_> = query.into_iter().collect();
    query.sort();
    format!("query {query:?} cookie {cookie:?}")
}

/// `#[revalidate(.., query = [..], cookies = [..])]`: the handler's own `Query` and headers see
/// the declared names (and nothing else), and each value is a page of its own.
#[tokio::test(start_paused = true)]
async fn the_attribute_gives_the_handler_its_declared_query_and_cookies() {
    let renders = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&renders);
    let app = Router::new()
        .route("/posts", get(with_declared))
        .layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                counted.fetch_add(1, Ordering::SeqCst);
                next.run(request)
            },
        ))
        .layer(layer(3600));
    let send = |target: &'static str, cookie: &'static str| {
        let app = app.clone();
        async move {
            let res = app
                .oneshot(
                    Request::get(target)
                        .header("cookie", cookie)
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            let cache = res.headers()["x-isr-cache"].to_str().unwrap().to_owned();
            let body = res.into_body().collect().await.unwrap().to_bytes();
            (cache, String::from_utf8(body.to_vec()).unwrap())
        }
    };
    let dark = "query [(\"page\", \"2\")] cookie Some(\"theme=dark\")";
    assert_eq!(
        send("/posts?x=1&page=2", "session=a; theme=dark").await,
        ("MISS".to_owned(), dark.to_owned())
    );
    assert_eq!(
        send("/posts?page=2&y=3", "theme=dark; session=b").await,
        ("HIT".to_owned(), dark.to_owned())
    );
    assert_eq!(send("/posts?page=3", "theme=dark").await.0, "MISS");
    assert_eq!(send("/posts?page=2", "theme=light").await.0, "MISS");
    assert_eq!(renders.load(Ordering::SeqCst), 3);
}
