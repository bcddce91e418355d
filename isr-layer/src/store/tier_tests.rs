//! What the unit tests of the stores with a memory tier (files, Redis) share.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response, header};
use http_body_util::Full;
use tower::{Layer, ServiceExt, service_fn};

use super::Store;
use crate::{IsrLayer, Revalidate};

/// A page asked for gzip-compressed after its identity `MISS`: the encoding is made then, and
/// the store's memory tier (its bytes read by `memory_bytes`) weighs the entry again with it.
pub(super) async fn an_encoding_made_later_is_weighed<S>(store: S, memory_bytes: impl Fn() -> u64)
where
    S: Store + 'static,
{
    let isr = IsrLayer::builder()
        .revalidate(Revalidate::secs(60))
        .store(store)
        .build()
        .unwrap();
    let app = isr.layer(service_fn(|_: Request<Full<Bytes>>| async {
        let page = "<p>the same paragraph, again</p>".repeat(200);
        Ok::<_, Infallible>(
            Response::builder()
                .header(header::CONTENT_TYPE, "text/html")
                .body(Full::new(Bytes::from(page)))
                .unwrap(),
        )
    }));
    let get = |accept: &str| {
        let request = Request::get("/p")
            .header(header::ACCEPT_ENCODING, accept)
            .body(Full::default())
            .unwrap();
        app.clone().oneshot(request)
    };
    let first = get("identity").await.unwrap();
    assert_eq!(first.headers()["x-isr-cache"], "MISS");
    let before = memory_bytes();
    let gzip = get("gzip").await.unwrap();
    assert_eq!(gzip.headers()["x-isr-cache"], "HIT");
    assert_eq!(gzip.headers()[header::CONTENT_ENCODING], "gzip");
    let after = memory_bytes();
    assert!(
        after > before,
        "{before} bytes before the encoding, {after} after"
    );
}
