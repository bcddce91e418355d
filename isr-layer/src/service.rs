//! The tower services of the crate: [`IsrService`], made by [`IsrLayer`](crate::IsrLayer), with
//! its [`ResponseFuture`] and [`IsrBody`]; and [`IsrPolicy`], made by
//! [`IsrPolicyLayer`](crate::IsrPolicyLayer). Applications rarely name them: they appear in
//! the types of services built with the layers.
//!
//! [`IsrService`] runs the engine's [steps](crate::adapter) for tower requests.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use tower_service::Service;

pub use crate::body::IsrBody;
pub use crate::future::ResponseFuture;
pub use crate::policy_layer::IsrPolicy;

use crate::engine::{Engine, Lookup, Threaded, lookup};
use crate::render::{TowerRender, clone_request, prepare_render_request};

/// The service made by [`IsrLayer`](crate::IsrLayer): answers from the cache, regenerates in
/// the background, and calls the inner service only to render.
///
/// It wraps any `Service<Request<ReqBody>>` whose response body is an [`http_body::Body`] of
/// [`Bytes`]. The inner service must be `Clone` (renders run in tasks of their own) and its
/// request body `Default` (a background regeneration sends a copy of the visitor's request head
/// with an empty body). The inner service's errors pass through unchanged.
///
/// # Concurrency
///
/// Concurrent requests for the same key (every clone of the service, every task and thread of
/// the process) are coalesced: while a key has no usable entry, **one** request renders it and
/// the others wait for that render and are answered from its entry (`MISS`). A waiter that has
/// waited [`waiter_timeout`](crate::IsrBuilder::waiter_timeout) renders for itself. A stale
/// entry is answered at once (`STALE`) and **one** background regeneration per key runs, within
/// the bound on background regenerations; past the bound the stale page is still served and a
/// later visitor starts it. A render is owned by the cache, not by the request that started
/// it: a visitor who disconnects does not cancel it, and a panic, error or timeout inside it
/// never leaves its key locked and never replaces the last good page. With a store shared by
/// several instances (Redis), the same holds across the fleet through the store's render lock.
pub struct IsrService<S> {
    pub(crate) inner: S,
    pub(crate) engine: Arc<Engine>,
}

impl<S: Clone> Clone for IsrService<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            engine: Arc::clone(&self.engine),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for IsrService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IsrService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for IsrService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Default + Send + 'static,
    ResBody: Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Send + 'static,
{
    type Response = Response<IsrBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        match lookup(&self.engine, &request) {
            Lookup::Hit(answer) => ResponseFuture::ready(answer.into_response()),
            Lookup::Stale {
                answer,
                regeneration,
            } => {
                if let Some(regeneration) = regeneration {
                    // The visitor's request stays with the visitor's connection: the render
                    // sends a copy of its head.
                    let mut copy = clone_request(&request);
                    prepare_render_request(&mut copy, regeneration.rewrite());
                    let render = TowerRender {
                        service: self.inner.clone(),
                        request: copy,
                    };
                    regeneration.spawn::<Threaded, _>(render);
                }
                ResponseFuture::ready(answer.into_response())
            }
            Lookup::Bypass(_) => ResponseFuture::bypass(self.inner.call(request)),
            Lookup::Render(visit) => {
                prepare_render_request(&mut request, visit.rewrite());
                // The inner service was made ready by `poll_ready`: that instance renders, and
                // a clone stays behind for the next request.
                let clone = self.inner.clone();
                let service = std::mem::replace(&mut self.inner, clone);
                let render = TowerRender { service, request };
                ResponseFuture::render(Box::pin(async move {
                    visit.serve::<Threaded, _>(render).await.response
                }))
            }
        }
    }
}
