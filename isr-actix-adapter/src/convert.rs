//! Translation between actix-web's types and the `http` crate's, at the edge only.
//!
//! actix-web 4 is built on `http` 0.2 while the engine speaks `http` 1: names, values and status
//! codes are carried over by their bytes.

use std::borrow::Cow;

use actix_web::body::MessageBody;
use actix_web::dev::{RequestHead, ServiceRequest};
use actix_web::http::{Method, StatusCode, Uri, Version, header};
use actix_web::{HttpRequest, HttpResponse};
use isr_layer::adapter::Answer;
use isr_layer::{CacheStatus, CacheTags, Revalidate, service::IsrBody};

use crate::body::{ActixBody, HttpBody};

/// An actix request's head as the engine's lookup reads it, in place: its method, its target
/// and the few headers the lookup asks for (a hit converts nothing else); every header is
/// converted only for a render.
///
/// A header that does not translate to `http` 1 is left out (`http` 0.2, which actix-web 4 is
/// built on, accepts the same names and values, so none is in practice).
pub(crate) struct ActixHead<'a>(pub(crate) &'a RequestHead);

impl isr_layer::adapter::RequestHead for ActixHead<'_> {
    fn method(&self) -> &str {
        self.0.method.as_str()
    }

    fn path(&self) -> &str {
        self.0.uri.path()
    }

    fn query(&self) -> Option<&str> {
        self.0.uri.query()
    }

    fn path_and_query(&self) -> Option<&str> {
        self.0.uri.path_and_query().map(|pq| pq.as_str())
    }

    fn authority(&self) -> Option<&str> {
        self.0.uri.authority().map(|authority| authority.as_str())
    }

    fn copy_headers(&self, wanted: &dyn Fn(&str) -> bool, to: &mut http::HeaderMap) {
        for (name, value) in self.0.headers.iter() {
            if wanted(name.as_str())
                && let Some((name, value)) = http_header(name, value)
            {
                to.append(name, value);
            }
        }
    }

    fn header_map(&self) -> http::HeaderMap {
        let mut headers = http::HeaderMap::with_capacity(self.0.headers.len());
        for (name, value) in self.0.headers.iter() {
            if let Some((name, value)) = http_header(name, value) {
                headers.append(name, value);
            }
        }
        headers
    }
}

/// The head of an actix request in `http` 1 types, for the endpoints beside the cache (the
/// purge endpoint, the inspector), which read it whole. `None` when a part does not translate.
pub(crate) fn request_head(head: &RequestHead) -> Option<http::Request<()>> {
    let mut request = http::Request::new(());
    *request.method_mut() = http::Method::from_bytes(head.method.as_str().as_bytes()).ok()?;
    *request.uri_mut() = http::Uri::try_from(head.uri.to_string()).ok()?;
    *request.version_mut() = match head.version {
        Version::HTTP_09 => http::Version::HTTP_09,
        Version::HTTP_10 => http::Version::HTTP_10,
        Version::HTTP_2 => http::Version::HTTP_2,
        Version::HTTP_3 => http::Version::HTTP_3,
        _ => http::Version::HTTP_11,
    };
    let headers = request.headers_mut();
    headers.reserve(head.headers.len());
    for (name, value) in head.headers.iter() {
        let (name, value) = http_header(name, value)?;
        headers.append(name, value);
    }
    Some(request)
}

/// One header in `http` 1 types; `None` when it does not translate.
fn http_header(
    name: &header::HeaderName,
    value: &header::HeaderValue,
) -> Option<(http::HeaderName, http::HeaderValue)> {
    Some((
        http::HeaderName::from_bytes(name.as_str().as_bytes()).ok()?,
        http::HeaderValue::from_bytes(value.as_bytes()).ok()?,
    ))
}

/// A request of its own with the visitor's head (taken before a render changed it), to answer a
/// visitor whose request went to a background regeneration.
///
/// actix answers with the request a response belongs to, and an `HttpRequest` cannot be shared
/// with a render (routing needs it unshared), so the answer gets a copy of the head. Middleware
/// outside the cache that reads the answer's request sees the visitor's method, URI, version,
/// headers and peer address, but not its extensions, `app_data` or connection data.
pub(crate) fn detached_request(head: RequestHead) -> HttpRequest {
    let mut copy = actix_web::test::TestRequest::default().to_srv_request();
    let uri = head.uri.clone();
    *copy.head_mut() = head;
    copy.match_info_mut().get_mut().update(&uri);
    copy.into_parts().0
}

