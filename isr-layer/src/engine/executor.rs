//! Where renders run — tasks of the multi-threaded runtime for `Send` applications, tasks of the
//! current thread's `LocalSet` for applications that are not `Send` (actix's) — and how a job
//! runs there: the cluster lock's turn, the render, the rest of a streamed body.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use std::sync::Arc;

use http_body::Body;

use super::cluster_lock::{Turn, cluster_turn};
use super::flight::Landing;
use super::render_job::{Called, RenderJob, Rendered, render};
use super::tee::Tee;
use crate::render::Render;

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

/// Runs a render job on executor `X`.
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
    // A render for a request with `Authorization` is that visitor's own: it neither takes the
    // shared lock nor adopts what another instance stored (a page for visitors without
    // credentials), as a single instance renders it on its own (see `Visit::serve`).
    if !engine.store.is_local_only() && !target.authorized {
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
    let called = render::<R>(
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
    let rendered = match called {
        Called::Done(rendered) => rendered,
        Called::Streaming(tee, response) => {
            X::spawn_tee(*tee);
            Rendered::Streaming(response)
        }
    };
    // A streamed render gives the lock back when its body has been read.
    if let Some((lookup, token)) = lock {
        engine.release_lock(&lookup, token).await;
    }
    rendered
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
