//! Translation between actix-web's types and the `http` crate's, at the edge only.
//!
//! actix-web 4 is built on `http` 0.2 while the engine speaks `http` 1: names, values and status
//! codes are carried over by their bytes.

use actix_web::body::MessageBody;
use actix_web::dev::{RequestHead, ServiceRequest};
use actix_web::http::{Method, StatusCode, Uri, Version, header};
use actix_web::{HttpRequest, HttpResponse};
use isr_layer::{CacheTags, IsrBody, Revalidate};

use crate::body::{ActixBody, HttpBody};

/// The head of an actix request in `http` 1 types, for the engine's lookup. `None` when a part
/// does not translate (the request then bypasses the cache).
pub(crate) fn request_head(head: &RequestHead) -> Option<http::Request<()>> {
    let mut request = http::Request::new(());
    *request.method_mut() = http::Method::from_bytes(head.method.as_str().as_bytes()).ok()?;
    // The usual origin-form URI is its path and query: parsed as it is, without formatting.
    *request.uri_mut() = match (head.uri.scheme(), head.uri.path_and_query()) {
        (None, Some(path_and_query)) => http::Uri::try_from(path_and_query.as_str()),
        _ => http::Uri::try_from(head.uri.to_string()),
    }
    .ok()?;
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
        headers.append(
            http::HeaderName::from_bytes(name.as_str().as_bytes()).ok()?,
            http::HeaderValue::from_bytes(value.as_bytes()).ok()?,
        );
    }
    Some(request)
}

/// A request of its own with the same head as the visitor's, to answer a visitor whose request
/// went to a background regeneration.
///
/// actix answers with the request a response belongs to, and an `HttpRequest` cannot be shared
/// with a render (routing needs it unshared), so the answer gets a copy of the head. Middleware
/// outside the cache that reads the answer's request sees the visitor's method, URI, version,
/// headers and peer address, but not its extensions, `app_data` or connection data.
pub(crate) fn detached_request(
    head: &http::Request<()>,
    peer: Option<std::net::SocketAddr>,
) -> HttpRequest {
    let mut copy = actix_web::test::TestRequest::default().to_srv_request();
    let copied = copy.head_mut();
    if let Ok(method) = Method::from_bytes(head.method().as_str().as_bytes()) {
        copied.method = method;
    }
    // Set as a value, not parsed by the test builder (which would panic on a URI it rejects).
    if let Ok(uri) = Uri::try_from(head.uri().to_string()) {
        copied.uri = uri;
    }
    copied.version = match head.version() {
        http::Version::HTTP_09 => Version::HTTP_09,
        http::Version::HTTP_10 => Version::HTTP_10,
        http::Version::HTTP_2 => Version::HTTP_2,
        http::Version::HTTP_3 => Version::HTTP_3,
        _ => Version::HTTP_11,
    };
    copied.peer_addr = peer;
    append_actix_headers(head.headers(), &mut copied.headers);
    let uri = copied.uri.clone();
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
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_str().as_bytes()),
            http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
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

/// Appends `from` (`http` 1) to an actix header map, leaving out headers that do not translate.
pub(crate) fn append_actix_headers(from: &http::HeaderMap, to: &mut header::HeaderMap) {
    for (name, value) in from {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_str().as_bytes()),
            header::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            to.append(name, value);
        }
    }
}
