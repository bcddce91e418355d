//! What a render is not sent of the visitor's request (undeclared query parameters, cookies),
//! and how a route gets it back: declared parameters and cookies key the page, dynamic routes
//! get everything.

mod common;

use common::{Origin, advance, get, send, settle};
use http::Request;
use http_body_util::Full;
use isr_layer::adapter::{Answer, Lookup, RequestHead};
use isr_layer::{IsrLayer, IsrPolicyLayer, RenderContext, Revalidate};
use tower::{Layer, ServiceExt};

fn isr() -> IsrLayer {
    IsrLayer::builder()
        .revalidate(Revalidate::secs(10))
        .build()
        .unwrap()
}

/// Appends what the render read through its context, and the `Cookie` header it was sent.
fn reading(origin: &Origin, read: impl Fn(&RenderContext) -> String + Send + Sync + 'static) {
    origin.on_response(move |req, res| {
        let read = req
            .extensions()
            .get::<RenderContext>()
            .map(&read)
            .unwrap_or_default();
        let cookie = req
            .headers()
            .get(http::header::COOKIE)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = format!(
            "{} | {read} | cookie {cookie:?}",
            String::from_utf8_lossy(&full_bytes(res))
        );
        *res.body_mut() = Full::new(body.into());
    });
}

/// The origin's body (a `Full` made from one `Bytes`).
fn full_bytes(res: &http::Response<Full<bytes::Bytes>>) -> bytes::Bytes {
    use http_body::Body;
    let mut body = res.body().clone();
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    match std::pin::Pin::new(&mut body).poll_frame(&mut cx) {
        std::task::Poll::Ready(Some(Ok(frame))) => frame.into_data().unwrap_or_default(),
        _ => bytes::Bytes::new(),
    }
}

