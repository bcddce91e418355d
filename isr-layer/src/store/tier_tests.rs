//! What the stores' unit tests share.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use super::Entry;
use crate::Revalidate;

/// An entry of `key` whose body is `body`.
pub(super) fn entry(key: &str, body: &'static str) -> Arc<Entry> {
    Arc::new(Entry::fetched(
        Arc::from(key),
        StatusCode::OK,
        HeaderMap::new(),
        Bytes::from_static(body.as_bytes()),
        1,
        2,
        Revalidate::Never,
        Box::default(),
    ))
}

/// A page asked for gzip-compressed after its identity `MISS`: the encoding is made then, and
/// the store's memory tier (its bytes read by `memory_bytes`) weighs the entry again with it.
#[cfg(all(feature = "gzip", any(feature = "fs", feature = "redis")))]
pub(super) async fn an_encoding_made_later_is_weighed<S>(store: S, memory_bytes: impl Fn() -> u64)
where
    S: super::Store + 'static,
{
    use std::convert::Infallible;

    use http::{Request, Response, header};
    use http_body_util::Full;
    use tower::{Layer, ServiceExt, service_fn};

    use crate::IsrLayer;

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
