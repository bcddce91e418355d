//! Attribute macros for `isr-axum`.
//!
//! This crate is a placeholder in the workspace: it exports no macro yet. The
//! `#[revalidate(..)]` attribute for axum handlers is planned here (see the changelog).
