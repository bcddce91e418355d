//! Renders owned by the cache: the inner service is called in a spawned task.
//!
//! A render outlives the request that started it: a visitor who disconnects does not cancel the
//! render others wait on, and a panic or timeout inside it is caught here, counted as a failed
//! render, and never leaves its key locked (the [`FlightGuard`] lands when the task ends).

use std::any::Any;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{
    IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, IF_UNMODIFIED_SINCE, RANGE,
};
use http::uri::PathAndQuery;
use http::{Method, Request, Response, Uri};
use http_body::Body;
use pin_project_lite::pin_project;
use tokio::sync::OwnedSemaphorePermit;
use tokio::task::JoinHandle;
use tower_service::Service;

use crate::body::IsrBody;
use crate::engine::{Admission, Engine, FlightGuard, Landing, RenderTarget, admit};
use crate::entry::Entry;
use crate::filters::BypassReason;
use crate::policy::RenderContext;

/// How one render ended.
pub(crate) enum Rendered<B: Body, E> {
    /// Stored; serve the entry.
    Stored(Arc<Entry>),
    /// Not cacheable; the response for the visitor who asked.
    Passed(Response<IsrBody<B>>, BypassReason),
    /// Failed with a response (5xx, broken body) or without one (timeout).
    Failed(Option<Response<IsrBody<B>>>),
    /// Not rendered: another instance sharing the store is regenerating this page.
    Skipped,
    /// The inner service returned an error.
    Errored(E),
    /// The inner service panicked.
    Panicked(Box<dyn Any + Send>),
}

/// One render to run.
pub(crate) struct RenderJob<S, ReqB> {
    pub(crate) engine: Arc<Engine>,
    pub(crate) service: S,
    pub(crate) request: Request<ReqB>,
    pub(crate) target: RenderTarget,
    /// The flight this render leads, if any.
    pub(crate) guard: Option<FlightGuard>,
    /// Whether the render is bounded by the regeneration timeout (when an older copy exists to
    /// fall back on; a first render is the visitor's own request and is not cut short).
    pub(crate) deadline: bool,
    /// A background regeneration's place under the concurrency bound.
    pub(crate) permit: Option<OwnedSemaphorePermit>,
    /// The entry this render replaces: its retry back-off records a failure, and it is
    /// removed if the page is no longer cacheable.
    pub(crate) replaces: Option<Arc<Entry>>,
    /// The key the render is looked up, coalesced and locked under.
    pub(crate) lookup: Arc<str>,
    /// A background regeneration (nobody waits for it) rather than a visitor's render.
    pub(crate) background: bool,
}

/// What the stores shared with other instances say about rendering now.
enum Turn {
    /// Render, releasing this lock token (if any) afterwards.
    Render(Option<String>),
    /// Another instance already stored a newer, fresh entry: use it.
    Adopt(Arc<Entry>),
    /// Another instance is regenerating; nobody waits here, so leave it to them.
    Skip,
}

