//! The `isr-layer` engine inside actix-web: the same states (`HIT`, `STALE`, `MISS`,
//! `BYPASS`), coalescing, background regeneration, safety net, stores and purge API as the tower
//! [`IsrLayer`](isr_layer::IsrLayer), as a native actix middleware.
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use isr_actix_adapter::{Isr, IsrActix, purge_resource};
//! use isr_layer::IsrLayer;
//! use isr_layer::purge::PurgeAuth;
//!
//! async fn guide(isr: Isr, slug: web::Path<String>) -> String {
//!     isr.revalidate_secs(3600);
//!     isr.tag("docs");
//!     format!("guide {slug}")
//! }
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     let isr = IsrLayer::new();
//!     let auth = PurgeAuth::new("a-long-random-secret").unwrap();
//!     HttpServer::new(move || {
//!         App::new()
//!             .service(purge_resource("/api/revalidate", isr.revalidator(), auth.clone()))
//!             .wrap(IsrActix::new(isr.clone()))
//!             .route("/docs/{slug}", web::get().to(guide))
//!     })
//!     .bind(("127.0.0.1", 3000))?
//!     .run()
//!     .await
//! }
//! ```
//!
//! # One engine
//!
//! The middleware only translates between actix's types and the `http` crate's (actix-web 4
//! is built on `http` 0.2, the engine on `http` 1): every decision is made by the engine's
//! [adapter steps](isr_layer::adapter), the ones the tower service takes too. The workspace's
//! conformance suite runs the same scenarios against an axum app and an actix app and expects
//! the same statuses, `x-isr-cache` values, bodies and render counts.
//!
//! A hit translates almost nothing: the engine reads the request's actix head in place (its
//! [`RequestHead`](isr_layer::adapter::RequestHead)), asking only for the few headers it needs,
//! and each cached page's headers are converted to actix's types once per entry. Only a
//! render converts the whole request head.
//!
//! # Where renders run
//!
//! actix services are not `Send` and a `ServiceRequest` cannot be cloned (routing needs the
//! request unshared), so the tower layer's approach (a copy of the request rendered on the
//! multi-threaded runtime) does not apply. Instead:
//!
//! - Every render uses the visitor's own request, and runs as a task of the actix worker's
//!   `LocalSet` (`spawn_local`). The cache owns that task: a visitor who disconnects does not
//!   cancel it, other visitors of the key wait for it (one render per key, per worker and,
//!   with a shared store, across instances), and a panic, an error or a timeout keeps the last
//!   good page, exactly as in the tower layer.
//! - A `STALE` visitor's request goes to the background regeneration, and the visitor is
//!   answered at once from the cache. actix answers with the request a response belongs to,
//!   so that answer carries a copy of the request's head (method, URI, headers, peer address):
//!   middleware *outside* [`IsrActix`] that reads the response's request sees that copy, without
//!   the original's extensions or `app_data`. The request a render used is the one prepared for
//!   it: `GET`, the canonical URI, without conditional headers; middleware outside sees that too
//!   on the responses of renders.
//! - Single-flight spans workers: the cache (and its flight table) is shared, so two workers
//!   that miss the same key render it once.
//!
//! # Per-route policy
//!
//! A handler sets its revalidate time and tags with the [`Isr`] extractor, with the
//! [`revalidate`] attribute, or by putting a [`Revalidate`](isr_layer::Revalidate) /
//! [`CacheTags`](isr_layer::CacheTags) into its response's extensions (or with
//! `Cache-Control: s-maxage`); a `web::scope` sets them for every page under it with
//! [`ScopePolicy`]. The lowest revalidate wins.
//!
//! # Static params
//!
//! [`StaticParams`] lists the known pages of parameterised routes (Next.js
//! `generateStaticParams`): [`StaticParams::prerender`] renders them through the app at
//! start-up, and [`StaticParams::middleware`] answers unlisted paths `404` without running the
//! handler (`dynamicParams = false`).
#![cfg_attr(docsrs, feature(doc_cfg))]

mod body;
mod convert;
mod dynamic_params;
mod future;
#[cfg(feature = "inspector")]
mod inspector;
mod middleware;
mod policy;
mod purge;
mod render;
mod static_params;

