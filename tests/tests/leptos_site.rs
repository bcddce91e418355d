//! The Leptos example over real HTTP: a Leptos 0.8 app (out-of-order streaming and async
//! routes) behind the ISR layer goes MISS → HIT → STALE → HIT like any other service.
//!
//! Leptos and its resources run on real time, so the revalidate is 1 s and the tests poll (in
//! bounded loops) for the moment a page turns stale and for the regenerated page; nothing
//! asserts on how long anything took.

use std::time::Duration;

use isr_layer::{IsrLayer, Revalidate};
use isr_tests::{Got, Server};
use leptos_site::Site;

/// How often, and how many times at most, a test asks again while it waits.
const POLL_EVERY: Duration = Duration::from_millis(20);
const POLLS: usize = 200;

async fn start() -> (Server, Site, IsrLayer) {
    let isr = IsrLayer::builder()
        .revalidate(Revalidate::secs(1))
        .build()
        .unwrap();
    // The address is only what Leptos is told; the server binds its own ephemeral port.
    let site = Site::new(([127, 0, 0, 1], 0).into());
    let server = Server::start(site.app(Some(&isr))).await;
    (server, site, isr)
}

/// `GET path` until `done` says so, at most [`POLLS`] times.
async fn poll(server: &Server, path: &str, what: &str, done: impl Fn(&Got) -> bool) -> Got {
    for _ in 0..POLLS {
        let got = server.get(path).await;
        if done(&got) {
            return got;
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
    panic!("{path}: still no {what} after {POLLS} tries");
}

/// The render number a page shows (`render #N`).
fn render_number(got: &Got) -> u64 {
    let (_, rest) = got
        .body
        .split_once("render #")
        .unwrap_or_else(|| panic!("no render number in {}", got.body));
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap()
}

/// MISS, then HIT with the same body, then (past the revalidate) STALE with the old body, then
/// HIT with a new render. Returns the first and the regenerated page.
async fn lifecycle(server: &Server, path: &str) -> (Got, Got) {
    let miss = server.get(path).await;
    assert_eq!(miss.status, 200, "{path}: {}", miss.body);
    assert_eq!(miss.cache(), "MISS", "{path}");
    assert!(
        miss.header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "{path}: {:?}",
        miss.headers
    );

    // A request that arrives while the render is still being stored waits for it and is
    // answered as a MISS with the same page; the next ones are HITs.
    let hit = poll(server, path, "HIT", |got| {
        assert_eq!(
            got.body, miss.body,
            "{path}: the render is served as it was stored"
        );
        got.cache() == "HIT"
    })
    .await;
    assert_eq!(hit.body, miss.body, "{path}: a HIT repeats the render");

    let stale = poll(server, path, "STALE", |got| got.cache() != "HIT").await;
    assert_eq!(stale.cache(), "STALE", "{path}");
    assert_eq!(stale.body, miss.body, "{path}: STALE serves the old page");

    let fresh = poll(server, path, "regenerated HIT", |got| {
        got.cache() == "HIT" && got.body != miss.body
    })
    .await;
    assert!(
        render_number(&fresh) > render_number(&miss),
        "{path}: the regeneration is a new render"
    );
    (miss, fresh)
}

/// One render for the MISS and one regeneration, counted by the site and by the cache.
/// (Visitors who came while the page was being stored waited for it: they count as MISS
/// answers, not renders.)
fn rendered_once_and_regenerated_once(site: &Site, isr: &IsrLayer) {
    assert_eq!(
        site.renders(),
        2,
        "one render for the MISS, one regeneration"
    );
    let stats = isr.stats();
    assert_eq!(stats.renders, 2);
    assert!(stats.misses >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_async_route_goes_miss_hit_stale_hit() {
    let (server, site, isr) = start().await;
    let (miss, fresh) = lifecycle(&server, "/async/7").await;

    for page in [&miss, &fresh] {
        assert!(page.body.starts_with("<!DOCTYPE html>"), "{}", page.body);
        assert!(
            page.body.contains("Async rendering: item 7"),
            "{}",
            page.body
        );
        // Async rendering sends the page once the resource has resolved: no fallback.
        assert!(
            page.body.contains("Report for item 7 (loaded in 20 ms"),
            "{}",
            page.body
        );
        assert!(!page.body.contains("Loading the report"), "{}", page.body);
    }
    rendered_once_and_regenerated_once(&site, &isr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_streaming_route_goes_miss_hit_stale_hit() {
    let (server, site, isr) = start().await;
    let (miss, fresh) = lifecycle(&server, "/streaming/7").await;

    for page in [&miss, &fresh] {
        assert!(page.body.starts_with("<!DOCTYPE html>"), "{}", page.body);
        assert!(
            page.body.contains("Out-of-order streaming: item 7"),
            "{}",
            page.body
        );
        // The shell carries the <Suspense> fallback; the resolved report follows in the
        // same body, and both are kept.
        assert!(page.body.contains("Loading the report"), "{}", page.body);
        assert!(
            page.body.contains("Report for item 7 (loaded in 200 ms"),
            "{}",
            page.body
        );
    }
    assert!(
        fresh.body.contains(&format!(
            "loaded in 200 ms for render #{})",
            render_number(&fresh)
        )),
        "the regenerated page's report was loaded for that render: {}",
        fresh.body
    );
    rendered_once_and_regenerated_once(&site, &isr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_miss_sends_the_shell_before_the_report() {
    use http_body_util::BodyExt;

    let (server, _, _) = start().await;
    let mut response = server.open("/streaming/shell-first", &[]).await;
    assert_eq!(response.headers()["x-isr-cache"], "MISS");

    // The shell with the fallback comes first; the report is not in it yet.
    let mut shell = String::new();
    while !shell.contains("Loading the report") {
        let frame = response
            .body_mut()
            .frame()
            .await
            .expect("the shell")
            .expect("a good frame");
        if let Ok(data) = frame.into_data() {
            shell.push_str(&String::from_utf8_lossy(&data));
        }
    }
    assert!(!shell.contains("Report for item"), "{shell}");

    let rest = response.into_body().collect().await.unwrap().to_bytes();
    let rest = String::from_utf8_lossy(&rest);
    assert!(rest.contains("Report for item shell-first"), "{rest}");

    // What the visitor was streamed is what the cache kept.
    let hit = poll(&server, "/streaming/shell-first", "HIT", |got| {
        got.cache() == "HIT"
    })
    .await;
    assert_eq!(hit.body, format!("{shell}{rest}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_home_page_is_cached_and_unknown_paths_are_404() {
    let (server, _, _) = start().await;
    let miss = server.get("/").await;
    assert_eq!((miss.status.as_u16(), miss.cache()), (200, "MISS"));
    assert!(miss.body.contains("isr-rs + Leptos"), "{}", miss.body);
    let hit = poll(&server, "/", "HIT", |got| got.cache() == "HIT").await;
    assert_eq!(hit.body, miss.body);

    let missing = server.get("/no/such/page").await;
    assert_eq!(missing.status, 404);
}
