//! The tower service: classifies each request, answers hits at once, and hands everything
//! else to a render owned by the cache.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::IF_NONE_MATCH;
use http::uri::PathAndQuery;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body::Body;
use tower_service::Service;

use crate::body::IsrBody;
use crate::engine::{
    CacheStatus, Engine, FlightGuard, Freshness, Join, Landing, RenderTarget, serve_entry,
};
use crate::entry::Entry;
use crate::filters::{self, BypassReason};
use crate::future::ResponseFuture;
use crate::key;
use crate::render::{
    RenderJob, Rendered, clone_request, prepare_render_request, render_in_place, spawn_render,
};

/// The service made by [`IsrLayer`](crate::IsrLayer): answers from the cache, regenerates in
/// the background, and calls the inner service only to render.
///
/// It wraps any `Service<Request<ReqBody>>` whose response body is an [`http_body::Body`] of
/// [`Bytes`]. The inner service must be `Clone` (renders run in tasks of their own) and its
/// request body `Default` (a background regeneration sends a copy of the visitor's request head
/// with an empty body). The inner service's errors pass through unchanged.
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
        let engine = &self.engine;
        let class = match filters::classify_request(request.method(), request.headers()) {
            Ok(class) => class,
            Err(reason) => return self.bypass(request, reason),
        };
        let key = match key::request_key(&engine.config.key, request.uri(), request.headers()) {
            Ok(key) => key,
            Err(error) => return self.bypass(request, BypassReason::from_key_error(error)),
        };

        let mut fallback = None;
        let lookup = engine.lookup_key(&key.key, request.headers());
        if let Some(entry) = engine.store.get_local(&lookup)
            && (!class.authorized || entry.shared_with_authorization)
        {
            let now = engine.clock.now();
            let if_none_match = request.headers().get(IF_NONE_MATCH);
            match engine.freshness(&entry, now) {
                Freshness::Fresh => {
                    engine.trace_request(CacheStatus::Hit, &entry.key, entry.route(), None);
                    let response =
                        serve_entry(&entry, CacheStatus::Hit, now, class.head, if_none_match);
                    return ResponseFuture::ready(response);
                }
                Freshness::Stale => {
                    engine.trace_request(CacheStatus::Stale, &entry.key, entry.route(), None);
                    let response =
                        serve_entry(&entry, CacheStatus::Stale, now, class.head, if_none_match);
                    let job = || {
                        let target = render_target(&key, &request, class.authorized, false);
                        let mut copy = clone_request(&request);
                        prepare_render_request(&mut copy, key.rewrite.as_ref());
                        (copy, target)
                    };
                    regenerate_in_background(engine, &self.inner, &entry, job);
                    return ResponseFuture::ready(response);
                }
                Freshness::Expired => fallback = Some(entry),
            }
        }

        let lookup: Arc<str> = Arc::from(&*lookup);
        let target = render_target(&key, &request, class.authorized, class.head);
        let rewrite: Option<PathAndQuery> = key.rewrite;
        let if_none_match = request.headers().get(IF_NONE_MATCH).cloned();
        prepare_render_request(&mut request, rewrite.as_ref());

        // The inner service was made ready by `poll_ready`: that instance renders, and a clone
        // stays behind for the next request.
        let clone = self.inner.clone();
        let service = std::mem::replace(&mut self.inner, clone);
        let slow = SlowPath {
            visit: Visit {
                engine: Arc::clone(engine),
                target,
                lookup,
                fallback,
                if_none_match,
            },
            service,
            request,
        };
        ResponseFuture::render(Box::pin(slow.serve()))
    }
}

impl<S> IsrService<S> {
    fn bypass<ReqBody, ResBody>(
        &mut self,
        request: Request<ReqBody>,
        reason: BypassReason,
    ) -> ResponseFuture<S::Future, ResBody, S::Error>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>>,
        ResBody: Body,
    {
        self.engine.trace_request(
            CacheStatus::Bypass,
            request.uri().path(),
            None,
            Some(&reason),
        );
        ResponseFuture::bypass(self.inner.call(request))
    }
}

