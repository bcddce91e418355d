//! The `isr-layer` engine inside actix-web.
//!
//! **Not implemented yet.** This crate reserves its place in the workspace; it exports nothing
//! but the engine's re-export. Until the actix middleware lands, run the tower
//! [`IsrLayer`](isr_layer::IsrLayer) in a tower-based server (axum, hyper).

pub use isr_layer;
