//! The engine's steps for framework adapters.
//!
//! [`IsrService`](crate::IsrService) answers tower requests with these steps, and the actix-web
//! middleware answers actix requests with the same ones: every decision about what is served,
//! stored and regenerated is made here, so both give the same answers. An adapter only translates:
//!
//! 1. [`IsrLayer::lookup`](crate::IsrLayer::lookup) with the request head (`http` types) says
//!    what to do: answer from the cache ([`Lookup::Hit`], [`Lookup::Stale`]), call the
//!    application as if there were no cache ([`Lookup::Bypass`]), or render ([`Lookup::Render`]).
//! 2. A render is the adapter's [`Render`]: its application and the visitor's request, prepared
//!    with [`prepare_headers`] and the canonical URI of [`Visit::rewrite`].
//! 3. [`Visit::serve_local`] (or [`Regeneration::spawn_local`] for a stale entry) runs the
//!    render the way the cache owns it: one render per key, not cancelled when the visitor goes
//!    away, panics and timeouts keeping the last good page.
//!
//! The `_local` functions run renders as tasks of the current thread's
//! [`LocalSet`](tokio::task::LocalSet), for applications that are not `Send` (actix-web runs
//! every worker on one); they panic outside a `LocalSet`.

use std::sync::Arc;

use bytes::Bytes;
use http::uri::PathAndQuery;
use http::{Request, Response, StatusCode};
use http_body::Body;
use tokio::sync::OwnedSemaphorePermit;

use crate::IsrLayer;
use crate::body::IsrBody;
use crate::engine::{
    Conditions, Engine, FlightGuard, Freshness, Join, Landing, OwnedConditions, RenderTarget,
    serve_entry,
};
use crate::entry::Entry;
use crate::filters::{self, BypassReason};
use crate::key;
pub use crate::policy_layer::Restored;
pub use crate::render::Render;
use crate::render::{Executor, Local, RenderJob, Rendered};
use crate::status::CacheStatus;

pub use crate::render::{RENDER_DROPS_HEADERS, prepare_headers};

/// A context for a request the cache is not rendering (it bypassed the cache, or there is no
/// cache): an extractor's reads ([`query_param`](crate::RenderContext::query_param),
/// [`cookies`](crate::RenderContext::cookies), …)
/// return the request's own `query` and `Cookie` lines, and its writes go nowhere.
pub fn unrendered_context<'a>(
    query: Option<&str>,
    cookie_lines: impl IntoIterator<Item = &'a [u8]>,
) -> crate::RenderContext {
    crate::RenderContext::withholding(crate::policy::Withheld::of(
        query.filter(|q| !q.is_empty()).map(str::to_owned),
        cookie_lines,
    ))
}

/// `uri` with the query its visitor sent, for an endpoint that reads it under the cache (the
/// purge endpoint's `?secret=` and `?limit=`): inside a render, the withheld query is taken
/// back with [`RenderContext::query`](crate::RenderContext::query), which makes the answer
/// dynamic; outside one, `uri` as it is.
pub fn visitor_uri(uri: &http::Uri, render: Option<&crate::RenderContext>) -> http::Uri {
    let mut uri = uri.clone();
    if let Some(query) = render.and_then(crate::RenderContext::query) {
        crate::policy_layer::set_query(&mut uri, &query);
    }
    uri
}

/// What to do with a request: the answer of [`IsrLayer::lookup`].
#[derive(Debug)]
#[must_use = "a lookup says how to answer the request"]
pub enum Lookup<B: Body> {
    /// Answer with this fresh page (`x-isr-cache: HIT`).
    Hit(Response<IsrBody<B>>),
    /// Answer with this page past its revalidate time (`x-isr-cache: STALE`); if a
    /// regeneration is due, start it with the visitor's request.
    Stale {
        /// The answer.
        response: Response<IsrBody<B>>,
        /// The regeneration to start, unless one runs already, the key backs off after a
        /// failure, or the bound on background regenerations is reached.
        regeneration: Option<Regeneration>,
    },
    /// Not for the cache: call the application and mark its answer `x-isr-cache: BYPASS`.
    Bypass(BypassReason),
    /// Look further (the shared store), then render or wait for the render in flight.
    Render(Visit),
}

impl IsrLayer {
    /// Looks a request up: the first step of every request, for adapters of other frameworks
    /// (see [the module](crate::adapter)).
    ///
    /// Only the head of `request` is read. Answers from the cache are built here; their body
    /// type `B` is the adapter's choice.
    pub fn lookup<A, B: Body>(&self, request: &Request<A>) -> Lookup<B> {
        lookup(self.engine(), request)
    }
}

