//! Renders owned by the cache.
//!
//! A render outlives the request that started it: a visitor who disconnects does not cancel the
//! render others wait on, and a panic or timeout inside it is caught here, counted as a failed
//! render, and never leaves its key locked (the [`FlightGuard`] lands when the task ends).
//!
//! What a render calls is a [`Render`]: the tower service and a request here, an actix service
//! and its request in the actix adapter. Where renders run is an [`Executor`]: tasks of the
//! multi-threaded runtime for `Send` services, tasks of the current thread's `LocalSet` for
//! services that are not `Send` (actix's).

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
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
use tokio::sync::OwnedSemaphorePermit;
use tower_service::Service;

use crate::body::IsrBody;
use crate::catch_unwind::CatchUnwind;
use crate::engine::{Admission, Engine, FlightGuard, Landing, RenderTarget, Tee, TeeJob, admit};
use crate::entry::Entry;
use crate::filters::BypassReason;
use crate::policy::{RenderContext, Withheld};

/// How one render ended.
pub(crate) enum Rendered<B: Body, E> {
    /// Stored; serve the entry.
    Stored(Arc<Entry>),
    /// Being stored: the visitor's answer streams the body as the application makes it.
    Streaming(Response<IsrBody<B>>),
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

/// Where renders run: how a visitor's render is owned by the cache, and how a background
/// regeneration is started.
pub(crate) trait Executor<R: Render> {
    /// A visitor's render; dropping it (the visitor went away) does not cancel the render.
    type Task: Future<Output = Rendered<R::Body, R::Error>>;

    /// Starts a render a visitor awaits.
    fn start(job: RenderJob<R>) -> Self::Task;

    /// Starts a render nobody awaits.
    fn detach(job: RenderJob<R>);

    /// Runs the rest of a streamed render (see [`Tee`]) in a task of its own.
    fn spawn_tee(tee: Tee<R::Body>);
}

/// Renders of `Send` applications, on the multi-threaded runtime.
pub(crate) enum Threaded {}

impl<R> Executor<R> for Threaded
where
    R: Render + Send + 'static,
    R::Future: Send,
    R::Body: Send + 'static,
    <R::Body as Body>::Error: Send,
    R::Error: Send + 'static,
{
    type Task = OwnedRender<Rendered<R::Body, R::Error>>;

    /// Runs the render in the visitor's own task, and hands it to a task of its own if the
    /// visitor goes away first. This keeps the common case (the visitor stays) free of a task
    /// spawn and the scheduling hop that waking the visitor from another task would cost.
    fn start(job: RenderJob<R>) -> Self::Task {
        OwnedRender {
            render: Some(Box::pin(run::<Self, R>(job))),
        }
    }

    fn detach(job: RenderJob<R>) {
        drop(tokio::spawn(run::<Self, R>(job)));
    }

    fn spawn_tee(tee: Tee<R::Body>) {
        drop(tokio::spawn(tee.run()));
    }
}

/// Renders of applications that are not `Send` (actix-web's), on the current thread's
/// [`LocalSet`](tokio::task::LocalSet).
pub(crate) enum Local {}

impl<R> Executor<R> for Local
where
    R: Render + 'static,
    R::Body: 'static,
    R::Error: 'static,
{
    type Task = LocalRender<Rendered<R::Body, R::Error>>;

    /// Every render runs in a local task of its own; the visitor awaits its handle, and a
    /// dropped handle leaves the task running.
    fn start(job: RenderJob<R>) -> Self::Task {
        LocalRender {
            handle: tokio::task::spawn_local(run::<Self, R>(job)),
        }
    }

    fn detach(job: RenderJob<R>) {
        drop(tokio::task::spawn_local(run::<Self, R>(job)));
    }

    fn spawn_tee(tee: Tee<R::Body>) {
        drop(tokio::task::spawn_local(tee.run()));
    }
}

/// See [`Local::start`].
pub(crate) struct LocalRender<T> {
    handle: tokio::task::JoinHandle<T>,
}

impl<B: Body, E> Future for LocalRender<Rendered<B, E>> {
    type Output = Rendered<B, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match std::task::ready!(Pin::new(&mut self.handle).poll(cx)) {
            Ok(rendered) => Poll::Ready(rendered),
            // The application's panics are caught inside the render; one that escapes (a
            // store's, say) reaches the visitor as it would on the multi-threaded runtime.
            Err(error) if error.is_panic() => Poll::Ready(Rendered::Panicked(error.into_panic())),
            // A task is only cancelled when its runtime shuts down; nobody reads the answer.
            Err(_) => Poll::Ready(Rendered::Failed(None)),
        }
    }
}

