//! What a render calls: the application and the request prepared for it.
//!
//! What a render calls is a [`Render`]: the tower service and a request here, an actix service
//! and its request in the actix adapter. The engine owns the call (see the engine's
//! `regenerate` module): one render per key, not cancelled when the visitor goes away.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{
    ACCEPT_ENCODING, COOKIE, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE,
    IF_UNMODIFIED_SINCE, RANGE,
};
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, Uri};
use http_body::Body;
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::policy::RenderContext;

/// One call of the application the cache wraps, made to render a page.
///
/// An adapter implements it for its framework: the value holds the application and the request
/// to send (already prepared: `GET`, the canonical URI, without conditional or range headers, see
/// [`Visit::rewrite`](crate::adapter::Visit::rewrite)). The engine calls [`render`](Render::render)
/// at most once, inside the render's task, with the [`RenderContext`] handlers use to set their
/// revalidate time and tags; the adapter makes it reachable from the request (its extensions).
pub trait Render {
    /// The response body; the engine reads it to store the page.
    type Body: Body<Data = Bytes>;
    /// The application's error, passed to the visitor unchanged.
    type Error;
    /// The call in flight.
    type Future: Future<Output = Result<Response<Self::Body>, Self::Error>>;

    /// Calls the application.
    fn render(self, context: RenderContext) -> Self::Future;
}

/// A tower service and the request it renders.
pub(crate) struct TowerRender<S, B> {
    pub(crate) service: S,
    pub(crate) request: Request<B>,
}

impl<S, B, ResB> Render for TowerRender<S, B>
where
    S: Service<Request<B>, Response = Response<ResB>>,
    ResB: Body<Data = Bytes>,
{
    type Body = ResB;
    type Error = S::Error;
    type Future = TowerCall<S, B>;

    fn render(mut self, context: RenderContext) -> Self::Future {
        self.request.extensions_mut().insert(context);
        TowerCall::Ready {
            service: self.service,
            request: Some(self.request),
        }
    }
}

pin_project! {
    /// Waits for the service to be ready, then calls it.
    #[project = TowerCallProj]
    pub(crate) enum TowerCall<S, B>
    where
        S: Service<Request<B>>,
    {
        Ready { service: S, request: Option<Request<B>> },
        Call { #[pin] future: S::Future },
    }
}

impl<S, B> Future for TowerCall<S, B>
where
    S: Service<Request<B>>,
{
    type Output = Result<S::Response, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            match self.as_mut().project() {
                TowerCallProj::Ready { service, request } => {
                    std::task::ready!(service.poll_ready(cx))?;
                    let request = request.take().expect("TowerCall polled after completion");
                    let future = service.call(request);
                    self.set(TowerCall::Call { future });
                }
                TowerCallProj::Call { future } => return future.poll(cx),
            }
        }
    }
}

/// The request headers a render does not send: the cache wants the whole page, not a `304` or a
/// range of it.
pub const RENDER_DROPS_HEADERS: [HeaderName; 6] = [
    IF_NONE_MATCH,
    IF_MODIFIED_SINCE,
    IF_MATCH,
    IF_UNMODIFIED_SINCE,
    IF_RANGE,
    RANGE,
];

/// Prepares a render's request headers: removes [`RENDER_DROPS_HEADERS`] and `Cookie` (a page
/// for everyone is rendered without one visitor's cookies; a route gets them back by asking,
/// see [`RenderContext`](crate::RenderContext)), and asks for the page as identity
/// (`Accept-Encoding: identity`): the cache makes the encodings itself, at most once per render,
/// whatever the visitor accepts.
pub fn prepare_headers(headers: &mut HeaderMap) {
    headers.remove(COOKIE);
    // Most requests carry none of them: one pass over the names (no hashing) finds out.
    if headers
        .keys()
        .any(|name| RENDER_DROPS_HEADERS.contains(name))
    {
        for name in RENDER_DROPS_HEADERS {
            headers.remove(name);
        }
    }
    headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
}

/// The request a render sends: the visitor's request with its canonical URI, as `GET`, and
/// without conditional or range headers (the cache wants the whole page, not a `304`).
pub(crate) fn prepare_render_request<B>(request: &mut Request<B>, rewrite: Option<&PathAndQuery>) {
    if let Some(pq) = rewrite {
        let mut parts = request.uri().clone().into_parts();
        parts.path_and_query = Some(pq.clone());
        if let Ok(uri) = Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
    *request.method_mut() = Method::GET;
    prepare_headers(request.headers_mut());
}

/// A copy of a request's head (method, URI, version, headers and extensions) with a fresh body,
/// for a background regeneration that outlives the visitor's request.
pub(crate) fn clone_request<A, B: Default>(request: &Request<A>) -> Request<B> {
    let mut copy = Request::new(B::default());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    *copy.extensions_mut() = request.extensions().clone();
    copy
}
