//! axum ergonomics for [`isr_layer`]: Incremental Static Regeneration for axum apps.
//!
//! `IsrLayer` already works on any axum `Router` (`.layer(IsrLayer::new())`), and
//! [`IsrPolicyLayer`] sets the policy of a nested router. This crate re-exports them; the handler
//! extractor, response parts, the `#[revalidate]` attribute and the purge router are built on
//! top in later releases (see the changelog).
//!
//! ```
//! use axum::{Router, routing::get};
//! use isr_axum::{IsrLayer, IsrPolicyLayer};
//!
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "home" }))
//!     .nest("/dashboard", Router::new()
//!         .route("/stats", get(|| async { "per visitor" }))
//!         .layer(IsrPolicyLayer::dynamic()))
//!     .layer(IsrLayer::new());
//! ```

pub use isr_layer::{
    CacheStatus, CacheTags, IsrBuilder, IsrLayer, IsrPolicyLayer, RenderContext, Revalidate,
    Revalidator,
};