/// One render to run.
pub(crate) struct RenderJob<R> {
    pub(crate) engine: Arc<Engine>,
    pub(crate) render: R,
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
        let (lock, fresh) = match engine.store.try_lock_then_get(lookup, ttl).await {
            Ok((lock, entry)) => (lock, entry.filter(newer)),
            Err(error) => {
                engine.stats.inc_store_errors();
                tracing::warn!(target: "isr", key = lookup, %error, "store lock failed; rendering here");
                (crate::store::LockOutcome::Acquired(None), None)
            }
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

/// See [`Threaded::start`].
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

async fn run<X: Executor<R>, R: Render>(job: RenderJob<R>) -> Rendered<R::Body, R::Error> {
    let RenderJob {
        engine,
        render: call,
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
    let mut lock = lock_token.map(|token| (lookup, token));
    let rendered = render::<X, R>(
        engine.clone(),
        call,
        target,
        guard,
        deadline,
        replaces,
        !background,
        &mut lock,
    )
    .await;
    // A streamed render gives the lock back when its body has been read.
    if let Some((lookup, token)) = lock {
        engine.release_lock(&lookup, token).await;
    }
    rendered
}

#[allow(clippy::too_many_arguments)]
async fn render<X: Executor<R>, R: Render>(
    engine: Arc<Engine>,
    call: R,
    target: RenderTarget,
    guard: Option<FlightGuard>,
    deadline: bool,
    replaces: Option<Arc<Entry>>,
    stream: bool,
    lock: &mut Option<(Arc<str>, String)>,
) -> Rendered<R::Body, R::Error> {
    let render = RenderContext::withholding(withheld(&engine, &target));
    let started = engine.clock.stamp();
    engine.stats.inc_renders();
    let key = &target.primary;

    // The context is current while the service runs, so data fetches can tag the page.
    // The application is called inside the scope: some start their work in the call itself.
    let context = render.clone();
    let call = CatchUnwind::new(
        render
            .clone()
            .scope(async move { call.render(context).await }),
    );
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
    let admission = CatchUnwind::new(admit(
        &engine,
        &target,
        started,
        render.take(),
        response,
        stream,
    ));
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
            engine.land_stored(key, guard, &entry).await;
            Rendered::Stored(entry)
        }
        Ok(Admission::Stream(streaming)) => {
            let job = TeeJob {
                engine: Arc::clone(&engine),
                primary: Arc::clone(key),
                guard,
                replaces,
                deadline: deadline
                    .then(|| tokio::time::Instant::now() + engine.config.regeneration_timeout),
                lock: lock.take(),
            };
            let (tee, head, teed) = Tee::new(job, streaming);
            X::spawn_tee(tee);
            Rendered::Streaming(Response::from_parts(head, IsrBody::stream(teed)))
        }
        Ok(Admission::Pass { response, reason }) => {
            engine
                .land_passed(key, guard, replaces.as_deref(), reason)
                .await;
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
/// (`Accept-Encoding: identity`): the cache makes the encodings itself, once per render,
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

/// What the render of `target` is not sent of the visitor's request: the query beyond the key's
/// parameters, and the cookies (see [`RenderContext`]).
fn withheld(engine: &Engine, target: &RenderTarget) -> Withheld {
    let cookies = target.request_headers.get_all(http::header::COOKIE);
    Withheld::of(
        crate::key::visible_query(target.query.as_deref(), &engine.config.key),
        cookies.iter().map(HeaderValue::as_bytes),
    )
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
