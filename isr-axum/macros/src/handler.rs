//! What every framework's expansion shares: the checks on the handler, and the statements that
//! set the page's policy and tags through the hidden extractor before the body runs.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Ident, Signature};

use crate::args::{Args, Policy};

/// The name of the hidden extractor argument.
pub(crate) fn hidden() -> Ident {
    Ident::new("__isr_render", proc_macro2::Span::call_site())
}

/// Refuses what cannot be a handler of `framework` (e.g. "axum", "actix-web").
pub(crate) fn check(sig: &Signature, framework: &str) -> syn::Result<()> {
    if sig.asyncness.is_none() {
        return Err(syn::Error::new_spanned(
            sig.fn_token,
            format!("`#[revalidate]` goes on an `async fn` {framework} handler"),
        ));
    }
    if let Some(receiver) = sig.receiver() {
        return Err(syn::Error::new_spanned(
            receiver,
            "`#[revalidate]` goes on a free `async fn` handler, not a method",
        ));
    }
    Ok(())
}

/// The statements that set the revalidate policy and the tags through the hidden extractor.
pub(crate) fn policy_and_tags(args: &Args) -> TokenStream {
    let render = hidden();
    let policy = match args.policy {
        Policy::Seconds(secs) => quote! { #render.revalidate_secs(#secs); },
        Policy::Never => quote! { #render.revalidate_never(); },
    };
    let tags = &args.tags;
    let tagging = if tags.is_empty() {
        quote! {}
    } else {
        quote! { #render.tags([#(#tags),*]); }
    };
    quote! { #policy #tagging }
}