/// See [`IsrLayer::lookup`].
pub(crate) fn lookup<A, B: Body>(engine: &Arc<Engine>, request: &Request<A>) -> Lookup<B> {
    let class = match filters::classify_request(request.method(), request.headers()) {
        Ok(class) => class,
        Err(reason) => return bypass(engine, request, reason),
    };
    let key = match key::request_key(&engine.config.key, request.uri(), request.headers()) {
        Ok(key) => key,
        Err(error) => return bypass(engine, request, BypassReason::from_key_error(error)),
    };

    let mut fallback = None;
    let lookup = engine.lookup_key(&key.key, request.uri().query(), request.headers());
    if let Some(entry) = engine.store.get_local(&lookup)
        && (!class.authorized || entry.shared_with_authorization)
    {
        let now = engine.clock.now();
        let conditions = Conditions::of(request.headers());
        match engine.freshness(&entry, now) {
            Freshness::Fresh => {
                engine.trace_request(CacheStatus::Hit, &entry.key, entry.route(), None);
                let response = serve_entry(&entry, CacheStatus::Hit, now, class.head, conditions);
                return Lookup::Hit(response);
            }
            Freshness::Stale => {
                engine.trace_request(CacheStatus::Stale, &entry.key, entry.route(), None);
                let response = serve_entry(&entry, CacheStatus::Stale, now, class.head, conditions);
                let regeneration = Regeneration::due(engine, &entry, key.path_rewritten, || {
                    (
                        render_target(&key, request, class.authorized, false),
                        key.rewrite.clone(),
                    )
                });
                return Lookup::Stale {
                    response,
                    regeneration,
                };
            }
            Freshness::Expired => fallback = Some(entry),
        }
    }

    let target = render_target(&key, request, class.authorized, class.head);
    // Without `Vary` the lookup key is the primary key: one allocation serves both.
    let lookup = match lookup {
        std::borrow::Cow::Borrowed(_) => Arc::clone(&target.primary),
        std::borrow::Cow::Owned(variant) => Arc::from(variant),
    };
    Lookup::Render(Visit {
        reply: Reply {
            engine: Arc::clone(engine),
            lookup,
            fallback,
            conditions: OwnedConditions::of(request.headers()),
            head: class.head,
        },
        target,
        rewrite: key.rewrite,
    })
}

fn bypass<A, B: Body>(engine: &Engine, request: &Request<A>, reason: BypassReason) -> Lookup<B> {
    engine.trace_request(
        CacheStatus::Bypass,
        request.uri().path(),
        None,
        Some(&reason),
    );
    Lookup::Bypass(reason)
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
        path: key.path.clone(),
        request_headers: request.headers().clone(),
        query: request.uri().query().map(Arc::from),
        authorized,
        head,
        path_rewritten: key.path_rewritten,
    }
}

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
    /// spelled the URL differently from its canonical form (see [`Visit::rewrite`]).
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

/// A request the in-memory tier could not answer: what [`serve_local`](Visit::serve_local)
/// needs to look in the shared tier, join the render in flight or render.
#[derive(Debug)]
#[must_use = "a visit answers the request when served"]
pub struct Visit {
    reply: Reply,
    target: RenderTarget,
    rewrite: Option<PathAndQuery>,
}

/// What answering a visitor needs once the render target has gone to the render.
#[derive(Debug)]
struct Reply {
    engine: Arc<Engine>,
    lookup: Arc<str>,
    fallback: Option<Arc<Entry>>,
    conditions: OwnedConditions,
    head: bool,
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
                        Freshness::Fresh => {
                            return self.reply.answer(&entry, CacheStatus::Hit, render);
                        }
                        Freshness::Stale => {
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
                        Freshness::Expired => self.reply.fallback = Some(entry),
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    engine.stats.inc_store_errors();
                    tracing::warn!(target: "isr", key = %self.reply.lookup, %error, "store read failed; rendering instead");
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
    fn answer<R: Render>(&self, entry: &Entry, status: CacheStatus, render: R) -> Served<R> {
        Served {
            response: Ok(self.serve_entry(entry, status)),
            unused: Some(render),
        }
    }

    fn serve_entry<B: Body>(&self, entry: &Entry, status: CacheStatus) -> Response<IsrBody<B>> {
        self.engine
            .trace_request(status, &entry.key, entry.route(), None);
        serve_entry(
            entry,
            status,
            self.engine.clock.now(),
            self.head,
            self.conditions.borrow(),
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
