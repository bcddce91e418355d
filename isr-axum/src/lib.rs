//! axum ergonomics for [`isr_layer`]: Incremental Static Regeneration for axum apps.
//!
//! [`IsrLayer`] works on any axum `Router` (`.layer(IsrLayer::new())`) and [`IsrPolicyLayer`]
//! sets the policy of a nested router (the "layout" level). This crate adds the
//! [`purge_router`] for on-demand revalidation from a CMS webhook.
//!
//! ```
//! use axum::{Router, routing::get};
//! use isr_axum::{IsrLayer, IsrPolicyLayer, PurgeAuth, purge_router};
//!
//! let isr = IsrLayer::new();
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "home" }))
//!     .nest("/dashboard", Router::new()
//!         .route("/stats", get(|| async { "per visitor" }))
//!         .layer(IsrPolicyLayer::dynamic()))
//!     .layer(isr.clone())
//!     .nest("/api/revalidate", purge_router(isr.revalidator(), PurgeAuth::new("secret").unwrap()));
//! ```

mod extract;
mod parts;
mod purge;
mod static_params;

pub use self::extract::Isr;
pub use self::parts::{Revalidate, Tags};
pub use self::purge::{MAX_PURGE_BODY, PurgeAuth, PurgeAuthError, SECRET_HEADER, purge_router};
pub use self::static_params::{
    GeneratorError, ParamSet, PatternError, PrerenderReport, StaticParams, StaticParamsLayer,
    StaticParamsService,
};
/// Sets the revalidate policy (and tags) of the page an async axum handler renders.
///
/// | attribute | meaning |
/// |---|---|
/// | `#[revalidate(1800)]` | fresh for 1800 s (Next.js `revalidate = 1800`) |
/// | `#[revalidate(never)]` | cached until invalidated (`revalidate = false`) |
/// | `#[revalidate(0)]` | dynamic: never cached |
/// | `#[revalidate(60, tags = ["products"])]` | 60 s, tagged `products` |
///
/// The handler keeps its extractors, body and return type; the attribute adds a hidden
/// [`Isr`] extractor in front of them (so a handler takes at most 15 extractors of its own, and
/// calling it directly takes the extra argument). The lowest revalidate of all levels wins.
/// Wrong arguments are compile errors pointing at the bad token.
///
/// ```
/// use axum::{Router, extract::Path, routing::get};
/// use isr_axum::{IsrLayer, revalidate};
///
/// #[revalidate(60, tags = ["products"])]
/// async fn product(Path(slug): Path<String>) -> String {
///     format!("<h1>{slug}</h1>")
/// }
///
/// let app: Router = Router::new()
///     .route("/products/{slug}", get(product))
///     .layer(IsrLayer::new());
/// ```
pub use isr_axum_macros::revalidate;
pub use isr_layer::{
    CacheStatus, CacheTags, DataCache, DataCacheLayer, DataCacheService, FetchOptions,
    InvalidationMode, IsrBuilder, IsrLayer, IsrPolicyLayer, PathScope, RenderContext, Revalidator,
};
