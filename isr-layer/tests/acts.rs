//! The five acts of stale-while-revalidate, and the headers of cached answers.

mod common;

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use common::{Origin, advance, get, request, send, settle};
use http_body_util::Full;
use isr_layer::{IsrLayer, Revalidate};

fn isr(ttl: u64) -> IsrLayer {
    IsrLayer::builder()
        .revalidate(Revalidate::After(Duration::from_secs(ttl)))
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_five_acts_of_stale_while_revalidate() {
    let origin = Origin::new();
    let isr = isr(60);
    let app = origin.behind(&isr);

    // Act 1: the first visitor renders the page; the next one gets it from the cache.
    let first = get(&app, "/docs").await;
    assert_eq!((first.cache(), first.body.as_str()), ("MISS", "/docs v1"));
    let hit = get(&app, "/docs").await;
    assert_eq!((hit.cache(), hit.body.as_str()), ("HIT", "/docs v1"));
    assert_eq!(origin.renders(), 1);

    // Act 2: the clock runs out.
    advance(61).await;

    // Act 3: the visitor after expiry gets the old page at once, and exactly one render starts.
    let stale = get(&app, "/docs").await;
    assert_eq!((stale.cache(), stale.body.as_str()), ("STALE", "/docs v1"));
    let also_stale = get(&app, "/docs").await;
    assert_eq!(also_stale.cache(), "STALE");

    // Act 4: the render finishes and the entry is swapped.
    settle().await;
    assert_eq!(origin.renders(), 2);

    // Act 5: the next visitor gets the new page, fresh.
    let fresh = get(&app, "/docs").await;
    assert_eq!((fresh.cache(), fresh.body.as_str()), ("HIT", "/docs v2"));
    assert_eq!(origin.renders(), 2);

    let stats = isr.stats();
    assert_eq!(
        (stats.hits, stats.stale, stats.misses, stats.renders),
        (2, 2, 1, 2)
    );
    assert_eq!(stats.entries, 1);
}

#[tokio::test(start_paused = true)]
async fn cached_answers_carry_age_etag_and_downstream_cache_control() {
    let origin = Origin::new();
    let app = origin.behind(&isr(60));
    let miss = get(&app, "/").await;
    let etag = miss.header("etag").unwrap().to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "strong etag: {etag}"
    );
    assert_eq!(miss.header("age"), Some("0"));
    assert_eq!(
        miss.header("cache-control"),
        Some("s-maxage=60, stale-while-revalidate=86400")
    );
    assert_eq!(miss.header("content-length"), Some("4"));

    advance(42).await;
    let hit = get(&app, "/").await;
    assert_eq!(hit.header("age"), Some("42"));
    assert_eq!(hit.header("etag"), Some(etag.as_str()));
}

/// The downstream `Cache-Control` is made once per policy and reused while pages of the same
/// policy follow each other: pages of two policies, one after the other, each get their own.
#[tokio::test(start_paused = true)]
async fn pages_of_two_policies_in_turn_each_carry_their_own_cache_control() {
    let origin = Origin::new();
    origin.on_response(|req, res| {
        let secs = if req.uri().path().starts_with("/news") {
            10
        } else {
            60
        };
        res.extensions_mut().insert(Revalidate::secs(secs));
    });
    let app = origin.behind(&isr(60));
    for path in ["/docs/a", "/news/a", "/news/b", "/docs/b", "/news/c"] {
        let expected = if path.starts_with("/news") {
            "s-maxage=10, stale-while-revalidate=86400"
        } else {
            "s-maxage=60, stale-while-revalidate=86400"
        };
        let miss = get(&app, path).await;
        assert_eq!(miss.header("cache-control"), Some(expected), "{path}");
        let hit = get(&app, path).await;
        assert_eq!(hit.header("cache-control"), Some(expected), "{path}");
    }
}

#[tokio::test(start_paused = true)]
async fn downstream_cache_control_can_be_turned_off() {
    let origin = Origin::new();
    origin.on_response(|_, res| {
        res.headers_mut()
            .insert("cache-control", "public, s-maxage=30".parse().unwrap());
    });
    let isr = IsrLayer::builder()
        .downstream_cache_control(false)
        .build()
        .unwrap();
    let app = origin.behind(&isr);
    get(&app, "/").await;
    assert_eq!(
        get(&app, "/").await.header("cache-control"),
        Some("public, s-maxage=30")
    );
}