/// With a store shared by several instances, one render per key across all of them: take the
/// store's lock; if another instance holds it, a background regeneration steps aside and a
/// visitor waits (bounded by the waiter timeout) for that instance's entry. Whoever renders
/// first checks whether a newer entry has landed meanwhile.
async fn cluster_turn(
    engine: &Engine,
    lookup: &str,
    replaces: Option<&Entry>,
    background: bool,
) -> Turn {
    let newer = |entry: &Arc<Entry>| {
        replaces.is_none_or(|old| entry.stored_at > old.stored_at)
            && engine.freshness(entry, engine.clock.now()) == crate::engine::Freshness::Fresh
    };
    let ttl = engine.config.regeneration_timeout + std::time::Duration::from_secs(1);
    let deadline = tokio::time::Instant::now() + engine.config.waiter_timeout;
    loop {
        let lock = match engine.store.try_lock(lookup, ttl).await {
            Ok(lock) => lock,
            Err(error) => {
                engine.stats.inc_store_errors();
                tracing::warn!(target: "isr", key = lookup, %error, "store lock failed; rendering here");
                crate::store::LockOutcome::Acquired(None)
            }
        };
        let fresh = match engine.store.get_shared(lookup).await {
            Ok(Some(entry)) if newer(&entry) => Some(entry),
            _ => None,
        };
        match (lock, fresh) {
            (crate::store::LockOutcome::Acquired(token), Some(entry)) => {
                if let Some(token) = token {
                    let _ = engine.store.unlock(lookup, token).await;
                }
                return Turn::Adopt(entry);
            }
            (crate::store::LockOutcome::Acquired(token), None) => return Turn::Render(token),
            (_, Some(entry)) => return Turn::Adopt(entry),
            (_, None) if background => return Turn::Skip,
            (_, None) if tokio::time::Instant::now() >= deadline => return Turn::Render(None),
            (_, None) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    }
}

/// Starts a render in a task of its own.
pub(crate) fn spawn_render<S, ReqB, ResB>(
    job: RenderJob<S, ReqB>,
) -> JoinHandle<Rendered<ResB, S::Error>>
where
    S: Service<Request<ReqB>, Response = Response<ResB>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqB: Send + 'static,
    ResB: Body<Data = Bytes> + Send + 'static,
    ResB::Error: Send + 'static,
{
    tokio::spawn(run(job))
}

/// Runs a render in the visitor's own task, and hands it to a task of its own if the visitor
/// goes away first, so a disconnect never cancels a render that others may be waiting on.
///
/// This keeps the common case (the visitor stays) free of a task spawn and the scheduling hop
/// that waking the visitor from another task would cost.
pub(crate) fn render_in_place<S, ReqB, ResB>(
    job: RenderJob<S, ReqB>,
) -> OwnedRender<Rendered<ResB, S::Error>>
where
    S: Service<Request<ReqB>, Response = Response<ResB>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqB: Send + 'static,
    ResB: Body<Data = Bytes> + Send + 'static,
    ResB::Error: Send + 'static,
{
    OwnedRender {
        render: Some(Box::pin(run(job))),
    }
}

/// See [`render_in_place`].
pub(crate) struct OwnedRender<T: Send + 'static> {
    render: Option<Pin<Box<dyn Future<Output = T> + Send>>>,
}

impl<T: Send + 'static> Future for OwnedRender<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let Some(render) = self.render.as_mut() else {
            return Poll::Pending;
        };
        let output = std::task::ready!(render.as_mut().poll(cx));
        self.render = None;
        Poll::Ready(output)
    }
}

impl<T: Send + 'static> Drop for OwnedRender<T> {
    fn drop(&mut self) {
        if let Some(render) = self.render.take() {
            // Outside a runtime there is nothing to hand over to; the flight guard inside the
            // render then lands "nothing" as it is dropped, so no key stays locked.
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                drop(runtime.spawn(render));
            }
        }
    }
}

async fn run<S, ReqB, ResB>(job: RenderJob<S, ReqB>) -> Rendered<ResB, S::Error>
where
    S: Service<Request<ReqB>, Response = Response<ResB>> + Send + 'static,
    S::Future: Send + 'static,
    ResB: Body<Data = Bytes> + Send + 'static,
{
    let RenderJob {
        engine,
        service,
        request,
        target,
        guard,
        deadline,
        permit,
        replaces,
        lookup,
        background,
    } = job;
    let _permit = permit;
    let mut lock_token = None;
    if !engine.store.is_local_only() {
        match cluster_turn(&engine, &lookup, replaces.as_deref(), background).await {
            Turn::Render(token) => lock_token = token,
            Turn::Adopt(entry) => {
                if let Some(guard) = guard {
                    guard.land(Landing::Entry(Arc::clone(&entry)));
                }
                return Rendered::Stored(entry);
            }
            Turn::Skip => {
                if let Some(guard) = guard {
                    guard.land(Landing::Nothing);
                }
                return Rendered::Skipped;
            }
        }
    }
    let rendered = render(
        engine.clone(),
        service,
        request,
        target,
        guard,
        deadline,
        replaces,
    )
    .await;
    if let Some(token) = lock_token
        && let Err(error) = engine.store.unlock(&lookup, token).await
    {
        tracing::warn!(target: "isr", key = %lookup, %error, "store unlock failed; the lock expires by itself");
    }
    rendered
}

