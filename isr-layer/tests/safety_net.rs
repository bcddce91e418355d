//! The safety net: a failing regeneration never replaces the last good page.

mod common;

use std::time::Duration;

use common::{Mode, Origin, advance, get, settle};
use isr_layer::{IsrLayer, Revalidate};

fn isr() -> IsrLayer {
    IsrLayer::builder()
        .revalidate(Revalidate::secs(60))
        .regeneration_timeout(Duration::from_secs(5))
        .retry_backoff(Duration::from_secs(3), Duration::from_secs(30))
        .build()
        .unwrap()
}

/// Renders a good page, lets it go stale, then makes the origin fail in `mode`: the old page
/// is served, one regeneration is tried, and retries wait for the back-off.
async fn last_good_page_survives(mode: Mode) {
    let origin = Origin::new();
    let isr = isr();
    let app = origin.behind(&isr);
    assert_eq!(get(&app, "/p").await.body, "/p v1");
    advance(61).await;
    origin.set_mode(mode);

    let stale = get(&app, "/p").await;
    assert_eq!(
        (stale.cache(), stale.body.as_str()),
        ("STALE", "/p v1"),
        "{mode:?}"
    );
    failures_reach(&isr, 1).await;
    assert_eq!(origin.renders(), 2, "{mode:?}: one regeneration tried");

    // Within the 3 s back-off nothing is retried; the old page is still served.
    let mut renders = origin.renders();
    for _ in 0..5 {
        let got = get(&app, "/p").await;
        assert_eq!(
            (got.cache(), got.body.as_str()),
            ("STALE", "/p v1"),
            "{mode:?}"
        );
    }
    settle().await;
    assert_eq!(origin.renders(), renders, "{mode:?}: backed off");

    // Once the back-off has passed, one retry; it fails again and the wait doubles to 6 s.
    advance(3).await;
    get(&app, "/p").await;
    failures_reach(&isr, 2).await;
    renders += 1;
    assert_eq!(origin.renders(), renders, "{mode:?}: retried once");
    advance(4).await; // 4 s < 6 s: still backing off
    get(&app, "/p").await;
    settle().await;
    assert_eq!(origin.renders(), renders, "{mode:?}: the back-off grew");

    // The origin recovers: the next retry replaces the page.
    origin.set_mode(Mode::Ok);
    advance(3).await;
    assert_eq!(get(&app, "/p").await.cache(), "STALE");
    settle().await;
    let fresh = get(&app, "/p").await;
    assert_eq!(fresh.cache(), "HIT", "{mode:?}");
    assert_eq!(fresh.body, format!("/p v{}", renders + 1));
    assert_eq!(isr.stats().failed_renders, 2);
}

/// Waits (on the paused clock, in 10 ms steps) until `n` renders have failed.
async fn failures_reach(isr: &IsrLayer, n: u64) {
    for _ in 0..10_000 {
        if isr.stats().failed_renders >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{n} failed renders never happened");
}

#[tokio::test(start_paused = true)]
async fn a_regeneration_that_errors_keeps_the_last_good_page() {
    last_good_page_survives(Mode::Error).await;
}

#[tokio::test(start_paused = true)]
async fn a_regeneration_that_returns_5xx_keeps_the_last_good_page() {
    last_good_page_survives(Mode::ServerError).await;
}

#[tokio::test(start_paused = true)]
async fn a_regeneration_that_panics_keeps_the_last_good_page() {
    last_good_page_survives(Mode::Panic).await;
}

#[tokio::test(start_paused = true)]
async fn a_regeneration_that_hangs_keeps_the_last_good_page() {
    last_good_page_survives(Mode::Hang).await;
}

#[tokio::test(start_paused = true)]
async fn a_failed_first_render_returns_the_inner_response_and_caches_nothing() {
    let origin = Origin::new();
    origin.set_mode(Mode::ServerError);
    let isr = isr();
    let app = origin.behind(&isr);
    let got = get(&app, "/p").await;
    assert_eq!(
        (got.status.as_u16(), got.cache(), got.body.as_str()),
        (500, "BYPASS", "/p v1")
    );

    origin.set_mode(Mode::Ok);
    let next = get(&app, "/p").await;
    assert_eq!(
        (next.status.as_u16(), next.cache(), next.body.as_str()),
        (200, "MISS", "/p v2")
    );
}

#[tokio::test(start_paused = true)]
async fn a_first_render_error_is_the_inner_services_own_error() {
    let origin = Origin::new();
    origin.set_mode(Mode::Error);
    let app = origin.behind(&isr());
    let err = tower::ServiceExt::oneshot(app.clone(), common::request("GET", "/p"))
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "origin error");
    origin.set_mode(Mode::Ok);
    assert_eq!(
        get(&app, "/p").await.cache(),
        "MISS",
        "the key is not left locked"
    );
}