fn with_cookie(target: &str, cookie: &str) -> Request<Full<bytes::Bytes>> {
    Request::get(target)
        .header("cookie", cookie)
        .body(Full::default())
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_regeneration_renders_the_variant_it_replaces_and_never_sees_cookies() {
    let origin = Origin::new();
    reading(&origin, |cx| format!("page {:?}", cx.query_param("page")));
    let isr = isr();
    let app = origin.behind(&isr);

    let two = send(&app, with_cookie("/list?page=2&x=1", "session=a")).await;
    assert_eq!(
        (two.cache(), two.body.as_str()),
        ("MISS", "/list v1 | page Some(\"2\") | cookie None")
    );
    assert_eq!(get(&app, "/list?page=3").await.cache(), "MISS");

    advance(11).await;
    let stale = send(&app, with_cookie("/list?page=2", "session=b")).await;
    assert_eq!(stale.cache(), "STALE");
    settle().await;
    let fresh = get(&app, "/list?page=2").await;
    assert_eq!(
        (fresh.cache(), fresh.body.as_str()),
        ("HIT", "/list v3 | page Some(\"2\") | cookie None"),
        "the regeneration rendered page 2, without the visitor's cookie"
    );
    let three = get(&app, "/list?page=3").await;
    assert_eq!(
        (three.cache(), three.body.as_str()),
        ("STALE", "/list v2 | page Some(\"3\") | cookie None"),
        "page 3 is an entry of its own"
    );
    assert_eq!(
        origin.seen(),
        ["/list", "/list", "/list"],
        "no render was sent a parameter"
    );
}

#[tokio::test(start_paused = true)]
async fn a_layout_gives_back_its_declared_parameters_and_cookies_only() {
    let origin = Origin::new();
    reading(&origin, |_| String::new());
    let isr = isr();
    let app = isr.layer(
        IsrPolicyLayer::never()
            .query_params(["page", "sort"])
            .cookies(["theme"])
            .layer(origin.service()),
    );
    let got = app
        .clone()
        .oneshot(with_cookie(
            "/list?x=1&sort=new&page=2&fbclid=9",
            "session=a; theme=dark",
        ))
        .await
        .unwrap();
    assert_eq!(got.headers()["x-isr-cache"], "MISS");
    assert_eq!(
        origin.seen(),
        ["/list?sort=new&page=2"],
        "declared parameters only, in the visitor's order"
    );
    // Same page, same theme, other session and noise: one entry.
    let again = app
        .clone()
        .oneshot(with_cookie(
            "/list?page=2&sort=new&y=2",
            "theme=dark; session=b",
        ))
        .await
        .unwrap();
    assert_eq!(again.headers()["x-isr-cache"], "HIT");
    let light = app
        .clone()
        .oneshot(with_cookie("/list?page=2&sort=new", "theme=light"))
        .await
        .unwrap();
    assert_eq!(light.headers()["x-isr-cache"], "MISS");
    assert_eq!(origin.renders(), 2);
}

#[tokio::test(start_paused = true)]
async fn reading_every_cookie_makes_the_page_dynamic() {
    let origin = Origin::new();
    reading(&origin, |cx| format!("cookies {:?}", cx.cookies()));
    let isr = isr();
    let app = origin.behind(&isr);
    for session in ["a", "b", "a"] {
        let got = send(&app, with_cookie("/me", &format!("session={session}"))).await;
        assert_eq!(got.cache(), "BYPASS");
        assert!(
            got.body
                .contains(&format!("cookies Some(\"session={session}\")")),
            "{}",
            got.body
        );
    }
    assert_eq!(origin.renders(), 3);
}

#[tokio::test(start_paused = true)]
async fn reading_the_whole_query_makes_the_page_dynamic() {
    let origin = Origin::new();
    reading(&origin, |cx| format!("query {:?}", cx.query()));
    let isr = isr();
    let app = origin.behind(&isr);
    let got = get(&app, "/search?q=rust&utm_source=x&page=2").await;
    assert_eq!(got.cache(), "BYPASS");
    assert!(
        got.body.contains("query Some(\"q=rust&page=2\")"),
        "{}",
        got.body
    );
    let other = get(&app, "/search?q=tower").await;
    assert!(
        other.body.contains("query Some(\"q=tower\")"),
        "{}",
        other.body
    );
}

/// An adapter's head, as the actix middleware's: the lookup cannot borrow a header map and asks
/// for the headers it reads by name.
struct ByName(Request<Full<bytes::Bytes>>);

impl RequestHead for ByName {
    fn method(&self) -> &str {
        self.0.method().as_str()
    }
    fn path(&self) -> &str {
        self.0.uri().path()
    }
    fn query(&self) -> Option<&str> {
        self.0.uri().query()
    }
    fn path_and_query(&self) -> Option<&str> {
        RequestHead::path_and_query(&self.0)
    }
    fn authority(&self) -> Option<&str> {
        RequestHead::authority(&self.0)
    }
    fn copy_headers(&self, wanted: &dyn Fn(&str) -> bool, to: &mut http::HeaderMap) {
        self.0.copy_headers(wanted, to);
    }
    fn header_map(&self) -> http::HeaderMap {
        self.0.header_map()
    }
}

#[tokio::test(start_paused = true)]
async fn an_adapter_head_is_looked_up_under_the_variant_of_its_cookie() {
    let origin = Origin::new();
    reading(&origin, |cx| format!("theme {:?}", cx.cookie("theme")));
    let isr = isr();
    let app = isr.layer(
        IsrPolicyLayer::never()
            .cookies(["theme"])
            .layer(origin.service()),
    );
    for theme in ["dark", "light"] {
        let rendered = app
            .clone()
            .oneshot(with_cookie("/p", &format!("theme={theme}")))
            .await
            .unwrap();
        assert_eq!(rendered.headers()["x-isr-cache"], "MISS");
    }
    for (theme, body) in [
        (
            "dark",
            "/p v1 | theme Some(\"dark\") | cookie Some(\"theme=dark\")",
        ),
        (
            "light",
            "/p v2 | theme Some(\"light\") | cookie Some(\"theme=light\")",
        ),
    ] {
        let head = ByName(with_cookie("/p", &format!("theme={theme}; session=x")));
        match isr.lookup::<_, Full<bytes::Bytes>>(&head) {
            Lookup::Hit(Answer::Page(page)) => {
                assert_eq!(String::from_utf8_lossy(page.body()), body);
            }
            other => panic!("{theme}: expected a hit, got {other:?}"),
        }
    }
    assert_eq!(origin.renders(), 2);
}
