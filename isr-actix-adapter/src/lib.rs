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
//! A handler sets its revalidate time and tags with the [`Isr`] extractor or by putting a
//! [`Revalidate`](isr_layer::Revalidate) / [`CacheTags`](isr_layer::CacheTags) into its
//! response's extensions (or with `Cache-Control: s-maxage`); a `web::scope` sets them for
//! every page under it with [`ScopePolicy`]. The lowest revalidate wins.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod body;
mod convert;
mod future;
mod middleware;
mod policy;
mod purge;
mod render;

pub use self::body::{ActixBody, HttpBody};
pub use self::future::IsrActixFuture;
pub use self::middleware::{IsrActix, IsrActixService};
pub use self::policy::{Isr, ScopePolicy, ScopePolicyService};
pub use self::purge::purge_resource;
pub use isr_layer;
