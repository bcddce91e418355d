//! A request the in-memory tier could not answer: the shared tier, single-flight and renders.

use std::sync::Arc;

use bytes::Bytes;
use http::uri::PathAndQuery;
use http::{Response, StatusCode};
use http_body::Body;

use super::executor::{Executor, Local};
use super::flight::{FlightGuard, Join, Landing};
use super::regenerate::Regeneration;
use super::render_job::{RenderJob, Rendered};
use super::respond::{OwnedConditions, serve_entry};
use super::{Engine, RenderTarget};
use crate::body::IsrBody;
use crate::entry::Entry;
use crate::invalidate::EntryState;
use crate::render::Render;
use crate::status::CacheStatus;

/// A request the in-memory tier could not answer: what [`serve_local`](Visit::serve_local)
/// needs to look in the shared tier, join the render in flight or render.
#[derive(Debug)]
#[must_use = "a visit answers the request when served"]
pub struct Visit {
    pub(super) reply: Reply,
    pub(super) target: RenderTarget,
    pub(super) rewrite: Option<PathAndQuery>,
}

/// What answering a visitor needs once the render target has gone to the render.
#[derive(Debug)]
pub(super) struct Reply {
    pub(super) engine: Arc<Engine>,
    pub(super) lookup: Arc<str>,
    pub(super) fallback: Option<Arc<Entry>>,
    pub(super) conditions: OwnedConditions,
    pub(super) head: bool,
}

/// How a [`Visit`] was answered.
#[derive(Debug)]
pub struct Served<R: Render> {
    /// The answer for the visitor.
    pub response: Result<Response<IsrBody<R::Body>>, R::Error>,
    /// The render, if it was not used: the answer came from the cache or from another
    /// visitor's render. An adapter whose framework needs the request to answer (actix's
    /// `ServiceRequest`) takes it back from here.
    pub unused: Option<R>,
}

impl Visit {
    /// The path and query a render must request instead of the visitor's, when the visitor
    /// spelled the URL differently from its canonical form (e.g. `/docs//a/` for `/docs/a`):
    /// the page is stored under the canonical URL, so it is rendered from it.
    pub fn rewrite(&self) -> Option<&PathAndQuery> {
        self.rewrite.as_ref()
    }

    /// Answers the visitor, rendering with `render` if needed, with renders as tasks of the
    /// current thread's `LocalSet`.
    ///
    /// # Panics
    ///
    /// Outside a [`LocalSet`](tokio::task::LocalSet); and, like the application would, when the
    /// render panics and there is no older page to answer with.
    pub async fn serve_local<R>(self, render: R) -> Served<R>
    where
        R: Render + 'static,
        R::Body: 'static,
        R::Error: 'static,
    {
        self.serve::<Local, R>(render).await
    }

