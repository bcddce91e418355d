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
#![cfg_attr(docsrs, feature(doc_cfg))]

mod extract;
#[cfg(feature = "inspector")]
mod inspector;
mod parts;
mod purge;
mod static_params;

pub use self::extract::Isr;
#[cfg(feature = "inspector")]
#[cfg_attr(docsrs, doc(cfg(feature = "inspector")))]
pub use self::inspector::{Inspector, InspectorError, inspector_router};
pub use self::parts::{Revalidate, Tags};
pub use self::purge::{MAX_PURGE_BODY, PurgeAuth, PurgeAuthError, SECRET_HEADER, purge_router};
pub use self::static_params::StaticParams;
/// Sets the revalidate policy (and tags) of the page an async axum handler renders.
///
/// | attribute | meaning |
/// |---|---|
/// | `#[revalidate(1800)]` | fresh for 1800 s (Next.js `revalidate = 1800`) |
/// | `#[revalidate(never)]` | cached until invalidated (`revalidate = false`) |
/// | `#[revalidate(0)]` | dynamic: never cached |
/// | `#[revalidate(60, tags = ["products"])]` | 60 s, tagged `products` |
/// | `#[revalidate(60, query = ["page"])]` | 60 s, one page per value of `?page=` |
/// | `#[revalidate(60, cookies = ["theme"])]` | 60 s, one page per value of the `theme` cookie |
///
/// A render is sent neither the visitor's cookies nor the query parameters its route did not
/// declare ([`RenderContext`] says why); `query` and `cookies` declare the ones the page reads,
/// so the handler's own extractors (`Query`, a cookie jar) see them, and the page is stored
/// once per value of them.
///
/// The handler keeps its extractors, body and return type; the attribute adds a hidden
/// [`Isr`] extractor in front of them, and with `query` or `cookies` a second one that gives the
/// declared names back to the request before the others run (so a handler takes at most 15,
/// or 14, extractors of its own, and calling it directly takes the extra arguments). The lowest revalidate of all levels wins.
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
///
/// ```
/// use std::collections::HashMap;
/// use axum::{Router, extract::Query, routing::get};
/// use isr_axum::{IsrLayer, revalidate};
///
/// #[revalidate(60, query = ["page"])]
/// async fn posts(Query(q): Query<HashMap<String, String>>) -> String {
///     format!("page {}", q.get("page").map_or("1", String::as_str))
/// }
///
/// let app: Router = Router::new().route("/posts", get(posts)).layer(IsrLayer::new());
/// ```
pub use isr_axum_macros::revalidate;
pub use isr_layer::static_params::{
    GeneratorError, ParamSet, PatternError, PrerenderReport, StaticParamsLayer, StaticParamsService,
};

/// What `#[revalidate]` expands to; not part of the public API.
#[doc(hidden)]
pub mod __private {
    use std::marker::PhantomData;

    use axum::extract::FromRequestParts;
    use axum::http::request::Parts;
    use isr_layer::{IsrPolicyLayer, RenderContext};

    /// The query parameters and cookies one handler declared.
    pub trait Names {
        /// Query parameter names.
        const QUERY: &'static [&'static str];
        /// Cookie names.
        const COOKIES: &'static [&'static str];
    }

    /// Declares `N`'s names for the render and gives them back to the request, before the
    /// handler's own extractors run.
    #[derive(Debug)]
    pub struct Declared<N>(PhantomData<N>);

    impl<N: Names, S: Send + Sync> FromRequestParts<S> for Declared<N> {
        type Rejection = std::convert::Infallible;

        async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
            if let Some(render) = parts.extensions.get::<RenderContext>().cloned() {
                let policy = IsrPolicyLayer::tagged(std::iter::empty::<&str>())
                    .query_params(N::QUERY)
                    .cookies(N::COOKIES);
                policy.apply(&render);
                policy
                    .restore(&render, parts.uri.query())
                    .apply_to(&mut parts.uri, &mut parts.headers);
            }
            Ok(Self(PhantomData))
        }
    }
}
pub use isr_layer::{
    CacheStatus, CacheTags, DataCache, FetchOptions, IsrBuilder, IsrLayer, IsrPolicyLayer,
    RenderContext, Revalidator, data::DataCacheLayer, data::DataCacheService,
    invalidate::InvalidationMode, invalidate::PathScope,
};
