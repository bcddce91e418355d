//! The `#[revalidate]` attribute for axum handlers (re-exported by `isr-axum`) and actix-web
//! handlers (re-exported by `isr-actix-adapter`).
//!
//! ```ignore
//! use isr_axum::revalidate;
//!
//! #[revalidate(60, tags = ["products"])]
//! async fn products() -> &'static str { "…" }
//! ```
//!
//! ```ignore
//! use isr_actix_adapter::revalidate;
//!
//! #[revalidate(60, tags = ["products"])]
//! async fn products() -> &'static str { "…" }
//! ```
//!
//! The attribute adds a hidden `Isr` extractor (the framework crate's) as the handler's first
//! argument and sets the policy and tags through it before the body runs, so the body, the
//! other extractors and the return type stay exactly as written. Both attributes read their
//! arguments with the same parser, so they accept and refuse the same things. Use them from
//! `isr-axum` and `isr-actix-adapter`, which document them.

use proc_macro::TokenStream;
use syn::{ItemFn, parse_macro_input};

mod actix;
mod args;
mod axum;
mod handler;

/// Sets the revalidate policy (and tags) of the page an axum handler renders.
///
/// `#[revalidate(1800)]`, `#[revalidate(never)]`, `#[revalidate(0)]` (dynamic),
/// `#[revalidate(60, tags = ["products"])]`, and the query parameters and cookies the page
/// reads: `#[revalidate(60, query = ["page"], cookies = ["theme"])]`. See
/// `isr_axum::revalidate` for the full docs.
#[proc_macro_attribute]
pub fn revalidate(attr: TokenStream, item: TokenStream) -> TokenStream {
    let args = parse_macro_input!(attr as args::Args);
    let function = parse_macro_input!(item as ItemFn);
    match axum::expand(args, function) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

/// Sets the revalidate policy (and tags) of the page an actix-web handler renders; the same
/// arguments as [`macro@revalidate`]. Re-exported as `isr_actix_adapter::revalidate`, which
/// documents it.
#[proc_macro_attribute]
pub fn revalidate_actix(attr: TokenStream, item: TokenStream) -> TokenStream {
    let args = parse_macro_input!(attr as args::Args);
    let function = parse_macro_input!(item as ItemFn);
    match actix::expand(args, function) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}
