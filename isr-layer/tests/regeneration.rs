//! Background regenerations at their edges: `HEAD` and conditional requests on a stale page,
//! a purge that lands while a regeneration runs, a regeneration whose body outgrew the limit,
//! and `Vary` with a header absent, empty or repeated.

mod common;

use std::time::Duration;

use common::{Origin, advance, get, request, send, settle};
use isr_layer::{IsrLayer, Revalidate};

fn isr() -> IsrLayer {
    IsrLayer::builder()
        .revalidate(Revalidate::secs(10))
        .max_body_bytes(1000)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn head_on_a_stale_page_answers_at_once_and_starts_one_regeneration() {
    let origin = Origin::new();
    let isr = isr();
    let app = origin.behind(&isr);
    assert_eq!(get(&app, "/a").await.body, "/a v1");
    advance(11).await;

    let head = send(&app, request("HEAD", "/a")).await;
    assert_eq!((head.cache(), head.body.as_str()), ("STALE", ""));
    assert_eq!(head.header("content-length"), Some("5"));
    settle().await;
    assert_eq!(origin.renders(), 2, "the HEAD started one regeneration");
    let got = get(&app, "/a").await;
    assert_eq!((got.cache(), got.body.as_str()), ("HIT", "/a v2"));
}

#[tokio::test(start_paused = true)]
async fn a_conditional_request_on_a_stale_page_gets_304_and_starts_one_regeneration() {
    let origin = Origin::new();
    let isr = isr();
    let app = origin.behind(&isr);
    let first = get(&app, "/a").await;
    let etag = first.header("etag").unwrap().to_owned();
    advance(11).await;

    for method in ["GET", "HEAD"] {
        let mut req = request(method, "/a");
        req.headers_mut()
            .insert("if-none-match", etag.parse().unwrap());
        let got = send(&app, req).await;
        assert_eq!(
            (got.status.as_u16(), got.cache()),
            (304, "STALE"),
            "{method}"
        );
        assert_eq!(got.header("etag"), Some(etag.as_str()));
    }
    settle().await;
    assert_eq!(origin.renders(), 2, "one regeneration for both");
    // The new page has a new tag: the old one no longer matches.
    let mut req = request("GET", "/a");
    req.headers_mut()
        .insert("if-none-match", etag.parse().unwrap());
    let got = send(&app, req).await;
    assert_eq!((got.status.as_u16(), got.body.as_str()), (200, "/a v2"));
}

#[tokio::test(start_paused = true)]
async fn a_purge_during_a_background_regeneration_is_not_lost() {
    let origin = Origin::new();
    let isr = isr();
    let app = origin.behind(&isr);
    get(&app, "/a").await;
    advance(11).await;

    origin.set_delay(Duration::from_secs(2));
    assert_eq!(get(&app, "/a").await.cache(), "STALE");
    settle().await; // the regeneration is rendering (v2) for the next 2 s
    isr.revalidator().revalidate_path("/a").await.unwrap();
    origin.set_delay(Duration::ZERO);
    advance(3).await;
    settle().await;
    assert_eq!(origin.renders(), 2, "the regeneration landed");

    // It started before the purge: it is not served as fresh.
    let got = get(&app, "/a").await;
    assert_eq!((got.cache(), got.body.as_str()), ("MISS", "/a v3"));
    assert_eq!(get(&app, "/a").await.cache(), "HIT");
}

#[tokio::test(start_paused = true)]
async fn a_regeneration_whose_body_outgrew_the_limit_stops_caching_the_page() {
    let origin = Origin::new();
    let isr = isr();
    let app = origin.behind(&isr);
    get(&app, "/a").await;
    origin.on_response(|_, res| {
        *res.body_mut() = http_body_util::Full::new(bytes::Bytes::from(vec![b'z'; 5000]));
    });

    // In the background, after the page went stale...
    advance(11).await;
    assert_eq!(get(&app, "/a").await.body, "/a v1");
    settle().await;
    assert_eq!(origin.renders(), 2);
    // ...the page is no longer kept: visitors get what the application sends now, not the
    // last cached copy.
    let got = get(&app, "/a").await;
    assert_eq!((got.cache(), got.body.len()), ("BYPASS", 5000));
    assert_eq!(isr.stats().entries, 0);

    // After a purge, the visitor who renders gets the large page itself.
    let origin = Origin::new();
    let purged = self::isr();
    let app = origin.behind(&purged);
    get(&app, "/b").await;
    purged.revalidator().revalidate_path("/b").await.unwrap();
    origin.on_response(|_, res| {
        *res.body_mut() = http_body_util::Full::new(bytes::Bytes::from(vec![b'z'; 5000]));
    });
    let got = get(&app, "/b").await;
    assert_eq!((got.cache(), got.body.len()), ("BYPASS", 5000));
    assert_eq!(
        purged.stats().entries,
        0,
        "the purged copy is not kept either"
    );
}

#[tokio::test(start_paused = true)]
async fn vary_tells_an_absent_header_from_an_empty_one_and_reads_repeats_as_one_list() {
    let origin = Origin::new();
    origin.on_response(|_, res| {
        res.headers_mut().insert("vary", "x-theme".parse().unwrap());
    });
    let isr = isr();
    let app = origin.behind(&isr);
    let with = |values: &[&str]| {
        let mut req = request("GET", "/v");
        for value in values {
            req.headers_mut().append("x-theme", value.parse().unwrap());
        }
        send(&app, req)
    };
    assert_eq!(with(&[]).await.cache(), "MISS");
    assert_eq!(with(&[]).await.cache(), "HIT");
    assert_eq!(with(&[""]).await.cache(), "MISS", "empty is not absent");
    assert_eq!(with(&[""]).await.cache(), "HIT");
    assert_eq!(with(&["dark, wide"]).await.cache(), "MISS");
    assert_eq!(
        with(&["dark", "wide"]).await.cache(),
        "HIT",
        "two lines are one list"
    );
    assert_eq!(with(&["dark ,wide"]).await.cache(), "HIT");
    assert_eq!(origin.renders(), 3);
}