pub use self::body::{ActixBody, HttpBody};
pub use self::dynamic_params::{
    StaticParamsFuture, StaticParamsMiddleware, StaticParamsMiddlewareService,
};
pub use self::future::IsrActixFuture;
#[cfg(feature = "inspector")]
#[cfg_attr(docsrs, doc(cfg(feature = "inspector")))]
pub use self::inspector::{Inspector, InspectorError, inspector_scope};
pub use self::middleware::{IsrActix, IsrActixService};
pub use self::policy::{Isr, ScopePolicy, ScopePolicyService};
pub use self::purge::purge_resource;
pub use self::static_params::StaticParams;
pub use isr_layer;
pub use isr_layer::static_params::{GeneratorError, ParamSet, PatternError, PrerenderReport};

/// Sets the revalidate policy (and tags) of the page an async actix-web handler renders.
///
/// | attribute | meaning |
/// |---|---|
/// | `#[revalidate(1800)]` | fresh for 1800 s (Next.js `revalidate = 1800`) |
/// | `#[revalidate(never)]` | cached until invalidated (`revalidate = false`; `false` works too) |
/// | `#[revalidate(0)]` | dynamic: never cached |
/// | `#[revalidate(60, tags = ["products"])]` | 60 s, tagged `products` |
/// | `#[revalidate(60, query = ["page"])]` | 60 s, one page per value of `?page=` |
/// | `#[revalidate(60, cookies = ["theme"])]` | 60 s, one page per value of the `theme` cookie |
///
/// The same attribute, with the same arguments and compile errors, as `isr_axum::revalidate`.
/// The handler keeps its extractors, body and return type; the attribute adds a hidden [`Isr`]
/// extractor in front of them (so a handler takes at most 15 extractors of its own, and calling
/// it directly takes the extra argument). The lowest revalidate of all levels wins.
///
/// A render is sent neither the visitor's cookies nor the query parameters its route did not
/// declare. `query` and `cookies` declare the ones the page reads, and the page is stored once
/// per value of them. An actix extractor cannot change the request the others read, so unlike
/// axum's the declared names are not given back to `web::Query` or the `Cookie` header: the
/// handler reads them with [`Isr::query_param`] and [`Isr::cookie`] (a `Query` argument beside
/// `query = [..]` is a compile error), or a [`ScopePolicy`] around the route declares them and
/// gives them back.
///
/// ```
/// use actix_web::{App, web};
/// use isr_actix_adapter::{IsrActix, revalidate};
/// use isr_layer::IsrLayer;
///
/// #[revalidate(60, tags = ["products"])]
/// async fn product(slug: web::Path<String>) -> String {
///     format!("<h1>{slug}</h1>")
/// }
///
/// let app = App::new()
///     .route("/products/{slug}", web::get().to(product))
///     .wrap(IsrActix::new(IsrLayer::new()));
/// ```
///
/// ```
/// use actix_web::{App, web};
/// use isr_actix_adapter::{Isr, IsrActix, revalidate};
/// use isr_layer::IsrLayer;
///
/// #[revalidate(60, query = ["page"], cookies = ["theme"])]
/// async fn posts(isr: Isr) -> String {
///     let page = isr.query_param("page").unwrap_or_else(|| "1".to_owned());
///     let theme = isr.cookie("theme").unwrap_or_else(|| "light".to_owned());
///     format!("page {page}, {theme} theme")
/// }
///
/// let app = App::new()
///     .route("/posts", web::get().to(posts))
///     .wrap(IsrActix::new(IsrLayer::new()));
/// ```
pub use isr_axum_macros::revalidate_actix as revalidate;

/// What `#[revalidate]` expands to; not part of the public API.
#[doc(hidden)]
pub mod __private {
    use isr_layer::IsrPolicyLayer;

    use crate::Isr;

    /// Declares the query parameters and cookies a handler's page reads.
    pub fn declare(isr: &Isr, query: &[&str], cookies: &[&str]) {
        if let Some(render) = isr.context() {
            IsrPolicyLayer::tagged(std::iter::empty::<&str>())
                .query_params(query)
                .cookies(cookies)
                .apply(render);
        }
    }
}