/// Prepares the visitor's request for a render: `GET`, the canonical URI, and no conditional or
/// range headers (the cache wants the whole page).
pub(crate) fn prepare_render(
    request: &mut ServiceRequest,
    rewrite: Option<&http::uri::PathAndQuery>,
) {
    let head = request.head_mut();
    head.method = Method::GET;
    for name in isr_layer::adapter::RENDER_DROPS_HEADERS {
        head.headers.remove(name.as_str());
    }
    // A page for everyone is rendered without one visitor's cookies (see
    // `isr_layer::adapter::prepare_headers`).
    head.headers.remove(actix_web::http::header::COOKIE);
    // The cache makes the encodings itself (see `isr_layer::adapter::prepare_headers`).
    head.headers.insert(
        actix_web::http::header::ACCEPT_ENCODING,
        actix_web::http::header::HeaderValue::from_static("identity"),
    );
    let Some(path_and_query) = rewrite else {
        return;
    };
    let uri = match (head.uri.scheme_str(), head.uri.authority()) {
        (Some(scheme), Some(authority)) => format!("{scheme}://{authority}{path_and_query}"),
        _ => path_and_query.to_string(),
    };
    if let Ok(uri) = Uri::try_from(uri) {
        head.uri = uri.clone();
        request.match_info_mut().get_mut().update(&uri);
    }
}

/// An application's actix response as the engine reads it: status, headers, the policy the
/// handler put into its extensions, and the body.
pub(crate) fn to_http_response<B: MessageBody>(
    response: HttpResponse<B>,
) -> http::Response<HttpBody<B>> {
    let (head, body) = response.into_parts();
    let mut out = http::Response::new(HttpBody::new(body));
    *out.status_mut() = http::StatusCode::from_u16(head.status().as_u16())
        .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = out.headers_mut();
    headers.reserve(head.headers().len());
    for (name, value) in head.headers().iter() {
        // Headers that do not translate are left out, as a proxy would.
        if let Some((name, value)) = http_header(name, value) {
            headers.append(name, value);
        }
    }
    let extensions = head.extensions();
    if let Some(revalidate) = extensions.get::<Revalidate>() {
        out.extensions_mut().insert(*revalidate);
    }
    if let Some(tags) = extensions.get::<CacheTags>() {
        out.extensions_mut().insert(tags.clone());
    }
    out
}

/// The engine's answer as an actix response. `head_request`: the visitor sent `HEAD`, so the
/// body is empty and its length is the page's (`Content-Length`).
pub(crate) fn to_actix_response<B: MessageBody>(
    response: http::Response<IsrBody<HttpBody<B>>>,
    head_request: bool,
) -> HttpResponse<ActixBody<B>> {
    let (parts, body) = response.into_parts();
    let declared = if head_request {
        parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok()?.parse::<u64>().ok())
    } else {
        None
    };
    let status =
        StatusCode::from_u16(parts.status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = HttpResponse::with_body(status, ActixBody::isr(body, declared));
    append_actix_headers(&parts.headers, out.headers_mut());
    out
}

