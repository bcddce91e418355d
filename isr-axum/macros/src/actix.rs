//! The expansion for actix-web: a hidden `isr_actix_adapter::Isr` extractor first, which sets
//! the policy and tags and declares the query parameters and cookies before the body runs.
//!
//! An actix extractor only borrows the request, so nothing can give the declared names back to
//! it before the handler's other extractors run (as the axum expansion does): the handler reads
//! them with `Isr::query_param` and `Isr::cookie`, and a `Query` extractor beside a declared
//! query is refused at compile time rather than left to render every value as if it were absent.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{FnArg, GenericArgument, ItemFn, PathArguments, Type};

use crate::args::Args;
use crate::handler;

/// actix-web implements `Handler` for functions of up to 16 arguments.
const MAX_ARGS: usize = 16;

pub(crate) fn expand(args: Args, function: ItemFn) -> syn::Result<TokenStream> {
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
    } = function;
    handler::check(&sig, "actix-web")?;
    if sig.inputs.len() >= MAX_ARGS {
        return Err(syn::Error::new_spanned(
            &sig.inputs,
            format!(
                "an actix-web handler takes at most {MAX_ARGS} extractors and `#[revalidate]` \
                 adds one: this handler may take {}",
                MAX_ARGS - 1
            ),
        ));
    }
    if !args.query.is_empty()
        && let Some(query) = sig.inputs.iter().find_map(|input| match input {
            FnArg::Typed(typed) => query_extractor(&typed.ty),
            FnArg::Receiver(_) => None,
        })
    {
        return Err(syn::Error::new_spanned(
            query,
            "on actix-web a render's request does not carry the declared query parameters, so \
             `Query` would never see them: read them with `Isr::query_param(\"name\")` (add an \
             `isr: Isr` argument), or declare them with a `ScopePolicy` around the route",
        ));
    }
    let setting = handler::policy_and_tags(&args);
    let render = handler::hidden();
    let declaring = if args.query.is_empty() && args.cookies.is_empty() {
        quote! {}
    } else {
        let (query, cookies) = (&args.query, &args.cookies);
        quote! {
            ::isr_actix_adapter::__private::declare(&#render, &[#(#query),*], &[#(#cookies),*]);
        }
    };
    let hidden: FnArg = syn::parse_quote! { #render: ::isr_actix_adapter::Isr };
    sig.inputs.insert(0, hidden);
    Ok(quote! {
        #(#attrs)*
        #vis #sig {
            #setting
            #declaring
            #block
        }
    })
}

/// The `Query<..>` (`web::Query`, `actix_web::web::Query`, inside an `Option` or a `Result`)
/// among a handler argument's type, if any.
fn query_extractor(ty: &Type) -> Option<&Type> {
    match ty {
        Type::Path(path) => {
            let last = path.path.segments.last()?;
            if last.ident == "Query" {
                return Some(ty);
            }
            let PathArguments::AngleBracketed(generics) = &last.arguments else {
                return None;
            };
            generics.args.iter().find_map(|arg| match arg {
                GenericArgument::Type(inner) => query_extractor(inner),
                _ => None,
            })
        }
        Type::Paren(inner) => query_extractor(&inner.elem),
        Type::Group(inner) => query_extractor(&inner.elem),
        _ => None,
    }
}
