//! One render owned by the cache: the job, the call of the application, and how it ended.
//!
//! A render outlives the request that started it: a visitor who disconnects does not cancel the
//! render others wait on, and a panic or timeout inside it is caught here, counted as a failed
//! render, and never leaves its key locked (the [`FlightGuard`] lands when the task ends).

use std::any::Any;
use std::sync::Arc;

use http::{HeaderValue, Response};
use http_body::Body;
use tokio::sync::OwnedSemaphorePermit;

use super::flight::FlightGuard;
use super::tee::{Tee, TeeJob};
use super::{Admission, Engine, RenderTarget, admit};
use crate::body::IsrBody;
use crate::catch_unwind::CatchUnwind;
use crate::entry::Entry;
use crate::filters::BypassReason;
use crate::policy::{RenderContext, Withheld};
use crate::render::Render;
use crate::store::LockToken;

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

/// What calling the application gave: how the render ended, or a body still being read.
pub(super) enum Called<B: Body, E> {
    /// The render ended.
    Done(Rendered<B, E>),
    /// The visitor's answer streams the body while the tee reads on for the cache; the tee
    /// must be run on the render's executor.
    Streaming(Box<Tee<B>>, Response<IsrBody<B>>),
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn render<R: Render>(
    engine: Arc<Engine>,
    call: R,
    target: RenderTarget,
    guard: Option<FlightGuard>,
    deadline: bool,
    replaces: Option<Arc<Entry>>,
    stream: bool,
    lock: &mut Option<(Arc<str>, LockToken)>,
) -> Called<R::Body, R::Error> {
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
                return Called::Done(Rendered::Failed(None));
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
            return Called::Done(Rendered::Errored(error));
        }
        Err(panic) => {
            engine.render_failed(key, replaces.as_deref(), &"the inner service panicked");
            return Called::Done(Rendered::Panicked(panic));
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
                return Called::Done(Rendered::Failed(None));
            }
        }
    } else {
        admission.await
    };
    match admission {
        Ok(Admission::Store(entry)) => {
            engine.land_stored(key, guard, &entry).await;
            Called::Done(Rendered::Stored(entry))
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
            Called::Streaming(
                Box::new(tee),
                Response::from_parts(head, IsrBody::stream(teed)),
            )
        }
        Ok(Admission::Pass { response, reason }) => {
            engine
                .land_passed(key, guard, replaces.as_deref(), reason)
                .await;
            Called::Done(Rendered::Passed(response, reason))
        }
        Ok(Admission::Fail { response, failure }) => {
            engine.render_failed(key, replaces.as_deref(), &failure);
            Called::Done(Rendered::Failed(Some(response)))
        }
        Err(panic) => {
            engine.render_failed(key, replaces.as_deref(), &"the response body panicked");
            Called::Done(Rendered::Panicked(panic))
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