#[tokio::test(start_paused = true)]
async fn if_none_match_gets_304_without_a_body() {
    let origin = Origin::new();
    let app = origin.behind(&isr(60));
    let etag = get(&app, "/").await.header("etag").unwrap().to_owned();

    let mut req = request("GET", "/");
    req.headers_mut()
        .insert("if-none-match", etag.parse().unwrap());
    let not_modified = send(&app, req).await;
    assert_eq!(not_modified.status, 304);
    assert_eq!(not_modified.body, "");
    assert_eq!(not_modified.cache(), "HIT");
    assert_eq!(not_modified.header("etag"), Some(etag.as_str()));

    let mut req = request("GET", "/");
    req.headers_mut()
        .insert("if-none-match", "\"something-else\"".parse().unwrap());
    let full = send(&app, req).await;
    assert_eq!((full.status.as_u16(), full.body.as_str()), (200, "/ v1"));
    assert_eq!(origin.renders(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_conditional_miss_renders_the_whole_page() {
    let origin = Origin::new();
    origin.on_response(|req, _| {
        assert!(
            !req.headers().contains_key("if-none-match"),
            "conditionals are stripped"
        );
        assert!(!req.headers().contains_key("range"), "ranges are stripped");
    });
    let app = origin.behind(&isr(60));
    let mut req = request("GET", "/");
    req.headers_mut()
        .insert("if-none-match", "\"x\"".parse().unwrap());
    req.headers_mut()
        .insert("range", "bytes=0-1".parse().unwrap());
    let got = send(&app, req).await;
    assert_eq!((got.status.as_u16(), got.cache()), (200, "MISS"));
}

#[tokio::test(start_paused = true)]
async fn a_miss_answers_the_visitors_condition_once_rendered() {
    let origin = Origin::new();
    origin.on_response(|_, res| *res.body_mut() = Full::new(Bytes::from_static(b"unchanged")));
    let isr = isr(60);
    let app = origin.behind(&isr);
    let etag = get(&app, "/").await.header("etag").unwrap().to_owned();
    isr.revalidator().revalidate_path("/").await.unwrap();

    // The page was purged; its new render has the same bytes, so the visitor's copy is current.
    let mut req = request("GET", "/");
    req.headers_mut()
        .insert("if-none-match", etag.parse().unwrap());
    let got = send(&app, req).await;
    assert_eq!(
        (got.status.as_u16(), got.cache(), got.body.as_str()),
        (304, "MISS", "")
    );
    assert_eq!(origin.renders(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_page_the_app_did_not_date_is_last_modified_when_rendered() {
    let origin = Origin::new();
    let app = origin.behind(&isr(60));
    let before = SystemTime::now() - Duration::from_secs(1);
    let got = get(&app, "/").await;
    let after = SystemTime::now() + Duration::from_secs(1);
    let modified = httpdate::parse_http_date(got.header("last-modified").unwrap()).unwrap();
    assert!(
        (before..=after).contains(&modified),
        "{modified:?} is not between {before:?} and {after:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn head_is_answered_from_the_get_entry() {
    let origin = Origin::new();
    origin.on_response(|req, _| assert_eq!(req.method(), "GET", "renders are GETs"));
    let app = origin.behind(&isr(60));

    let head_miss = send(&app, request("HEAD", "/page")).await;
    assert_eq!((head_miss.cache(), head_miss.body.as_str()), ("MISS", ""));
    assert_eq!(head_miss.header("content-length"), Some("8"));

    let get_hit = get(&app, "/page").await;
    assert_eq!(
        (get_hit.cache(), get_hit.body.as_str()),
        ("HIT", "/page v1")
    );
    let head_hit = send(&app, request("HEAD", "/page")).await;
    assert_eq!((head_hit.cache(), head_hit.body.as_str()), ("HIT", ""));
    assert_eq!(origin.renders(), 1);
}

#[tokio::test(start_paused = true)]
async fn revalidate_never_keeps_the_page_until_invalidated() {
    let origin = Origin::new();
    let isr = IsrLayer::builder()
        .revalidate(Revalidate::Never)
        .build()
        .unwrap();
    let app = origin.behind(&isr);
    get(&app, "/").await;
    advance(365 * 86_400).await;
    let hit = get(&app, "/").await;
    assert_eq!(hit.cache(), "HIT");
    assert_eq!(hit.header("cache-control"), Some("s-maxage=31536000"));
    isr.revalidator().revalidate_path("/").await.unwrap();
    let miss = get(&app, "/").await;
    assert_eq!((miss.cache(), miss.body.as_str()), ("MISS", "/ v2"));
}

#[tokio::test(start_paused = true)]
async fn a_cached_404_never_answers_304() {
    let origin = Origin::new();
    origin.on_response(|_, res| *res.status_mut() = http::StatusCode::NOT_FOUND);
    let app = origin.behind(&isr(60));
    get(&app, "/gone").await;
    let mut req = request("GET", "/gone");
    req.headers_mut()
        .insert("if-none-match", "*".parse().unwrap());
    let got = send(&app, req).await;
    assert_eq!((got.status.as_u16(), got.cache()), (404, "HIT"));
}
