//! Streaming misses at the edges: a body past the size limit, trailers, a visitor who leaves
//! half-way, a body that stalls past the render's deadline, and `HEAD`. The body is scripted
//! (chunks, waits on the paused clock, trailers, an error), so every case is deterministic.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Full};
use isr_layer::{IsrLayer, Revalidate};
use tower::{Layer, ServiceExt, service_fn};

/// One step of a scripted body.
#[derive(Clone, Debug)]
enum Step {
    Chunk(&'static str),
    Wait(Duration),
    Trailers,
}

/// A body that plays its steps, waiting on tokio's clock where told to.
struct Scripted {
    steps: VecDeque<Step>,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Body for Scripted {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        loop {
            if let Some(sleep) = self.sleep.as_mut() {
                std::task::ready!(sleep.as_mut().poll(cx));
                self.sleep = None;
            }
            match self.steps.pop_front() {
                None => return Poll::Ready(None),
                Some(Step::Chunk(text)) => {
                    return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(text.as_bytes())))));
                }
                Some(Step::Wait(d)) => self.sleep = Some(Box::pin(tokio::time::sleep(d))),
                Some(Step::Trailers) => {
                    let mut trailers = HeaderMap::new();
                    trailers.insert("x-checksum", "abc".parse().unwrap());
                    return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
                }
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

struct Site {
    isr: IsrLayer,
    renders: Arc<AtomicUsize>,
    script: Arc<std::sync::Mutex<Vec<Step>>>,
}

impl Site {
    fn new(max_body_bytes: usize) -> Self {
        let isr = IsrLayer::builder()
            .revalidate(Revalidate::Never)
            .max_body_bytes(max_body_bytes)
            .regeneration_timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        Self {
            isr,
            renders: Arc::default(),
            script: Arc::default(),
        }
    }

    fn script(&self, steps: &[Step]) {
        *self.script.lock().unwrap() = steps.to_vec();
    }

    fn renders(&self) -> usize {
        self.renders.load(Ordering::SeqCst)
    }

    async fn open(
        &self,
        method: &str,
        path: &str,
    ) -> Response<isr_layer::service::IsrBody<Scripted>> {
        let renders = Arc::clone(&self.renders);
        let script = Arc::clone(&self.script);
        let origin = service_fn(move |_req: Request<Full<Bytes>>| {
            renders.fetch_add(1, Ordering::SeqCst);
            let steps = script.lock().unwrap().clone().into();
            async move {
                let mut response = Response::new(Scripted { steps, sleep: None });
                response
                    .headers_mut()
                    .insert("content-type", "text/html".parse().unwrap());
                Ok::<_, std::convert::Infallible>(response)
            }
        });
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Full::default())
            .unwrap();
        self.isr.layer(origin).oneshot(request).await.unwrap()
    }

    /// The whole answer: cache status, data, and whether trailers came.
    async fn get(&self, method: &str, path: &str) -> (String, String, bool) {
        let response = self.open(method, path).await;
        let cache = response.headers()["x-isr-cache"]
            .to_str()
            .unwrap()
            .to_owned();
        let collected = response.into_body().collect().await.unwrap();
        let trailers = collected.trailers().is_some();
        let data = String::from_utf8(collected.to_bytes().to_vec()).unwrap();
        (cache, data, trailers)
    }
}

fn ms(n: u64) -> Step {
    Step::Wait(Duration::from_millis(n))
}

#[tokio::test(start_paused = true)]
async fn past_the_size_limit_the_stream_passes_through_whole_and_nothing_is_kept() {
    let site = Site::new(100);
    let sixty = "0123456789".repeat(6).leak();
    site.script(&[Step::Chunk(sixty), ms(100), Step::Chunk(sixty)]);
    let (cache, body, _) = site.get("GET", "/big").await;
    assert_eq!(cache, "MISS", "the head went out before the size was known");
    assert_eq!(body.len(), 120, "the visitor got every byte");
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(site.isr.stats().entries, 0);

    // Remembered as too large: the next visitor's body passes through without a tee.
    let (cache, body, _) = site.get("GET", "/big").await;
    assert_eq!((cache.as_str(), body.len()), ("BYPASS", 120));
    assert_eq!(site.renders(), 2);
    assert_eq!(site.isr.stats().entries, 0);
}

