//! What is cached and what passes through, keys and their normalisation, and size limits.

mod common;

use std::convert::Infallible;

use bytes::Bytes;
use common::{Origin, get, request, send};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use isr_layer::{IsrLayer, RenderContext, Revalidate, key::QueryMode, store::MemoryStore};
use tower::{Layer, ServiceExt};

fn isr() -> IsrLayer {
    IsrLayer::builder()
        .revalidate(Revalidate::secs(60))
        .build()
        .unwrap()
}

/// Two visits: the second must render again, and both are BYPASS.
async fn never_cached(
    origin: &Origin,
    app: &isr_layer::service::IsrService<common::OriginService>,
) {
    let before = origin.renders();
    assert_eq!(get(app, "/p").await.cache(), "BYPASS");
    assert_eq!(get(app, "/p").await.cache(), "BYPASS");
    assert_eq!(origin.renders(), before + 2);
}

#[tokio::test(start_paused = true)]
async fn responses_for_one_visitor_are_never_cached() {
    for (name, value) in [
        ("set-cookie", "session=abc"),
        ("cache-control", "private, max-age=60"),
        ("cache-control", "no-store"),
        ("cache-control", "no-cache"),
        ("vary", "*"),
    ] {
        let origin = Origin::new();
        origin.on_response(move |_, res| {
            res.headers_mut().insert(name, value.parse().unwrap());
        });
        never_cached(&origin, &origin.behind(&isr())).await;
    }
}

#[tokio::test(start_paused = true)]
async fn only_the_listed_statuses_are_cached() {
    for (status, cached) in [
        (200, true),
        (203, true),
        (301, true),
        (308, true),
        (404, true),
        (410, true),
        (201, false),
        (204, false),
        (302, false),
        (307, false),
        (400, false),
        (403, false),
    ] {
        let origin = Origin::new();
        origin.on_response(move |_, res| *res.status_mut() = StatusCode::from_u16(status).unwrap());
        let app = origin.behind(&isr());
        get(&app, "/p").await;
        let second = get(&app, "/p").await;
        let expected = if cached { "HIT" } else { "BYPASS" };
        assert_eq!(second.cache(), expected, "status {status}");
        assert_eq!(second.status.as_u16(), status);
    }
}

#[tokio::test(start_paused = true)]
async fn other_methods_pass_straight_through() {
    let origin = Origin::new();
    let app = origin.behind(&isr());
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        let got = send(&app, request(method, "/p")).await;
        assert_eq!(got.cache(), "BYPASS", "{method}");
    }
    assert_eq!(get(&app, "/p").await.cache(), "MISS");
}

#[tokio::test(start_paused = true)]
async fn websocket_upgrades_pass_straight_through() {
    let origin = Origin::new();
    let app = origin.behind(&isr());
    let mut req = request("GET", "/ws");
    req.headers_mut()
        .insert("connection", "upgrade".parse().unwrap());
    req.headers_mut()
        .insert("upgrade", "websocket".parse().unwrap());
    assert_eq!(send(&app, req).await.cache(), "BYPASS");
}

fn with_auth(user: &str) -> Request<Full<Bytes>> {
    let mut req = request("GET", "/account");
    req.headers_mut()
        .insert("authorization", format!("Bearer {user}").parse().unwrap());
    req
}

/// The origin answers `hello <Authorization>`, or `hello anonymous` without credentials.
fn greets_by_authorization(origin: &Origin) {
    origin.on_response(|req, res| {
        let who = req
            .headers()
            .get("authorization")
            .map_or("anonymous", |v| v.to_str().unwrap());
        *res.body_mut() = Full::new(Bytes::from(format!("hello {who}")));
    });
}

