//! The origin of the in-process scale binaries (`scale`, `purge-scale`, `inspector-page`): page
//! `n` of a site of many pages, HTML tagged `page` and `group-{n % 100}`.

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use isr_layer::CacheTags;

/// The number that ends a request's path (`/p/12/12345` → 12345); 0 without one.
pub(crate) fn page_number<B>(request: &Request<B>) -> usize {
    request
        .uri()
        .path()
        .rsplit('/')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The group tag page `n` carries (1 % of the pages each).
pub(crate) fn group(n: usize) -> usize {
    n % 100
}

/// Page `n` with `body`: `text/html`, tagged `page` and `group-{group(n)}`.
pub(crate) fn tagged_page(n: usize, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response.extensions_mut().insert(CacheTags::new([
        "page".to_owned(),
        format!("group-{}", group(n)),
    ]));
    response
}
