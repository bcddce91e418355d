//! `#[revalidate]` on actix-web handlers, at run time: the revalidate time, the tags and the
//! declared query parameters and cookies reach the cache. On tokio's paused clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::ServiceResponse;
use actix_web::{App, test, web};
use isr_actix_adapter::{Isr, IsrActix, ScopePolicy, revalidate};
use isr_layer::{IsrLayer, IsrPolicyLayer, Revalidate};

type Renders = web::Data<Arc<AtomicUsize>>;

#[revalidate(40, tags = ["attributed"])]
async fn attributed(renders: Renders, slug: web::Path<String>) -> String {
    renders.fetch_add(1, Ordering::SeqCst);
    format!("guide {slug}")
}

#[revalidate(never)]
async fn forever(renders: Renders) -> &'static str {
    renders.fetch_add(1, Ordering::SeqCst);
    "forever"
}

#[revalidate(0)]
async fn dynamic(renders: Renders) -> &'static str {
    renders.fetch_add(1, Ordering::SeqCst);
    "dynamic"
}

/// Declares `page` and `theme` without reading them: the declaration alone keys the page.
#[revalidate(60, query = ["page"], cookies = ["theme"])]
async fn keyed(renders: Renders) -> &'static str {
    renders.fetch_add(1, Ordering::SeqCst);
    "keyed"
}

#[revalidate(60, query = ["page"], cookies = ["theme"])]
async fn posts(isr: Isr, renders: Renders, request: actix_web::HttpRequest) -> String {
    renders.fetch_add(1, Ordering::SeqCst);
    format!(
        "page {:?} theme {:?} render query {:?}",
        isr.query_param("page"),
        isr.cookie("theme"),
        request.uri().query()
    )
}

/// The attribute with the handler's own `web::Query`: a `ScopePolicy` around the route
/// declares `page` and gives it back to the request before the extractors run.
#[revalidate(60)]
async fn scoped(
    renders: Renders,
    query: web::Query<std::collections::HashMap<String, String>>,
) -> String {
    renders.fetch_add(1, Ordering::SeqCst);
    format!("page {:?}", query.get("page"))
}

/// What a visitor got: status, `x-isr-cache`, `cache-control` and body.
#[derive(Debug)]
struct Got {
    cache: String,
    cache_control: Option<String>,
    body: String,
}

