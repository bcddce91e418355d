//! The engine's steps for framework adapters.
//!
//! [`IsrService`](crate::service::IsrService) answers tower requests with these steps, and the actix-web
//! middleware answers actix requests with the same ones: every decision about what is served,
//! stored and regenerated is made here, so both give the same answers. An adapter only translates:
//!
//! 1. [`IsrLayer::lookup`](crate::IsrLayer::lookup) with the request's head (an `http::Request`,
//!    or the adapter's own [`RequestHead`], read in place) says what to do: answer from the
//!    cache ([`Lookup::Hit`], [`Lookup::Stale`]), call the application as if there were no
//!    cache ([`Lookup::Bypass`]), or render ([`Lookup::Render`]).
//! 2. A render is the adapter's [`Render`]: its application and the visitor's request, prepared
//!    with [`prepare_headers`] and the canonical URI of [`Visit::rewrite`].
//! 3. [`Visit::serve_local`] (or [`Regeneration::spawn_local`] for a stale entry) runs the
//!    render the way the cache owns it: one render per key, not cancelled when the visitor goes
//!    away, panics and timeouts keeping the last good page.
//!
//! The `_local` functions run renders as tasks of the current thread's
//! [`LocalSet`](tokio::task::LocalSet), for applications that are not `Send` (actix-web runs
//! every worker on one); they panic outside a `LocalSet`.

use http_body::Body;

use crate::IsrLayer;
pub use crate::engine::{Answer, Lookup, Page, Regeneration, RequestHead, Served, Visit};
pub use crate::filters::BypassReason;
pub use crate::policy::PolicySource;
pub use crate::policy_layer::Restored;
pub use crate::render::{RENDER_DROPS_HEADERS, Render, prepare_headers};

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

impl IsrLayer {
    /// Looks a request up: the first step of every request, for adapters of other frameworks
    /// (see [the module](crate::adapter)).
    ///
    /// Only the head of the request is read: an `http::Request` of any body, or an adapter's
    /// own [`RequestHead`], which a hit reads without converting anything. Answers from the
    /// cache are built here; their body type `B` is the adapter's choice.
    pub fn lookup<H: RequestHead + ?Sized, B: Body>(&self, head: &H) -> Lookup<B> {
        crate::engine::lookup(self.engine(), head)
    }
}
