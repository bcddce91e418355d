//! Incremental Static Regeneration for any [tower] service.
//!
//! Pages are served from the cache at once; when a page's revalidate time runs out, the next
//! visitor still gets the old page at once while **one** regeneration runs in the background
//! (stale-while-revalidate); when content changes, [`Revalidator::revalidate_path`] and
//! [`Revalidator::revalidate_tag`] purge exactly the pages that show it. A regeneration that
//! fails never replaces the last good page.
//!
//! ```
//! use std::convert::Infallible;
//! use std::time::Duration;
//!
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use http_body_util::{BodyExt, Full};
//! use isr_layer::{IsrLayer, Revalidate};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let isr = IsrLayer::builder()
//!     .revalidate(Revalidate::After(Duration::from_secs(60)))
//!     .build()
//!     .unwrap();
//! let app = ServiceBuilder::new().layer(isr.clone()).service(service_fn(
//!     |_req: Request<Full<Bytes>>| async {
//!         Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("<h1>Hello</h1>"))))
//!     },
//! ));
//!
//! let first = app.clone().oneshot(Request::new(Full::default())).await.unwrap();
//! assert_eq!(first.headers()["x-isr-cache"], "MISS");
//! let second = app.oneshot(Request::new(Full::default())).await.unwrap();
//! assert_eq!(second.headers()["x-isr-cache"], "HIT");
//! assert_eq!(second.into_body().collect().await.unwrap().to_bytes(), "<h1>Hello</h1>");
//! assert_eq!(isr.stats().renders, 1);
//! # }
//! ```
//!
//! # What is cached
//!
//! `GET` and `HEAD` requests (a `HEAD` is answered from the `GET` entry); responses with status
//! 200, 203, 301, 308, 404 or 410 and no `Set-Cookie`, `Cache-Control: private`, `no-store` or
//! `no-cache`, no `Vary: *`, a body within [`IsrBuilder::max_body_bytes`] and a policy that is not
//! dynamic. Everything else passes through with `x-isr-cache: BYPASS`, and the debug log
//! (`ISR_DEBUG_CACHE=1`) says why.
//!
//! # Policies: the lowest revalidate wins
//!
//! The layer's default, an [`IsrPolicyLayer`] on a nested router, the handler (through the
//! [`RenderContext`] in the request extensions, or a [`Revalidate`] in the response extensions)
//! and `Cache-Control: s-maxage` from the inner service each may set a revalidate; the lowest
//! applies, and [`Revalidate::Dynamic`] anywhere makes the page uncached.
//!
//! # Headers
//!
//! Every response that went through the layer carries `x-isr-cache` (`HIT`, `STALE`, `MISS` or
//! `BYPASS`). Cached answers also carry `Age`, a strong `ETag` per representation (a matching
//! `If-None-Match` gets `304 Not Modified`), `Last-Modified` (for `If-Modified-Since`) and,
//! unless turned off, `Cache-Control: s-maxage=<ttl>, stale-while-revalidate=<window>` for
//! caches in front.
//!
//! # Browsers: one render, every encoding
//!
//! A page is rendered once, with `Accept-Encoding: identity`, and kept with its gzip, Brotli
//! and Zstandard encodings, made when it is stored; each answer is the representation the
//! visitor's `Accept-Encoding` prefers, with `Vary: Accept-Encoding` and its own `ETag`. The
//! visitor whose request renders a page gets the body streamed as the application writes it.
//! See [`compression`].
//!
//! # Other frameworks
//!
//! The cache's steps are public in [`adapter`], so a framework that is not tower-based gets the
//! same engine with a thin middleware of its own (the `isr-actix-adapter` crate does this for
//! actix-web). The purge endpoint's protocol is in [`purge`], shared by every framework's router.
//!
//! # Where things are
//!
//! The root holds the names of the user's story; the rest is in modules:
//! [`service`] (the tower services' types), [`store`] (where entries live: memory, files,
//! Redis), [`invalidate`] (what a revalidation names and returns), [`data`] (the data cache's
//! tower layer and reqwest middleware), [`key`] (query modes, path normalisation),
//! [`compression`] (the encodings kept per page), [`purge`] (the purge endpoint's protocol)
//! and [`adapter`] (the engine's steps for other frameworks).
//!
//! [tower]: https://docs.rs/tower
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod adapter;
mod body;
mod builder;
mod catch_unwind;
mod clock;
pub mod compression;
pub mod data;
mod decimal;
mod engine;
mod entry;
mod filters;
mod future;
mod head;
#[cfg(feature = "inspector")]
#[cfg_attr(docsrs, doc(cfg(feature = "inspector")))]
pub mod inspector;
mod intern;
pub mod invalidate;
pub mod key;
mod layer;
mod policy;
mod policy_layer;
pub mod purge;
mod render;
mod revalidator;
pub mod service;
pub mod static_params;
mod stats;
mod status;
pub mod store;
#[cfg(test)]
mod test_log;

pub use self::builder::{BuildError, IsrBuilder};
pub use self::data::cache::DataCache;
pub use self::data::options::FetchOptions;
pub use self::layer::IsrLayer;
pub use self::policy::{CacheTags, RenderContext, Revalidate};
pub use self::policy_layer::IsrPolicyLayer;
pub use self::revalidator::Revalidator;
pub use self::stats::IsrStats;
pub use self::status::CacheStatus;