async fn visit<S, B>(app: &S, path: &str, cookie: Option<&str>) -> Got
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: MessageBody,
{
    let mut request = test::TestRequest::get().uri(path);
    if let Some(cookie) = cookie {
        request = request.insert_header(("cookie", cookie));
    }
    let response = test::call_service(app, request.to_request()).await;
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (cache, cache_control) = (header("x-isr-cache").unwrap(), header("cache-control"));
    let body = test::read_body(response).await;
    Got {
        cache,
        cache_control,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

/// Runs `scenario` with an app of the attributed handlers under an `IsrActix` whose default
/// revalidate is an hour, and its render counter.
async fn with_app<F, Fut>(scenario: F)
where
    F: FnOnce(IsrLayer, Arc<AtomicUsize>) -> Fut,
    Fut: Future<Output = ()>,
{
    tokio::task::LocalSet::new()
        .run_until(async {
            let isr = IsrLayer::builder()
                .revalidate(Revalidate::secs(3600))
                .build()
                .unwrap();
            scenario(isr, Arc::new(AtomicUsize::new(0))).await;
        })
        .await;
}

macro_rules! app {
    ($isr:expr, $renders:expr) => {
        test::init_service(
            App::new()
                .app_data(web::Data::new(Arc::clone(&$renders)))
                .route("/docs/{slug}", web::get().to(attributed))
                .route("/forever", web::get().to(forever))
                .route("/dynamic", web::get().to(dynamic))
                .route("/keyed", web::get().to(keyed))
                .route("/posts", web::get().to(posts))
                .route(
                    "/scoped",
                    web::get().to(scoped).wrap(ScopePolicy::new(
                        IsrPolicyLayer::tagged(["scoped"]).query_params(["page"]),
                    )),
                )
                .wrap(IsrActix::new($isr.clone())),
        )
        .await
    };
}

#[tokio::test(start_paused = true)]
async fn the_attribute_sets_the_revalidate_time_and_the_tags() {
    with_app(|isr, renders| async move {
        let app = app!(isr, renders);
        let first = visit(&app, "/docs/a", None).await;
        assert_eq!(
            (first.cache.as_str(), first.body.as_str()),
            ("MISS", "guide a")
        );
        let cache_control = first.cache_control.unwrap();
        assert!(cache_control.starts_with("s-maxage=40"), "{cache_control}");

        // Fresh for 40 s, then stale: the attribute's 40 beat the layer's hour.
        tokio::time::advance(Duration::from_secs(39)).await;
        assert_eq!(visit(&app, "/docs/a", None).await.cache, "HIT");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(visit(&app, "/docs/a", None).await.cache, "STALE");

        // A purge of the attribute's tag reaches the page.
        visit(&app, "/docs/b", None).await;
        assert_eq!(visit(&app, "/docs/b", None).await.cache, "HIT");
        isr.revalidator()
            .revalidate_tag("attributed")
            .await
            .unwrap();
        assert_eq!(visit(&app, "/docs/b", None).await.cache, "MISS");

        let forever = visit(&app, "/forever", None).await;
        assert_eq!(forever.cache, "MISS");
        // `never` does not lift the layer's hour: the lowest revalidate wins.
        let cache_control = forever.cache_control.unwrap();
        assert!(
            cache_control.starts_with("s-maxage=3600"),
            "{cache_control}"
        );
        for _ in 0..2 {
            assert_eq!(visit(&app, "/dynamic", None).await.cache, "BYPASS");
        }
        assert_eq!(renders.load(Ordering::SeqCst), 2 + 2 + 1 + 2);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn the_attribute_s_declared_query_and_cookies_key_the_page() {
    with_app(|isr, renders| async move {
        let app = app!(isr, renders);
        assert_eq!(visit(&app, "/keyed?page=1", None).await.cache, "MISS");
        assert_eq!(visit(&app, "/keyed?page=1&x=2", None).await.cache, "HIT");
        assert_eq!(visit(&app, "/keyed?page=2", None).await.cache, "MISS");
        assert_eq!(
            visit(&app, "/keyed?page=2", Some("theme=dark")).await.cache,
            "MISS"
        );
        assert_eq!(
            visit(&app, "/keyed?page=2", Some("session=a; theme=dark"))
                .await
                .cache,
            "HIT"
        );
        assert_eq!(renders.load(Ordering::SeqCst), 3);

        // The handler reads the declared names through its own `Isr`; nothing undeclared
        // reaches the render.
        let dark = visit(&app, "/posts?x=1&page=2", Some("session=a; theme=dark")).await;
        assert_eq!(dark.cache, "MISS");
        assert_eq!(
            dark.body,
            "page Some(\"2\") theme Some(\"dark\") render query None"
        );
        let again = visit(&app, "/posts?page=2&y=3", Some("theme=dark; session=b")).await;
        assert_eq!((again.cache.as_str(), again.body), ("HIT", dark.body));
        assert_eq!(
            visit(&app, "/posts?page=3", Some("theme=dark")).await.cache,
            "MISS"
        );
        assert_eq!(renders.load(Ordering::SeqCst), 3 + 2);

        let scoped = visit(&app, "/scoped?x=1&page=2", None).await;
        assert_eq!(
            (scoped.cache.as_str(), scoped.body.as_str()),
            ("MISS", "page Some(\"2\")")
        );
        assert!(scoped.cache_control.unwrap().starts_with("s-maxage=60"));
        assert_eq!(visit(&app, "/scoped?page=2", None).await.cache, "HIT");
        let none = visit(&app, "/scoped?x=3", None).await;
        assert_eq!(
            (none.cache.as_str(), none.body.as_str()),
            ("MISS", "page None")
        );
        assert_eq!(renders.load(Ordering::SeqCst), 3 + 2 + 2);
    })
    .await;
}