/// A stream that declares a `Content-Length` over the limit goes past the cache before any of
/// it is read: `BYPASS` from the first byte, where a stream that only grows past the limit
/// starts as a `MISS` (above).
#[tokio::test(start_paused = true)]
async fn a_declared_length_over_the_limit_bypasses_a_stream_from_the_first_byte() {
    let isr = IsrLayer::builder().max_body_bytes(100).build().unwrap();
    let origin = service_fn(|_req: Request<Full<Bytes>>| async move {
        let sixty: &'static str = "0123456789".repeat(6).leak();
        let steps = [Step::Chunk(sixty), ms(100), Step::Chunk(sixty)].into();
        let mut response = Response::new(Scripted { steps, sleep: None });
        response
            .headers_mut()
            .insert("content-length", "120".parse().unwrap());
        Ok::<_, std::convert::Infallible>(response)
    });
    let request = Request::get("/declared").body(Full::default()).unwrap();
    let response = isr.layer(origin).oneshot(request).await.unwrap();
    assert_eq!(response.headers()["x-isr-cache"], "BYPASS");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body.len(), 120, "the visitor got every byte");
    assert_eq!(isr.stats().entries, 0);
}

#[tokio::test(start_paused = true)]
async fn a_streamed_body_of_exactly_the_limit_is_kept() {
    let site = Site::new(16);
    site.script(&[Step::Chunk("<p>a</p>"), ms(100), Step::Chunk("<p>b</p>")]);
    assert_eq!(site.get("GET", "/exact").await.0, "MISS");
    tokio::time::sleep(Duration::from_millis(10)).await;
    let (cache, body, _) = site.get("GET", "/exact").await;
    assert_eq!((cache.as_str(), body.len()), ("HIT", 16));
}

#[tokio::test(start_paused = true)]
async fn trailers_reach_the_visitor_and_nothing_is_kept() {
    let site = Site::new(1024);
    site.script(&[Step::Chunk("page"), ms(50), Step::Trailers]);
    let (cache, body, trailers) = site.get("GET", "/t").await;
    assert_eq!(
        (cache.as_str(), body.as_str(), trailers),
        ("MISS", "page", true)
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
    let (cache, _, trailers) = site.get("GET", "/t").await;
    assert_eq!((cache.as_str(), trailers), ("BYPASS", true));
    assert_eq!(site.renders(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_visitor_who_leaves_half_way_still_leaves_the_page_cached() {
    let site = Site::new(1024);
    site.script(&[Step::Chunk("<p>a</p>"), ms(100), Step::Chunk("<p>b</p>")]);
    let response = site.open("GET", "/leave").await;
    let mut body = response.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(&first[..], b"<p>a</p>");
    drop(body); // the visitor hangs up

    tokio::time::sleep(Duration::from_millis(200)).await;
    let (cache, body, _) = site.get("GET", "/leave").await;
    assert_eq!((cache.as_str(), body.as_str()), ("HIT", "<p>a</p><p>b</p>"));
    assert_eq!(site.renders(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_body_stalled_past_the_deadline_reaches_its_visitor_and_the_old_page_stays() {
    let site = Site::new(1024);
    site.script(&[Step::Chunk("v1")]);
    assert_eq!(site.get("GET", "/slow").await.1, "v1");
    site.isr
        .revalidator()
        .revalidate_path("/slow")
        .await
        .unwrap();

    // The re-render (bounded by the 5 s regeneration timeout, as an older copy exists) stalls
    // for 6 s after its first chunk: it fails at 5 s, and its retry backs off until 8 s.
    site.script(&[Step::Chunk("v2 "), ms(6_000), Step::Chunk("late")]);
    let (cache, body, _) = site.get("GET", "/slow").await;
    assert_eq!(
        (cache.as_str(), body.as_str()),
        ("MISS", "v2 late"),
        "the visitor is not cut off at the cache's deadline"
    );
    assert_eq!(site.isr.stats().failed_renders, 1);

    // The page was not replaced; while the retry backs off, the last good page is served.
    let (cache, body, _) = site.get("GET", "/slow").await;
    assert_eq!((cache.as_str(), body.as_str()), ("STALE", "v1"));
    assert_eq!(site.renders(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_head_visitor_waits_for_the_whole_page_and_learns_its_length() {
    let site = Site::new(1024);
    site.script(&[Step::Chunk("<p>a</p>"), ms(100), Step::Chunk("<p>b</p>")]);
    let response = site.open("HEAD", "/head").await;
    assert_eq!(response.headers()["x-isr-cache"], "MISS");
    assert_eq!(response.headers()["content-length"], "16");
    assert!(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .is_empty()
    );
    let (cache, body, _) = site.get("GET", "/head").await;
    assert_eq!((cache.as_str(), body.as_str()), ("HIT", "<p>a</p><p>b</p>"));
    assert_eq!(site.renders(), 1);
}