#[tokio::test(start_paused = true)]
async fn a_first_render_panic_reaches_the_caller_and_leaves_no_lock() {
    let origin = Origin::new();
    origin.set_mode(Mode::Panic);
    let app = origin.behind(&isr());
    let visitor = {
        let app = app.clone();
        tokio::spawn(async move { get(&app, "/p").await })
    };
    assert!(
        visitor.await.unwrap_err().is_panic(),
        "as if there were no cache"
    );
    origin.set_mode(Mode::Ok);
    assert_eq!(get(&app, "/p").await.body, "/p v2");
}

/// A body that sends one chunk, then fails.
struct Broken(u8);

impl http_body::Body for Broken {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, std::io::Error>>> {
        self.0 += 1;
        std::task::Poll::Ready(Some(match self.0 {
            1 => Ok(http_body::Frame::data(bytes::Bytes::from_static(
                b"half a pa",
            ))),
            _ => Err(std::io::Error::other("connection to the database lost")),
        }))
    }
}

/// An origin whose body breaks half-way once `broken` is set.
fn breaking_origin(
    broken: std::sync::Arc<std::sync::atomic::AtomicBool>,
    renders: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> impl tower::Service<
    http::Request<http_body_util::Full<bytes::Bytes>>,
    Response = http::Response<http_body_util::Either<http_body_util::Full<bytes::Bytes>, Broken>>,
    Error = std::convert::Infallible,
    Future = impl Send,
> + Clone
+ Send
+ 'static {
    use std::sync::atomic::Ordering;
    tower::service_fn(
        move |_req: http::Request<http_body_util::Full<bytes::Bytes>>| {
            let (broken, renders) = (broken.clone(), renders.clone());
            async move {
                let n = renders.fetch_add(1, Ordering::SeqCst) + 1;
                let body = if broken.load(Ordering::SeqCst) {
                    http_body_util::Either::Right(Broken(0))
                } else {
                    http_body_util::Either::Left(http_body_util::Full::new(bytes::Bytes::from(
                        format!("page v{n}"),
                    )))
                };
                Ok::<_, std::convert::Infallible>(http::Response::new(body))
            }
        },
    )
}

async fn fetch<S>(app: &S, path: &str) -> (String, Result<String, String>)
where
    S: tower::Service<
            http::Request<http_body_util::Full<bytes::Bytes>>,
            Response = http::Response<
                isr_layer::service::IsrBody<
                    http_body_util::Either<http_body_util::Full<bytes::Bytes>, Broken>,
                >,
            >,
            Error = std::convert::Infallible,
        > + Clone,
{
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let res = app
        .clone()
        .oneshot(common::request("GET", path))
        .await
        .unwrap();
    let cache = res.headers()["x-isr-cache"].to_str().unwrap().to_owned();
    let body = res
        .into_body()
        .collect()
        .await
        .map(|b| String::from_utf8(b.to_bytes().to_vec()).unwrap())
        .map_err(|e| e.to_string());
    (cache, body)
}

#[tokio::test(start_paused = true)]
async fn a_body_that_fails_half_way_is_never_cached_and_never_replaces_the_good_page() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let broken = Arc::new(AtomicBool::new(true));
    let renders = Arc::new(AtomicUsize::new(0));
    let isr = isr();
    let app = tower::Layer::layer(&isr, breaking_origin(broken.clone(), renders.clone()));

    // During a miss: the visitor gets what the origin sent, error included; nothing is stored.
    let (cache, body) = fetch(&app, "/p").await;
    assert_eq!(cache, "BYPASS");
    assert_eq!(body.unwrap_err(), "connection to the database lost");
    broken.store(false, Ordering::SeqCst);
    let (cache, body) = fetch(&app, "/p").await;
    assert_eq!(
        (cache.as_str(), body.unwrap().as_str()),
        ("MISS", "page v2")
    );

    // During a stale regeneration: the old page stays.
    broken.store(true, Ordering::SeqCst);
    advance(61).await;
    assert_eq!(fetch(&app, "/p").await.0, "STALE");
    settle().await;
    assert_eq!(isr.stats().failed_renders, 2);
    let (cache, body) = fetch(&app, "/p").await;
    assert_eq!(
        (cache.as_str(), body.unwrap().as_str()),
        ("STALE", "page v2")
    );

    // During a post-purge render: the visitor gets the old copy, whole.
    advance(40).await;
    isr.revalidator().revalidate_path("/p").await.unwrap();
    let (cache, body) = fetch(&app, "/p").await;
    assert_eq!(
        (cache.as_str(), body.unwrap().as_str()),
        ("STALE", "page v2")
    );
    assert_eq!(renders.load(Ordering::SeqCst), 4);
}