    /// Everything past the in-memory lookup: the shared tier, single-flight and renders.
    pub(crate) async fn serve<X: Executor<R>, R: Render>(mut self, render: R) -> Served<R> {
        let engine = Arc::clone(&self.reply.engine);
        if self.reply.fallback.is_none() && !engine.store.is_local_only() {
            match engine.store.get(&self.reply.lookup).await {
                Ok(Some(entry)) if !self.target.authorized || entry.shared_with_authorization => {
                    match engine.freshness(&entry, engine.clock.now()) {
                        EntryState::Fresh => {
                            return self.reply.answer(&entry, CacheStatus::Hit, render);
                        }
                        EntryState::Stale => {
                            let path_rewritten = self.target.path_rewritten;
                            let regeneration =
                                Regeneration::due(&engine, &entry, path_rewritten, || {
                                    let mut target = self.target.clone();
                                    target.head = false;
                                    (target, self.rewrite.clone())
                                });
                            let response = self.reply.serve_entry(&entry, CacheStatus::Stale);
                            let unused = match regeneration {
                                Some(regeneration) => {
                                    regeneration.spawn::<X, R>(render);
                                    None
                                }
                                None => Some(render),
                            };
                            return Served {
                                response: Ok(response),
                                unused,
                            };
                        }
                        EntryState::Invalidated => self.reply.fallback = Some(entry),
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    engine.store_failed(
                        &self.reply.lookup,
                        &error,
                        "store read failed; rendering instead",
                    );
                }
            }
        }

        // Requests with `Authorization`, and keys whose responses are known not to be
        // cacheable, render on their own: there is nothing to share with other visitors.
        if self.target.authorized
            || self.target.path_rewritten
            || (self.reply.fallback.is_none() && engine.is_known_uncacheable(&self.reply.lookup))
        {
            return self.render::<X, R>(render, None).await;
        }
        if let Some(old) = &self.reply.fallback
            && engine.is_backing_off(old)
        {
            return self.reply.answer(old, CacheStatus::Stale, render);
        }
        match engine.join_flight(&self.reply.lookup) {
            Join::Lead(guard) => self.render::<X, R>(render, Some(guard)).await,
            Join::Wait(waiter) => {
                let landing =
                    tokio::time::timeout(engine.config.waiter_timeout, waiter.landing()).await;
                match (landing, self.reply.fallback.clone()) {
                    // The leader's entry is only this visitor's page if it is the same `Vary`
                    // variant; the variant is known only once the response has said so.
                    (Ok(Landing::Entry(entry)), _)
                        if *entry.key
                            == *engine.lookup_key(
                                &self.target.primary,
                                self.target.query.as_deref(),
                                &self.target.request_headers,
                            ) =>
                    {
                        self.reply.answer(&entry, CacheStatus::Miss, render)
                    }
                    (_, Some(old)) => self.reply.answer(&old, CacheStatus::Stale, render),
                    (_, None) => self.render::<X, R>(render, None).await,
                }
            }
        }
    }

    /// Renders, the target going with the render: the visitor's answer needs only the reply.
    async fn render<X: Executor<R>, R: Render>(
        self,
        render: R,
        guard: Option<FlightGuard>,
    ) -> Served<R> {
        let Self { reply, target, .. } = self;
        let job = RenderJob {
            engine: Arc::clone(&reply.engine),
            render,
            target,
            guard,
            deadline: reply.fallback.is_some(),
            permit: None,
            replaces: reply.fallback.clone(),
            lookup: Arc::clone(&reply.lookup),
            background: false,
        };
        let rendered = X::start(job).await;
        Served {
            response: reply.finish(rendered),
            unused: None,
        }
    }
}

impl Reply {
    fn finish<B, E>(&self, rendered: Rendered<B, E>) -> Result<Response<IsrBody<B>>, E>
    where
        B: Body,
    {
        let engine = &self.engine;
        let key = &*self.lookup;
        match (rendered, &self.fallback) {
            (Rendered::Stored(entry), _) => Ok(self.serve_entry(&entry, CacheStatus::Miss)),
            (Rendered::Streaming(response), _) => {
                engine.trace_request(CacheStatus::Miss, key, None, Some(&"streamed as rendered"));
                Ok(response)
            }
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
            ) => Ok(self.serve_entry(old, CacheStatus::Stale)),
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

    /// Answers from `entry` without rendering: the render goes back to the adapter.
    fn answer<R: Render>(&self, entry: &Arc<Entry>, status: CacheStatus, render: R) -> Served<R> {
        Served {
            response: Ok(self.serve_entry(entry, status)),
            unused: Some(render),
        }
    }

    fn serve_entry<B: Body>(
        &self,
        entry: &Arc<Entry>,
        status: CacheStatus,
    ) -> Response<IsrBody<B>> {
        self.engine
            .trace_request(status, &entry.key, entry.route(), None);
        serve_entry(
            &self.engine.store,
            entry,
            status,
            self.engine.clock.now(),
            self.head,
            self.conditions.borrow(),
        )
        .into_response()
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