#[tokio::test(start_paused = true)]
async fn a_page_for_one_user_is_never_served_to_another() {
    let origin = Origin::new();
    greets_by_authorization(&origin);
    let app = origin.behind(&isr());
    let alice = send(&app, with_auth("alice")).await;
    assert_eq!(
        (alice.cache(), alice.body.as_str()),
        ("BYPASS", "hello Bearer alice")
    );
    let bob = send(&app, with_auth("bob")).await;
    assert_eq!(bob.body, "hello Bearer bob");
    let anonymous = get(&app, "/account").await;
    assert_eq!(
        (anonymous.cache(), anonymous.body.as_str()),
        ("MISS", "hello anonymous")
    );
    // The anonymous page is cached, and still not served to a signed-in user.
    let carol = send(&app, with_auth("carol")).await;
    assert_eq!(carol.body, "hello Bearer carol");
    assert_eq!(get(&app, "/account").await.cache(), "HIT");
}

/// Signed-in visitors of one page at the same moment are not coalesced into one render: each
/// renders with its own credentials.
#[tokio::test(start_paused = true)]
async fn signed_in_visitors_at_the_same_moment_each_render_their_own_page() {
    let origin = Origin::new();
    origin.set_delay(std::time::Duration::from_millis(100));
    greets_by_authorization(&origin);
    let app = origin.behind(&isr());
    let (alice, bob) = tokio::join!(send(&app, with_auth("alice")), send(&app, with_auth("bob")));
    assert_eq!(alice.body, "hello Bearer alice");
    assert_eq!(bob.body, "hello Bearer bob");
    assert_eq!(origin.renders(), 2);
}