/// An answer from the cache as an actix response. A page's headers are converted to actix's
/// types once per entry and representation (then appended to the response's pooled map on every
/// hit); a `304` or `406` is converted as it comes.
pub(crate) fn to_actix_answer<B: MessageBody>(
    answer: Answer<HttpBody<B>>,
) -> HttpResponse<ActixBody<B>> {
    let page = match answer {
        Answer::Page(page) => page,
        Answer::NoPage(response) => return to_actix_response(response, false),
    };
    let (body, declared) = if page.is_head() {
        (IsrBody::empty(), Some(page.body().len() as u64))
    } else {
        (IsrBody::full(page.body().clone()), None)
    };
    let status =
        StatusCode::from_u16(page.status().as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = HttpResponse::with_body(status, ActixBody::isr(body, declared));
    // The response's own map comes from actix's pool, emptied with its room kept: the page's
    // headers are appended to it, which costs less than cloning a map (a table and a vector per
    // header) and dropping the pooled one.
    let headers = out.headers_mut();
    match page.converted_headers(ActixHeaders::of) {
        Some(converted) => converted.append_to(headers),
        None => ActixHeaders::of(&page.headers()).append_to(headers),
    }
    let age = match page.age_text() {
        Cow::Borrowed(text) => header::HeaderValue::from_static(text),
        Cow::Owned(text) => header::HeaderValue::from_str(&text)
            .unwrap_or_else(|_| header::HeaderValue::from_static("0")),
    };
    // The page's headers never hold these two (see `ActixHeaders`): appending them is exact,
    // and cheaper than inserting (no old value looked for and dropped).
    headers.append(header::AGE, age);
    headers.append(
        CACHE_STATUS,
        header::HeaderValue::from_static(page.cache_status().as_str()),
    );
    out
}

/// A page's headers in actix's types, kept with the entry, in the page's order: every header
/// but the two each answer sets (`Age`, `x-isr-cache`) and `Content-Length`, which actix
/// writes from the body's size (the page's, or the length a `HEAD` answer declares) and leaves
/// out of the map when it encodes a sized body.
struct ActixHeaders(Box<[(header::HeaderName, header::HeaderValue)]>);

impl ActixHeaders {
    fn of(headers: &http::HeaderMap) -> Self {
        let converted = headers
            .iter()
            .filter(|(name, _)| {
                **name != http::header::AGE
                    && **name != CacheStatus::HEADER
                    && **name != http::header::CONTENT_LENGTH
            })
            .filter_map(|(name, value)| actix_header(name, value))
            .collect();
        Self(converted)
    }

    fn append_to(&self, headers: &mut header::HeaderMap) {
        for (name, value) in &self.0 {
            headers.append(name.clone(), value.clone());
        }
    }
}

/// [`CacheStatus::HEADER`] as an actix header name.
const CACHE_STATUS: header::HeaderName = header::HeaderName::from_static("x-isr-cache");

/// A whole answer of an endpoint beside the cache (the purge endpoint, the inspector) as an
/// actix response.
pub(crate) fn to_actix_reply(
    status: http::StatusCode,
    headers: &http::HeaderMap,
    body: bytes::Bytes,
) -> HttpResponse {
    let status = StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::with_body(status, body);
    append_actix_headers(headers, response.headers_mut());
    response.map_into_boxed_body()
}

/// Appends `from` (`http` 1) to an actix header map, leaving out headers that do not translate.
pub(crate) fn append_actix_headers(from: &http::HeaderMap, to: &mut header::HeaderMap) {
    for (name, value) in from {
        if let Some((name, value)) = actix_header(name, value) {
            to.append(name, value);
        }
    }
}

/// One header in actix's types; `None` when it does not translate.
fn actix_header(
    name: &http::HeaderName,
    value: &http::HeaderValue,
) -> Option<(header::HeaderName, header::HeaderValue)> {
    Some((
        header::HeaderName::from_bytes(name.as_str().as_bytes()).ok()?,
        header::HeaderValue::from_bytes(value.as_bytes()).ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;
    use bytes::Bytes;
    use http_body::Body as _;

    #[test]
    fn the_cache_status_header_is_the_engines() {
        assert_eq!(CACHE_STATUS.as_str(), CacheStatus::HEADER.as_str());
    }

    #[test]
    fn a_request_head_carries_method_uri_version_and_every_header_value() {
        let request = TestRequest::get()
            .uri("/docs/a?x=1")
            .insert_header(("accept-encoding", "gzip, br"))
            .append_header(("x-multi", "one"))
            .append_header(("x-multi", "two"))
            .to_http_request();
        let head = request_head(request.head()).unwrap();
        assert_eq!(head.method(), http::Method::GET);
        assert_eq!(head.uri(), "/docs/a?x=1");
        assert_eq!(head.version(), http::Version::HTTP_11);
        assert_eq!(head.headers()["accept-encoding"], "gzip, br");
        let multi: Vec<_> = head.headers().get_all("x-multi").iter().collect();
        assert_eq!(multi, ["one", "two"]);
    }

    #[test]
    fn a_render_asks_for_the_canonical_uri_as_get_without_conditions() {
        let mut request = TestRequest::with_uri("/docs//a?x=1")
            .method(Method::HEAD)
            .insert_header(("if-none-match", "\"t\""))
            .insert_header(("range", "bytes=0-1"))
            .insert_header(("accept-encoding", "br"))
            .to_srv_request();
        let canonical = http::uri::PathAndQuery::from_static("/docs/a?x=1");
        prepare_render(&mut request, Some(&canonical));
        assert_eq!(request.method(), Method::GET);
        assert_eq!(request.uri(), "/docs/a?x=1");
        assert_eq!(request.match_info().as_str(), "/docs/a");
        assert!(request.headers().get("if-none-match").is_none());
        assert!(request.headers().get("range").is_none());
        assert_eq!(
            request.headers().get("accept-encoding").unwrap(),
            "identity"
        );
    }

    #[test]
    fn a_detached_request_copies_the_visible_head() {
        let peer = "127.0.0.1:9".parse().unwrap();
        let visitor = TestRequest::with_uri("/p?q=1")
            .method(Method::HEAD)
            .version(Version::HTTP_10)
            .insert_header(("x-one", "1"))
            .peer_addr(peer)
            .to_http_request();
        let copy = detached_request(visitor.head().clone());
        assert_eq!(
            (copy.method(), copy.uri().to_string(), copy.version()),
            (&Method::HEAD, "/p?q=1".into(), Version::HTTP_10)
        );
        assert_eq!(copy.headers().get("x-one").unwrap(), "1");
        assert_eq!(copy.peer_addr(), Some(peer));
        assert_eq!(copy.match_info().as_str(), "/p");
    }

    #[test]
    fn the_lookup_reads_the_target_in_place_and_copies_only_the_headers_asked_for() {
        use isr_layer::adapter::RequestHead as _;
        let request = TestRequest::with_uri("http://example.com/docs/a?x=1")
            .insert_header(("accept-encoding", "br"))
            .insert_header(("user-agent", "test"))
            .append_header(("x-multi", "one"))
            .append_header(("x-multi", "two"))
            .to_http_request();
        let head = ActixHead(request.head());
        assert_eq!(head.method(), "GET");
        assert_eq!(head.path(), "/docs/a");
        assert_eq!(head.query(), Some("x=1"));
        assert_eq!(head.path_and_query(), Some("/docs/a?x=1"));
        assert_eq!(head.authority(), Some("example.com"));
        assert!(head.http_headers().is_none());

        let mut copied = http::HeaderMap::new();
        head.copy_headers(
            &|name| name == "accept-encoding" || name == "x-multi",
            &mut copied,
        );
        assert_eq!(copied.len(), 3);
        assert_eq!(copied["accept-encoding"], "br");
        let multi: Vec<_> = copied.get_all("x-multi").iter().collect();
        assert_eq!(multi, ["one", "two"]);

        // A render takes every header.
        let all = head.header_map();
        assert_eq!(all.len(), 4);
        assert_eq!(all["user-agent"], "test");
    }

    #[test]
    fn an_answer_keeps_status_headers_and_announces_the_length_of_a_head() {
        let mut response = http::Response::new(IsrBody::<HttpBody<String>>::full(
            Bytes::from_static(b"12345"),
        ));
        *response.status_mut() = http::StatusCode::NOT_FOUND;
        response
            .headers_mut()
            .insert("content-length", http::HeaderValue::from_static("5"));
        response
            .headers_mut()
            .append("vary", http::HeaderValue::from_static("accept-encoding"));
        let answer = to_actix_response(response, true);
        assert_eq!(answer.status(), StatusCode::NOT_FOUND);
        assert_eq!(answer.headers().get("vary").unwrap(), "accept-encoding");
        // A HEAD answer has no bytes but the size of the page.
        assert_eq!(
            actix_web::body::MessageBody::size(answer.body()),
            actix_web::body::BodySize::Sized(5)
        );
    }

    #[test]
    fn an_application_response_reaches_the_engine_with_its_policy() {
        let mut response = HttpResponse::Ok()
            .insert_header(("content-type", "text/html"))
            .body("page");
        response.extensions_mut().insert(Revalidate::secs(60));
        response
            .extensions_mut()
            .insert(CacheTags::new(["docs".to_owned()]));
        let translated = to_http_response(response);
        assert_eq!(translated.status(), http::StatusCode::OK);
        assert_eq!(translated.headers()["content-type"], "text/html");
        assert_eq!(
            translated.extensions().get::<Revalidate>(),
            Some(&Revalidate::secs(60))
        );
        assert!(translated.extensions().get::<CacheTags>().is_some());
        assert_eq!(translated.body().size_hint().exact(), Some(4));
    }
}
