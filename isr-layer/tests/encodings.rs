//! Encodings made when first asked for: a page rendered for a client that accepts only
//! identity keeps no encoding; the first visitor who accepts one has it made, once, and the
//! store's byte count grows by it; a large page is encoded on the blocking pool while its
//! visitors get identity; a visitor who refuses identity waits for the encoding.

#![cfg(feature = "gzip")]

use std::convert::Infallible;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use isr_layer::service::IsrBody;
use isr_layer::store::MemoryStore;
use isr_layer::{IsrLayer, Revalidate};
use tower::util::BoxCloneSyncService;
use tower::{Layer, ServiceExt};

/// An HTML page of at least `size` bytes that compresses well.
fn page(size: usize) -> String {
    let mut html = String::from("<!doctype html><html><body><h1>page</h1>");
    let mut n = 0;
    while html.len() < size {
        html.push_str(&format!(
            "<p>Paragraph {n} of a page kept by the cache.</p>"
        ));
        n += 1;
    }
    html.push_str("</body></html>");
    html
}

type Page = Response<IsrBody<Full<Bytes>>>;
type Cached = BoxCloneSyncService<Request<Full<Bytes>>, Page, Infallible>;

struct Site {
    isr: IsrLayer,
    service: Cached,
    renders: Arc<AtomicUsize>,
}

fn site(body: impl Into<Bytes>) -> Site {
    let isr = IsrLayer::builder()
        .revalidate(Revalidate::Never)
        .store(MemoryStore::new(64 << 20))
        .build()
        .unwrap();
    let renders = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&renders);
    let body = body.into();
    let service = isr.layer(tower::service_fn(move |_req: Request<Full<Bytes>>| {
        counted.fetch_add(1, Ordering::SeqCst);
        let mut res = Response::new(Full::new(body.clone()));
        res.headers_mut()
            .insert("content-type", "text/html; charset=utf-8".parse().unwrap());
        async move { Ok::<_, Infallible>(res) }
    }));
    Site {
        isr,
        service: BoxCloneSyncService::new(service),
        renders,
    }
}

/// (x-isr-cache, content-encoding, body as sent)
async fn get(service: &Cached, accept: Option<&str>) -> (String, Option<String>, Bytes) {
    let mut request = Request::get("/page");
    if let Some(accept) = accept {
        request = request.header("accept-encoding", accept);
    }
    let response = service
        .clone()
        .oneshot(request.body(Full::default()).unwrap())
        .await
        .unwrap();
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &http::HeaderValue| v.to_str().unwrap().to_owned())
    };
    let (cache, coding) = (header("x-isr-cache").unwrap(), header("content-encoding"));
    let length: usize = header("content-length").unwrap().parse().unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(length, body.len(), "Content-Length names the bytes sent");
    (cache, coding, body)
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[tokio::test]
async fn an_identity_client_leaves_the_page_unencoded_until_a_browser_asks() {
    let html = page(8_000);
    let site = site(html.clone());
    let (cache, coding, _) = get(&site.service, None).await;
    assert_eq!((cache.as_str(), coding), ("MISS", None));
    let identity_only = site.isr.stats().bytes;
    // Crawlers and scripts: no encoding is made for them.
    for _ in 0..3 {
        get(&site.service, None).await;
    }
    assert_eq!(site.isr.stats().bytes, identity_only);

    // The first visitor who accepts gzip has it made; the store counts it.
    let (cache, coding, gzip) = get(&site.service, Some("gzip")).await;
    assert_eq!((cache.as_str(), coding.as_deref()), ("HIT", Some("gzip")));
    assert_eq!(gunzip(&gzip), html.as_bytes());
    let with_gzip = site.isr.stats().bytes;
    assert!(
        with_gzip >= identity_only + gzip.len() as u64,
        "{with_gzip} bytes counted after the gzip of {} bytes was made (was {identity_only})",
        gzip.len()
    );
    // Made once: the next visitors get the same bytes, and the count stays.
    for _ in 0..3 {
        let (_, coding, again) = get(&site.service, Some("gzip, deflate")).await;
        assert_eq!((coding.as_deref(), &again), (Some("gzip"), &gzip));
    }
    assert_eq!(site.isr.stats().bytes, with_gzip);
    assert_eq!(site.renders.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_visitors_share_one_encoding() {
    let html = page(8_000);
    let site = site(html.clone());
    get(&site.service, None).await;
    let identity_only = site.isr.stats().bytes;
    let visitors: Vec<_> = (0..64)
        .map(|_| {
            let service = site.service.clone();
            tokio::spawn(async move { get(&service, Some("gzip")).await })
        })
        .collect();
    let mut bodies = Vec::new();
    for visitor in visitors {
        let (_, coding, body) = visitor.await.unwrap();
        assert_eq!(coding.as_deref(), Some("gzip"));
        bodies.push(body);
    }
    // One encoding, shared: every visitor got the very same allocation.
    assert!(bodies.iter().all(|b| b.as_ptr() == bodies[0].as_ptr()));
    let counted = site.isr.stats().bytes - identity_only;
    assert!(counted >= bodies[0].len() as u64 && counted < 2 * (bodies[0].len() as u64 + 2048));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_page_is_encoded_on_the_blocking_pool_while_visitors_get_identity() {
    let html = page(200_000);
    let site = site(html.clone());
    get(&site.service, None).await;
    let identity_only = site.isr.stats().bytes;
    // The first visitor who accepts gzip starts the encoding and is not kept waiting for it.
    let (cache, coding, body) = get(&site.service, Some("gzip")).await;
    assert_eq!((cache.as_str(), coding), ("HIT", None));
    assert_eq!(body, html.as_bytes());
    // The encoding is made without another request asking (a bounded wait for the pool's
    // thread: the store counts the encoding once it is made) ...
    for _ in 0..2_000 {
        if site.isr.stats().bytes > identity_only {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(
        site.isr.stats().bytes > identity_only,
        "the first request that accepts gzip started the encoding"
    );
    // ... and the next such visitor gets it.
    let (_, coding, gzip) = get(&site.service, Some("gzip")).await;
    assert_eq!(coding.as_deref(), Some("gzip"));
    assert_eq!(gunzip(&gzip), html.as_bytes());
    assert_eq!(site.renders.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_who_refuses_identity_waits_for_the_encoding_of_a_large_page() {
    let html = page(200_000);
    let site = site(html.clone());
    get(&site.service, None).await;
    let (cache, coding, gzip) = get(&site.service, Some("gzip, identity;q=0")).await;
    assert_eq!((cache.as_str(), coding.as_deref()), ("HIT", Some("gzip")));
    assert_eq!(gunzip(&gzip), html.as_bytes());
}

#[tokio::test]
async fn a_page_that_does_not_shrink_is_served_as_identity() {
    // Bytes no compressor can shrink, labelled as text.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let noise: Vec<u8> = (0..4_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let site = site(noise.clone());
    get(&site.service, None).await;
    let identity_only = site.isr.stats().bytes;
    for accept in ["gzip", "br", "zstd", "gzip, deflate, br, zstd"] {
        let (cache, coding, body) = get(&site.service, Some(accept)).await;
        assert_eq!((cache.as_str(), coding), ("HIT", None), "{accept}");
        assert_eq!(body, noise);
    }
    // What was tried and found no smaller is not kept.
    assert!(site.isr.stats().bytes < identity_only + 256);
}