/// A page another instance stored in a shared tier (here a file store two layers share) is
/// not served to a signed-in visitor either, unless its route opted in.
#[cfg(feature = "fs")]
#[tokio::test]
async fn a_page_from_the_shared_tier_is_not_served_to_a_signed_in_visitor() {
    use isr_layer::store::FsStore;
    let dir = std::env::temp_dir().join(format!(
        "isr-shared-tier-authorization-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let open = || {
        let store = FsStore::builder(&dir).open().unwrap();
        IsrLayer::builder()
            .revalidate(Revalidate::secs(60))
            .store(store)
            .build()
            .unwrap()
    };
    let origin = Origin::new();
    greets_by_authorization(&origin);
    let (first, second) = (open(), open());
    let anonymous = get(&origin.behind(&first), "/account").await;
    assert_eq!(
        (anonymous.cache(), anonymous.body.as_str()),
        ("MISS", "hello anonymous")
    );
    let other = origin.behind(&second);
    let carol = send(&other, with_auth("carol")).await;
    assert_eq!(
        (carol.cache(), carol.body.as_str()),
        ("BYPASS", "hello Bearer carol")
    );
    assert_eq!(origin.renders(), 2);
    // The same page is the other instance's to serve from the shared tier without credentials.
    let shared = get(&other, "/account").await;
    assert_eq!(
        (shared.cache(), shared.body.as_str()),
        ("HIT", "hello anonymous")
    );
    assert_eq!(origin.renders(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(start_paused = true)]
async fn a_route_may_opt_in_to_caching_with_authorization() {
    let origin = Origin::new();
    origin.on_response(|req, _| {
        req.extensions()
            .get::<RenderContext>()
            .unwrap()
            .allow_authorization();
    });
    let app = origin.behind(&isr());
    assert_eq!(send(&app, with_auth("alice")).await.cache(), "MISS");
    let bob = send(&app, with_auth("bob")).await;
    assert_eq!((bob.cache(), bob.body.as_str()), ("HIT", "/account v1"));

    // RFC 9111 §3.5: `Cache-Control: public` is the same opt-in for any service.
    let origin = Origin::new();
    origin.on_response(|_, res| {
        res.headers_mut()
            .insert("cache-control", "public".parse().unwrap());
    });
    let app = origin.behind(&isr());
    send(&app, with_auth("alice")).await;
    assert_eq!(send(&app, with_auth("bob")).await.cache(), "HIT");
}

/// Pages answer in the visitor's `Accept-Language` and say so with `Vary`.
fn varies_by_language(origin: &Origin) {
    origin.on_response(|req, res| {
        let lang = req
            .headers()
            .get("accept-language")
            .map_or("none", |v| v.to_str().unwrap());
        *res.body_mut() = Full::new(Bytes::from(format!("lang={lang}")));
        res.headers_mut()
            .insert("vary", "Accept-Language".parse().unwrap());
    });
}

/// `GET target` with one header.
fn get_with(target: &str, name: &'static str, value: &str) -> Request<Full<Bytes>> {
    let mut req = request("GET", target);
    req.headers_mut().insert(name, value.parse().unwrap());
    req
}

fn in_language(target: &str, lang: &'static str) -> Request<Full<Bytes>> {
    get_with(target, "accept-language", lang)
}

#[tokio::test(start_paused = true)]
async fn vary_headers_key_separate_variants() {
    let origin = Origin::new();
    varies_by_language(&origin);
    let app = origin.behind(&isr());
    let lang = |l: &'static str| send(&app, in_language("/", l));
    assert_eq!(lang("en").await.body, "lang=en");
    assert_eq!(lang("de").await.body, "lang=de");
    let en = lang("en").await;
    assert_eq!((en.cache(), en.body.as_str()), ("HIT", "lang=en"));
    let de = lang("de").await;
    assert_eq!((de.cache(), de.body.as_str()), ("HIT", "lang=de"));
    assert_eq!(origin.renders(), 2);
}

#[tokio::test(start_paused = true)]
async fn spellings_of_one_page_share_one_entry_and_the_service_sees_the_canonical_one() {
    let origin = Origin::new();
    let app = origin.behind(&isr());
    assert_eq!(get(&app, "/b").await.cache(), "MISS");
    for spelling in ["/a/../b", "//b", "/%62", "/./b", "/a/%2E%2E/b"] {
        assert_eq!(get(&app, spelling).await.cache(), "HIT", "{spelling}");
    }
    // An encoded slash is another page: it never lands on /b's entry.
    let encoded = get(&app, "/%2Fb").await;
    assert_eq!(encoded.cache(), "MISS");
    assert_eq!(origin.seen(), ["/b", "/%2Fb"]);

    // A first visit spelled oddly is answered from a render of the canonical path, which is
    // not stored: a router in front of the cache may have routed the spelling instead.
    let odd = get(&app, "/x/./y//z").await;
    assert_eq!((odd.cache(), odd.body.as_str()), ("BYPASS", "/x/y/z v3"));
    assert_eq!(origin.seen().last().unwrap(), "/x/y/z");
    assert_eq!(get(&app, "/x/y/z").await.cache(), "MISS");
    assert_eq!(get(&app, "/x//y/z").await.cache(), "HIT");
}

/// `Router::layer` puts the cache *after* axum's routing: the router saw `/docs//a` (no such
/// route, 404) before the cache could rewrite it to `/docs/a`. That 404 must never be stored
/// under `/docs/a`'s key.
#[tokio::test(start_paused = true)]
async fn a_spelling_routed_before_the_cache_cannot_poison_the_canonical_page() {
    use axum::Router;
    use axum::routing::get as route;
    let isr = isr();
    let app: Router = Router::new()
        .route("/docs/{slug}", route(|| async { "the guide" }))
        .layer(isr.clone());
    let send = |target: &'static str| {
        let app = app.clone();
        async move {
            let response = app
                .oneshot(
                    Request::get(target)
                        .body(axum::body::Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            let cache = response.headers()["x-isr-cache"]
                .to_str()
                .unwrap()
                .to_owned();
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (
                status.as_u16(),
                cache,
                String::from_utf8(body.to_vec()).unwrap(),
            )
        }
    };
    for spelling in ["/docs//a", "/docs/./a", "/docs/x/../a"] {
        let (status, cache, _) = send(spelling).await;
        assert_eq!((status, cache.as_str()), (404, "BYPASS"), "{spelling}");
    }
    assert_eq!(
        send("/docs/a").await,
        (200, "MISS".into(), "the guide".into())
    );
    assert_eq!(
        send("/docs/a").await,
        (200, "HIT".into(), "the guide".into())
    );
    // Once the canonical page is stored, every spelling gets it.
    assert_eq!(
        send("/docs//a").await,
        (200, "HIT".into(), "the guide".into())
    );
}

#[tokio::test(start_paused = true)]
async fn query_modes_decide_which_queries_share_an_entry() {
    let origin = Origin::new();
    let sorted = IsrLayer::builder()
        .query_mode(QueryMode::Sorted)
        .build()
        .unwrap();
    let app = origin.behind(&sorted);
    get(&app, "/s?b=2&a=1").await;
    assert_eq!(get(&app, "/s?a=1&b=2").await.cache(), "HIT");
    assert_eq!(origin.seen(), ["/s?a=1&b=2"]);

    let origin = Origin::new();
    let allow = IsrLayer::builder()
        .query_mode(QueryMode::allow_list(["page"]))
        .build()
        .unwrap();
    let app = origin.behind(&allow);
    get(&app, "/list?page=2&utm_source=mail").await;
    assert_eq!(get(&app, "/list?utm_source=ad&page=2").await.cache(), "HIT");
    assert_eq!(get(&app, "/list?page=3").await.cache(), "MISS");
    assert_eq!(
        origin.seen(),
        ["/list?page=2", "/list?page=3"],
        "unkeyed params never reach the page"
    );

    let origin = Origin::new();
    let full = IsrLayer::builder()
        .query_mode(QueryMode::Full)
        .build()
        .unwrap();
    let app = origin.behind(&full);
    get(&app, "/f?b=2&a=1").await;
    assert_eq!(get(&app, "/f?a=1&b=2").await.cache(), "MISS");
}

#[tokio::test(start_paused = true)]
async fn compressed_pages_say_they_vary_on_accept_encoding_once() {
    let origin = Origin::new();
    origin.on_response(|req, res| {
        *res.body_mut() = Full::new(Bytes::from("<p>a page worth compressing</p>\n".repeat(100)));
        res.headers_mut()
            .insert("content-type", "text/html".parse().unwrap());
        if req.uri().path() == "/says-so" {
            res.headers_mut()
                .insert("vary", "Accept-Encoding".parse().unwrap());
        }
    });
    let app = origin.behind(&isr());
    for path in ["/plain", "/says-so"] {
        for accept in ["br", "identity"] {
            let mut req = request("GET", path);
            req.headers_mut()
                .insert("accept-encoding", accept.parse().unwrap());
            let got = send(&app, req).await;
            let vary: Vec<_> = got.headers.get_all("vary").iter().collect();
            assert_eq!(vary.len(), 1, "{path} {accept}: {vary:?}");
            assert!(
                vary[0]
                    .to_str()
                    .unwrap()
                    .eq_ignore_ascii_case("accept-encoding"),
                "{path} {accept}: {vary:?}"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn tracking_parameters_never_make_an_entry_or_a_render() {
    for mode in [
        QueryMode::Full,
        QueryMode::Sorted,
        QueryMode::allow_list(["page"]),
    ] {
        let origin = Origin::new();
        let isr = IsrLayer::builder()
            .query_mode(mode.clone())
            .tracking_param("campaign_ref")
            .build()
            .unwrap();
        let app = origin.behind(&isr);
        for i in 0..100 {
            let target = match i % 5 {
                0 => format!("/docs/a?fbclid=IwAR{i}"),
                1 => format!("/docs/a?utm_source=news&utm_medium=mail&utm_campaign=c{i}"),
                2 => format!("/docs/a?gclid={i}&_ga=2.{i}"),
                3 => format!("/docs/a?UTM_Source=x{i}&campaign_ref={i}"),
                _ => format!("/docs/a?msclkid={i}&srsltid={i}&ttclid={i}"),
            };
            let got = get(&app, &target).await;
            assert_eq!(
                got.cache(),
                if i == 0 { "MISS" } else { "HIT" },
                "{mode:?} {target}"
            );
        }
        assert_eq!(origin.renders(), 1, "{mode:?}");
        assert_eq!(
            origin.seen(),
            ["/docs/a"],
            "{mode:?}: the page never sees them"
        );
        assert_eq!(isr.stats().entries, 1, "{mode:?}");

        // Other parameters keep their place; only the tracking ones go.
        get(&app, "/docs/b?page=2&fbclid=x").await;
        assert_eq!(origin.seen().last().unwrap(), "/docs/b?page=2", "{mode:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn over_long_and_malformed_targets_bypass_without_panicking() {
    let origin = Origin::new();
    let isr = IsrLayer::builder().max_key_bytes(64).build().unwrap();
    let app = origin.behind(&isr);
    let long = format!("/{}", "a".repeat(100));
    assert_eq!(get(&app, &long).await.cache(), "BYPASS");
    assert_eq!(get(&app, "/bad%zzescape").await.cache(), "BYPASS");
}

/// A body that arrives in chunks, with no length known in advance.
struct Chunked(std::collections::VecDeque<Bytes>);

impl http_body::Body for Chunked {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        std::task::Poll::Ready(self.0.pop_front().map(|b| Ok(http_body::Frame::data(b))))
    }
}

#[tokio::test(start_paused = true)]
async fn bodies_over_the_limit_stream_through_untouched() {
    let isr = IsrLayer::builder().max_body_bytes(1000).build().unwrap();
    let svc = tower::service_fn(|req: Request<Full<Bytes>>| async move {
        let n = if req.uri().path() == "/small" { 2 } else { 3 };
        let chunks = (0..n).map(|i| Bytes::from(vec![b'a' + i; 400])).collect();
        Ok::<_, Infallible>(Response::new(Chunked(chunks)))
    });
    let app = isr.layer(svc);
    for _ in 0..2 {
        let res = app.clone().oneshot(request("GET", "/big")).await.unwrap();
        assert_eq!(res.headers()["x-isr-cache"], "BYPASS");
        let body = res.into_body().collect().await.unwrap().to_bytes();
        let expected: Vec<u8> = [vec![b'a'; 400], vec![b'b'; 400], vec![b'c'; 400]].concat();
        assert_eq!(body, expected, "every byte arrives, in order");
    }
    let res = app.clone().oneshot(request("GET", "/small")).await.unwrap();
    assert_eq!(res.headers()["x-isr-cache"], "MISS");
    let res = app.oneshot(request("GET", "/small")).await.unwrap();
    assert_eq!(res.headers()["x-isr-cache"], "HIT");
}

#[tokio::test(start_paused = true)]
async fn the_memory_store_evicts_by_bytes() {
    let origin = Origin::new();
    origin.on_response(|_, res| *res.body_mut() = Full::new(Bytes::from(vec![b'p'; 10_000])));
    let isr = IsrLayer::builder()
        .store(MemoryStore::new(100_000))
        .build()
        .unwrap();
    let app = origin.behind(&isr);
    for i in 0..50 {
        get(&app, &format!("/page/{i}")).await;
    }
    let stats = isr.stats();
    assert!(stats.bytes <= 100_000, "held {} bytes", stats.bytes);
    assert!(
        stats.entries < 50 && stats.entries > 0,
        "held {} entries",
        stats.entries
    );
}

#[tokio::test(start_paused = true)]
async fn a_declared_length_over_the_limit_is_not_read_at_all() {
    let origin = Origin::new();
    origin.on_response(|_, res| {
        *res.body_mut() = Full::new(Bytes::from(vec![b'z'; 5000]));
        res.headers_mut()
            .insert("content-length", "5000".parse().unwrap());
    });
    let isr = IsrLayer::builder().max_body_bytes(1000).build().unwrap();
    let app = origin.behind(&isr);
    let response = app.clone().oneshot(request("GET", "/big")).await.unwrap();
    assert_eq!(response.headers()["x-isr-cache"], "BYPASS");
    // Untouched: the inner body itself, with its exact length (a body the cache had started
    // reading would come back as a replay of unknown length).
    assert_eq!(
        http_body::Body::size_hint(response.body()).exact(),
        Some(5000)
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body.len(), 5000);
}

#[tokio::test(start_paused = true)]
async fn a_huge_varying_header_value_is_not_cached() {
    let origin = Origin::new();
    origin.on_response(|_, res| {
        res.headers_mut().insert("vary", "x-theme".parse().unwrap());
    });
    let isr = IsrLayer::builder().max_key_bytes(256).build().unwrap();
    let app = origin.behind(&isr);
    let huge = "t".repeat(1000);
    for _ in 0..2 {
        let mut req = request("GET", "/themed");
        req.headers_mut().insert("x-theme", huge.parse().unwrap());
        let got = send(&app, req).await;
        assert_eq!((got.status.as_u16(), got.cache()), (200, "BYPASS"));
    }
    let mut req = request("GET", "/themed");
    req.headers_mut().insert("x-theme", "dark".parse().unwrap());
    assert_eq!(send(&app, req).await.cache(), "MISS");
    assert_eq!(isr.stats().entries, 1);
}

#[tokio::test(start_paused = true)]
async fn a_waiter_never_gets_another_variant_of_a_page() {
    let origin = Origin::new();
    origin.set_delay(std::time::Duration::from_millis(50));
    varies_by_language(&origin);
    let app = origin.behind(&isr());
    let visit = |lang: &'static str| tokio::spawn(send(&app, in_language("/cold", lang)));
    // The first visitor leads the render; the others arrive before anyone knows the page varies.
    let (en, de, fr) = (visit("en"), visit("de"), visit("fr"));
    assert_eq!(en.await.unwrap().body, "lang=en");
    assert_eq!(de.await.unwrap().body, "lang=de");
    assert_eq!(fr.await.unwrap().body, "lang=fr");
}

#[tokio::test(start_paused = true)]
async fn the_apps_own_last_modified_is_served_and_compared() {
    // The application dates its page itself: that date is served, and `If-Modified-Since`
    // is compared with it (RFC 9110 §13.1.3); `If-None-Match` takes precedence (§13.2.2).
    const DATE: &str = "Wed, 21 Oct 2015 07:28:00 GMT";
    const SECOND_BEFORE: &str = "Wed, 21 Oct 2015 07:27:59 GMT";
    let origin = Origin::new();
    origin.on_response(|_, res| {
        res.headers_mut()
            .insert(http::header::LAST_MODIFIED, DATE.parse().unwrap());
    });
    let app = origin.behind(&isr());
    let first = get(&app, "/dated").await;
    assert_eq!(first.cache(), "MISS");
    assert_eq!(first.header("last-modified"), Some(DATE));
    let etag = first.header("etag").unwrap().to_owned();

    let same = send(&app, get_with("/dated", "if-modified-since", DATE)).await;
    assert_eq!(same.status, StatusCode::NOT_MODIFIED);
    assert_eq!(same.cache(), "HIT");
    let later = send(
        &app,
        get_with(
            "/dated",
            "if-modified-since",
            "Thu, 22 Oct 2015 00:00:00 GMT",
        ),
    )
    .await;
    assert_eq!(later.status, StatusCode::NOT_MODIFIED);
    let before = send(&app, get_with("/dated", "if-modified-since", SECOND_BEFORE)).await;
    assert_eq!(
        before.status,
        StatusCode::OK,
        "changed since a second before its date"
    );
    assert_eq!(before.header("last-modified"), Some(DATE));
    assert_eq!(before.body, first.body);

    let mut other_tag = get_with("/dated", "if-none-match", "\"another\"");
    other_tag
        .headers_mut()
        .insert(http::header::IF_MODIFIED_SINCE, DATE.parse().unwrap());
    assert_eq!(
        send(&app, other_tag).await.status,
        StatusCode::OK,
        "If-None-Match decides when both are sent"
    );
    let same_tag = send(&app, get_with("/dated", "if-none-match", &etag)).await;
    assert_eq!(same_tag.status, StatusCode::NOT_MODIFIED);
    assert_eq!(origin.renders(), 1);
}