/// What a render of this request is for.
fn render_target<B>(
    key: &key::RequestKey<'_>,
    request: &Request<B>,
    authorized: bool,
    head: bool,
) -> RenderTarget {
    RenderTarget {
        primary: Arc::from(&*key.key),
        path: key.path().into(),
        request_headers: request.headers().clone(),
        authorized,
        head,
    }
}

/// Starts one background regeneration of a stale entry, unless the key is backing off after
/// failures, the concurrency bound is reached, or a render of the key is already running.
/// Those checks come first: the request copy `job` builds is only made for a render that starts.
fn regenerate_in_background<S, ReqBody, ResBody>(
    engine: &Arc<Engine>,
    service: &S,
    stale: &Arc<Entry>,
    job: impl FnOnce() -> (Request<ReqBody>, RenderTarget),
) where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Send + 'static,
{
    if engine.is_backing_off(stale) {
        return;
    }
    let Some(permit) = engine.regeneration_permit() else {
        return;
    };
    let Some(guard) = engine.try_lead_flight(&stale.key) else {
        return;
    };
    let (request, target) = job();
    // Detached: the task owns the render; its result is the stored entry.
    drop(spawn_render(RenderJob {
        engine: Arc::clone(engine),
        service: service.clone(),
        request,
        target,
        guard: Some(guard),
        deadline: true,
        permit: Some(permit),
        replaces: Some(Arc::clone(stale)),
        lookup: Arc::clone(&stale.key),
        background: true,
    }));
}

/// Everything past the in-memory lookup: the remote tier, single-flight and renders.
struct SlowPath<S, ReqBody> {
    visit: Visit,
    service: S,
    request: Request<ReqBody>,
}

/// What the slow path knows about the visitor it answers.
struct Visit {
    engine: Arc<Engine>,
    target: RenderTarget,
    lookup: Arc<str>,
    fallback: Option<Arc<Entry>>,
    if_none_match: Option<HeaderValue>,
}

