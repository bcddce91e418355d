//! Renders owned by the cache: the job, how it runs, and how it ends.
//!
//! A render outlives the request that started it: a visitor who disconnects does not cancel the
//! render others wait on, and a panic or timeout inside it is caught here, counted as a failed
//! render, and never leaves its key locked (the [`FlightGuard`] lands when the task ends).

use std::any::Any;
use std::sync::Arc;

use http::uri::PathAndQuery;
use http::{HeaderValue, Response};
use http_body::Body;
use tokio::sync::OwnedSemaphorePermit;

use super::cluster_lock::{Turn, cluster_turn};
use super::executor::{Executor, Local};
use super::flight::{FlightGuard, Landing};
use super::tee::{Tee, TeeJob};
use super::{Admission, Engine, RenderTarget, admit};
use crate::body::IsrBody;
use crate::catch_unwind::CatchUnwind;
use crate::entry::Entry;
use crate::filters::BypassReason;
use crate::policy::{RenderContext, Withheld};
use crate::render::Render;

/// A background regeneration of a stale entry, due to start with the visitor's request.
///
/// It holds the key's render slot: dropping it without starting it frees the slot, and the next
/// visitor of the stale page tries again.
#[derive(Debug)]
#[must_use = "dropping a regeneration cancels it"]
pub struct Regeneration {
    engine: Arc<Engine>,
    stale: Arc<Entry>,
    target: RenderTarget,
    rewrite: Option<PathAndQuery>,
    guard: FlightGuard,
    permit: OwnedSemaphorePermit,
}

impl Regeneration {
    /// A regeneration of `stale`, unless the key is backing off after failures, the concurrency
    /// bound is reached, a render of the key is already running, or the visitor's request
    /// spelled the path differently (`path_rewritten`: a regeneration renders from the
    /// visitor's request, and only the canonical spelling's render is stored, see
    /// [`BypassReason::NonCanonicalPath`]). Those checks come first: what `target` builds is
    /// only made for a render that starts.
    pub(crate) fn due(
        engine: &Arc<Engine>,
        stale: &Arc<Entry>,
        path_rewritten: bool,
        target: impl FnOnce() -> (RenderTarget, Option<PathAndQuery>),
    ) -> Option<Self> {
        if path_rewritten || engine.is_backing_off(stale) {
            return None;
        }
        let permit = engine.regeneration_permit()?;
        let guard = engine.try_lead_flight(&stale.key)?;
        let (target, rewrite) = target();
        Some(Self {
            engine: Arc::clone(engine),
            stale: Arc::clone(stale),
            target,
            rewrite,
            guard,
            permit,
        })
    }

    /// The path and query the render must request instead of the visitor's, when the visitor
    /// spelled the URL differently from its canonical form (see [`Visit::rewrite`](super::Visit::rewrite)).
    pub fn rewrite(&self) -> Option<&PathAndQuery> {
        self.rewrite.as_ref()
    }

    /// Starts the render as a task of the current thread's `LocalSet`.
    ///
    /// # Panics
    ///
    /// Outside a [`LocalSet`](tokio::task::LocalSet).
    pub fn spawn_local<R>(self, render: R)
    where
        R: Render + 'static,
        R::Body: 'static,
        R::Error: 'static,
    {
        self.spawn::<Local, R>(render);
    }

    /// Starts the render on executor `X`.
    pub(crate) fn spawn<X: Executor<R>, R: Render>(self, render: R) {
        X::detach(RenderJob {
            engine: self.engine,
            render,
            target: self.target,
            guard: Some(self.guard),
            deadline: true,
            permit: Some(self.permit),
            lookup: Arc::clone(&self.stale.key),
            replaces: Some(self.stale),
            background: true,
        });
    }
}

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

pub(super) async fn run<X: Executor<R>, R: Render>(
    job: RenderJob<R>,
) -> Rendered<R::Body, R::Error> {
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

/// What the render of `target` is not sent of the visitor's request: the query beyond the key's
/// parameters, and the cookies (see [`RenderContext`]).
fn withheld(engine: &Engine, target: &RenderTarget) -> Withheld {
    let cookies = target.request_headers.get_all(http::header::COOKIE);
    Withheld::of(
        crate::key::visible_query(target.query.as_deref(), &engine.config.key),
        cookies.iter().map(HeaderValue::as_bytes),
    )
}
