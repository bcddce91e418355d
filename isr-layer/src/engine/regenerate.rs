//! A background regeneration of a stale entry: due or not, and how it starts.

use std::sync::Arc;

use http::uri::PathAndQuery;
use tokio::sync::OwnedSemaphorePermit;

use super::executor::{Executor, Local};
use super::flight::FlightGuard;
use super::render_job::RenderJob;
use super::{Engine, RenderTarget};
use crate::entry::Entry;
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
    /// [`BypassReason::NonCanonicalPath`](crate::filters::BypassReason::NonCanonicalPath)). Those checks come first: what `target` builds is
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