impl<S, ReqBody, ResBody> SlowPath<S, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Default + Send + 'static,
    ResBody: Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Send + 'static,
{
    async fn serve(mut self) -> Result<Response<IsrBody<ResBody>>, S::Error> {
        let engine = Arc::clone(&self.visit.engine);
        let visit = &mut self.visit;
        if visit.fallback.is_none() && !engine.store.is_local_only() {
            match engine.store.get(&visit.lookup).await {
                Ok(Some(entry)) if !visit.target.authorized || entry.shared_with_authorization => {
                    match engine.freshness(&entry, engine.clock.now()) {
                        Freshness::Fresh => return Ok(visit.serve(&entry, CacheStatus::Hit)),
                        Freshness::Stale => {
                            let job = || {
                                let mut target = visit.target.clone();
                                target.head = false;
                                (clone_request(&self.request), target)
                            };
                            regenerate_in_background(&engine, &self.service, &entry, job);
                            return Ok(self.visit.serve(&entry, CacheStatus::Stale));
                        }
                        Freshness::Expired => visit.fallback = Some(entry),
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    engine.stats.inc_store_errors();
                    tracing::warn!(target: "isr", key = %visit.lookup, %error, "store read failed; rendering instead");
                }
            }
        }

        let visit = &self.visit;
        // Requests with `Authorization`, and keys whose responses are known not to be
        // cacheable, render on their own: there is nothing to share with other visitors.
        if visit.target.authorized
            || (visit.fallback.is_none() && engine.is_known_uncacheable(&visit.lookup))
        {
            return self.render(None).await;
        }
        if let Some(old) = &visit.fallback
            && engine.is_backing_off(old)
        {
            return Ok(visit.serve(old, CacheStatus::Stale));
        }
        match engine.join_flight(&visit.lookup) {
            Join::Lead(guard) => self.render(Some(guard)).await,
            Join::Wait(waiter) => {
                let landing =
                    tokio::time::timeout(engine.config.waiter_timeout, waiter.landing()).await;
                match (landing, visit.fallback.clone()) {
                    // The leader's entry is only this visitor's page if it is the same `Vary`
                    // variant; the variant is known only once the response has said so.
                    (Ok(Landing::Entry(entry)), _)
                        if *entry.key
                            == *engine.lookup_key(
                                &visit.target.primary,
                                &visit.target.request_headers,
                            ) =>
                    {
                        Ok(visit.serve(&entry, CacheStatus::Miss))
                    }
                    (_, Some(old)) => Ok(visit.serve(&old, CacheStatus::Stale)),
                    (_, None) => self.render(None).await,
                }
            }
        }
    }

    async fn render(
        self,
        guard: Option<FlightGuard>,
    ) -> Result<Response<IsrBody<ResBody>>, S::Error> {
        let SlowPath {
            visit,
            service,
            request,
        } = self;
        let job = RenderJob {
            engine: Arc::clone(&visit.engine),
            service,
            request,
            target: visit.target.clone(),
            guard,
            deadline: visit.fallback.is_some(),
            permit: None,
            replaces: visit.fallback.clone(),
            lookup: Arc::clone(&visit.lookup),
            background: false,
        };
        let rendered = render_in_place(job).await;
        visit.finish(rendered)
    }
}

impl Visit {
    fn finish<B, E>(&self, rendered: Rendered<B, E>) -> Result<Response<IsrBody<B>>, E>
    where
        B: Body,
    {
        let engine = &self.engine;
        let key = &*self.lookup;
        match (rendered, &self.fallback) {
            (Rendered::Stored(entry), _) => Ok(self.serve(&entry, CacheStatus::Miss)),
            (Rendered::Passed(response, reason), _) => {
                engine.trace_request(CacheStatus::Bypass, key, None, Some(&reason));
                Ok(response)
            }
            (
                Rendered::Failed(_)
                | Rendered::Errored(_)
                | Rendered::Panicked(_)
                | Rendered::Skipped,
                Some(old),
            ) => Ok(self.serve(old, CacheStatus::Stale)),
            (Rendered::Failed(Some(response)), None) => {
                engine.trace_request(CacheStatus::Bypass, key, None, Some(&"the render failed"));
                Ok(response)
            }
            // Only renders with an older copy to fall back on have a deadline, and only
            // background regenerations step aside for another instance.
            (Rendered::Failed(None) | Rendered::Skipped, None) => {
                Ok(self.unavailable("render timed out"))
            }
            (Rendered::Errored(error), None) => {
                engine.trace_request(
                    CacheStatus::Bypass,
                    key,
                    None,
                    Some(&"the render returned an error"),
                );
                Err(error)
            }
            // No older copy: the visitor sees the panic as if there were no cache.
            (Rendered::Panicked(panic), None) => std::panic::resume_unwind(panic),
        }
    }

    fn serve<B: Body>(&self, entry: &Entry, status: CacheStatus) -> Response<IsrBody<B>> {
        self.engine
            .trace_request(status, &entry.key, entry.route(), None);
        serve_entry(
            entry,
            status,
            self.engine.clock.now(),
            self.target.head,
            self.if_none_match.as_ref(),
        )
    }

    fn unavailable<B: Body>(&self, why: &'static str) -> Response<IsrBody<B>> {
        self.engine
            .trace_request(CacheStatus::Bypass, &self.lookup, None, Some(&why));
        let mut response = Response::new(IsrBody::full(Bytes::from_static(why.as_bytes())));
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        response
            .headers_mut()
            .insert(CacheStatus::HEADER, CacheStatus::Bypass.header_value());
        response
    }
}
