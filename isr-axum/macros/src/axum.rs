//! The expansion for axum: a hidden `isr_axum::Isr` extractor first, and with declared query
//! parameters or cookies a second one that gives them back to the request before the
//! handler's own extractors run.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Ident, ItemFn};

use crate::args::Args;
use crate::handler;

pub(crate) fn expand(args: Args, function: ItemFn) -> syn::Result<TokenStream> {
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = function;
    handler::check(&sig, "axum")?;
    let setting = handler::policy_and_tags(&args);
    let render = handler::hidden();
    let hidden: syn::FnArg = syn::parse_quote! { #render: ::isr_axum::Isr };
    sig.inputs.insert(0, hidden);
    if args.query.is_empty() && args.cookies.is_empty() {
        return Ok(quote! {
            #(#attrs)*
            #vis #sig {
                #setting
                #block
            }
        });
    }
    // The declared names give the render's request back what the cache kept from it before
    // any other extractor runs: a type beside the handler carries them to that extractor.
    let names = Ident::new(&format!("__IsrDeclared_{}", sig.ident), sig.ident.span());
    let (query, cookies) = (args.query, args.cookies);
    let declared: syn::FnArg = syn::parse_quote! { _: ::isr_axum::__private::Declared<#names> };
    sig.inputs.insert(0, declared);
    Ok(quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types)]
        #vis struct #names;

        impl ::isr_axum::__private::Names for #names {
            const QUERY: &'static [&'static str] = &[#(#query),*];
            const COOKIES: &'static [&'static str] = &[#(#cookies),*];
        }

        #(#attrs)*
        #vis #sig {
            #setting
            #block
        }
    })
}
