//! The first step of every request: the in-memory lookup, and what to do next.

use std::borrow::Cow;
use std::sync::Arc;

use http_body::Body;

use super::regenerate::Regeneration;
use super::request_head::{ReadHeaders, RequestHead, target_of};
use super::respond::{Answer, Conditions, OwnedConditions, serve_entry};
use super::visit::{Reply, Visit};
use super::{Engine, RenderTarget};
use crate::filters::{self, BypassReason};
use crate::invalidate::EntryState;
use crate::key;
use crate::status::CacheStatus;

/// What to do with a request: the answer of [`IsrLayer::lookup`](crate::IsrLayer::lookup).
#[derive(Debug)]
#[must_use = "a lookup says how to answer the request"]
pub enum Lookup<B: Body> {
    /// Answer with this fresh page (`x-isr-cache: HIT`).
    Hit(Answer<B>),
    /// Answer with this page past its revalidate time (`x-isr-cache: STALE`); if a
    /// regeneration is due, start it with the visitor's request.
    Stale {
        /// The answer.
        answer: Answer<B>,
        /// The regeneration to start, unless one runs already, the key backs off after a
        /// failure, or the bound on background regenerations is reached.
        regeneration: Option<Regeneration>,
    },
    /// Not for the cache: call the application and mark its answer `x-isr-cache: BYPASS`.
    Bypass(BypassReason),
    /// Look further (the shared store), then render or wait for the render in flight.
    Render(Visit),
}

/// See [`IsrLayer::lookup`].
pub(crate) fn lookup<H: RequestHead + ?Sized, B: Body>(
    engine: &Arc<Engine>,
    head: &H,
) -> Lookup<B> {
    let mut headers = ReadHeaders::first(head, &engine.config.key);
    let class = match filters::classify_request(head.method(), headers.map()) {
        Ok(class) => class,
        Err(reason) => return bypass(engine, head, reason),
    };
    let request_target = target_of(head);
    let key = match key::request_key(&engine.config.key, request_target, headers.map()) {
        Ok(key) => key,
        Err(error) => return bypass(engine, head, BypassReason::from_key_error(error)),
    };

    let mut fallback = None;
    // Without `Vary` the lookup key is the primary key: borrowed, no allocation.
    let lookup = match engine.variance(&key.key) {
        None => Cow::Borrowed(&*key.key),
        Some(variance) => {
            headers.add(&variance.headers, !variance.cookies.is_empty());
            Cow::Owned(variance.key(&key.key, request_target.query, headers.map()))
        }
    };
    if let Some(entry) = engine.store.get_local(&lookup)
        && (!class.authorized || entry.shared_with_authorization)
    {
        let now = engine.clock.now();
        let conditions = Conditions::of(headers.map());
        match engine.freshness(&entry, now) {
            EntryState::Fresh => {
                engine.trace_request(CacheStatus::Hit, &entry.key, entry.route(), None);
                let answer = serve_entry(
                    &engine.store,
                    &entry,
                    CacheStatus::Hit,
                    now,
                    class.head,
                    conditions,
                );
                return Lookup::Hit(answer);
            }
            EntryState::Stale => {
                engine.trace_request(CacheStatus::Stale, &entry.key, entry.route(), None);
                let answer = serve_entry(
                    &engine.store,
                    &entry,
                    CacheStatus::Stale,
                    now,
                    class.head,
                    conditions,
                );
                let regeneration = Regeneration::due(engine, &entry, key.path_rewritten, || {
                    (
                        render_target(&key, head, class.authorized, false),
                        key.rewrite.clone(),
                    )
                });
                return Lookup::Stale {
                    answer,
                    regeneration,
                };
            }
            EntryState::Invalidated => fallback = Some(entry),
        }
    }

    let target = render_target(&key, head, class.authorized, class.head);
    let lookup = match lookup {
        Cow::Borrowed(_) => Arc::clone(&target.primary),
        Cow::Owned(variant) => Arc::from(variant),
    };
    Lookup::Render(Visit {
        reply: Reply {
            engine: Arc::clone(engine),
            lookup,
            fallback,
            conditions: OwnedConditions::of(headers.map()),
            head: class.head,
        },
        target,
        rewrite: key.rewrite,
    })
}

fn bypass<H: RequestHead + ?Sized, B: Body>(
    engine: &Engine,
    head: &H,
    reason: BypassReason,
) -> Lookup<B> {
    engine.trace_request(CacheStatus::Bypass, head.path(), None, Some(&reason));
    Lookup::Bypass(reason)
}

/// What a render of this request is for: it takes every header of the request, since the
/// response's `Vary` may name any of them.
fn render_target<H: RequestHead + ?Sized>(
    key: &key::RequestKey<'_>,
    head: &H,
    authorized: bool,
    head_request: bool,
) -> RenderTarget {
    RenderTarget {
        primary: Arc::from(&*key.key),
        path: key.path.clone(),
        request_headers: head.header_map(),
        query: head.query().map(Arc::from),
        authorized,
        head: head_request,
        path_rewritten: key.path_rewritten,
    }
}
