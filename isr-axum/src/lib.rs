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

mod purge;

pub use self::purge::{MAX_PURGE_BODY, PurgeAuth, PurgeAuthError, SECRET_HEADER, purge_router};
pub use isr_layer::{
    CacheStatus, CacheTags, InvalidationMode, IsrBuilder, IsrLayer, IsrPolicyLayer, PathScope,
    RenderContext, Revalidate, Revalidator,
};