async fn render<S, ReqB, ResB>(
    engine: Arc<Engine>,
    mut service: S,
    mut request: Request<ReqB>,
    target: RenderTarget,
    guard: Option<FlightGuard>,
    deadline: bool,
    replaces: Option<Arc<Entry>>,
) -> Rendered<ResB, S::Error>
where
    S: Service<Request<ReqB>, Response = Response<ResB>> + Send + 'static,
    S::Future: Send + 'static,
    ResB: Body<Data = Bytes> + Send + 'static,
{
    let render = RenderContext::new();
    request.extensions_mut().insert(render.clone());
    let started = engine.clock.stamp();
    engine.stats.inc_renders();
    let key = &target.primary;

    // The context is current while the service runs, so data fetches can tag the page.
    let call = CatchUnwind::new(render.clone().scope(async move {
        poll_fn(|cx| service.poll_ready(cx)).await?;
        service.call(request).await
    }));
    let outcome = if deadline {
        match tokio::time::timeout(engine.config.regeneration_timeout, call).await {
            Ok(outcome) => outcome,
            Err(_) => {
                engine.render_failed(key, replaces.as_deref(), &"timed out");
                return Rendered::Failed(None);
            }
        }
    } else {
        call.await
    };
    let response = match outcome {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => {
            engine.render_failed(
                key,
                replaces.as_deref(),
                &"the inner service returned an error",
            );
            return Rendered::Errored(error);
        }
        Err(panic) => {
            engine.render_failed(key, replaces.as_deref(), &"the inner service panicked");
            return Rendered::Panicked(panic);
        }
    };

    // Reading the body runs the inner service's code too, so it is guarded the same way.
    let admission = CatchUnwind::new(admit(&engine, &target, started, render.take(), response));
    let admission = if deadline {
        match tokio::time::timeout(engine.config.regeneration_timeout, admission).await {
            Ok(admission) => admission,
            Err(_) => {
                engine.render_failed(key, replaces.as_deref(), &"timed out reading the body");
                return Rendered::Failed(None);
            }
        }
    } else {
        admission.await
    };
    match admission {
        Ok(Admission::Store(entry)) => {
            engine.commit(key, &entry).await;
            if let Some(guard) = guard {
                guard.land(Landing::Entry(Arc::clone(&entry)));
            }
            Rendered::Stored(entry)
        }
        Ok(Admission::Pass { response, reason }) => {
            if reason != BypassReason::Authorization {
                engine.remember_uncacheable(key, reason);
            }
            if let Some(old) = &replaces {
                engine.discard(&old.key).await;
            }
            if let Some(guard) = guard {
                guard.land(Landing::Nothing);
            }
            Rendered::Passed(response, reason)
        }
        Ok(Admission::Fail { response, failure }) => {
            engine.render_failed(key, replaces.as_deref(), &failure);
            Rendered::Failed(Some(response))
        }
        Err(panic) => {
            engine.render_failed(key, replaces.as_deref(), &"the response body panicked");
            Rendered::Panicked(panic)
        }
    }
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
    let headers = request.headers_mut();
    for name in [
        IF_NONE_MATCH,
        IF_MODIFIED_SINCE,
        IF_MATCH,
        IF_UNMODIFIED_SINCE,
        IF_RANGE,
        RANGE,
    ] {
        headers.remove(name);
    }
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

pin_project! {
    /// Resolves to `Err(payload)` if polling the inner future panics.
    pub(crate) struct CatchUnwind<F> {
        #[pin]
        inner: F,
    }
}

impl<F> CatchUnwind<F> {
    pub(crate) fn new(inner: F) -> Self {
        Self { inner }
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn Any + Send>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.project().inner;
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}
