//! The `#[revalidate]` attribute for axum handlers, re-exported by `isr-axum`.
//!
//! ```ignore
//! use isr_axum::revalidate;
//!
//! #[revalidate(60, tags = ["products"])]
//! async fn products() -> &'static str { "…" }
//! ```
//!
//! The attribute adds a hidden `isr_axum::Isr` extractor as the handler's first argument and
//! sets the policy and tags through it before the body runs, so the body, the other extractors
//! and the return type stay exactly as written. Use it from `isr-axum`, which documents it.

use proc_macro::TokenStream;
use proc_macro2::Span;
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, ExprArray, ExprLit, Ident, ItemFn, Lit, LitStr, Token, parse_macro_input};

const EXPECTED: &str =
    "expected the revalidate time in seconds (e.g. `1800`), `never`, or `0` for a dynamic page";

/// What the attribute says.
enum Policy {
    Seconds(u64),
    Never,
}

struct Args {
    policy: Policy,
    tags: Vec<LitStr>,
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.is_empty() {
            return Err(syn::Error::new(Span::call_site(), EXPECTED));
        }
        let policy = if input.peek(Ident) {
            let ident: Ident = input.parse()?;
            match ident.to_string().as_str() {
                "never" => Policy::Never,
                _ => return Err(syn::Error::new(ident.span(), EXPECTED)),
            }
        } else if input.peek(syn::LitBool) {
            let lit: syn::LitBool = input.parse()?;
            match lit.value {
                false => Policy::Never,
                true => return Err(syn::Error::new(lit.span, EXPECTED)),
            }
        } else {
            let lit: Lit = input
                .parse()
                .map_err(|e| syn::Error::new(e.span(), EXPECTED))?;
            match &lit {
                Lit::Int(int) => Policy::Seconds(
                    int.base10_parse::<u64>()
                        .map_err(|_| syn::Error::new(int.span(), EXPECTED))?,
                ),
                other => return Err(syn::Error::new(other.span(), EXPECTED)),
            }
        };

        let mut tags = Vec::new();
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let key: Ident = input.parse()?;
            if key != "tags" {
                return Err(syn::Error::new(
                    key.span(),
                    format!("unknown argument `{key}`: expected `tags = [\"tag\", ...]`"),
                ));
            }
            input.parse::<Token![=]>()?;
            let list: Expr = input.parse()?;
            let Expr::Array(ExprArray { elems, .. }) = &list else {
                return Err(syn::Error::new_spanned(
                    list,
                    "`tags` must be a list of string literals, e.g. `tags = [\"products\"]`",
                ));
            };
            tags.extend(parse_tags(elems)?);
        }
        Ok(Self { policy, tags })
    }
}

fn parse_tags(elems: &Punctuated<Expr, Token![,]>) -> syn::Result<Vec<LitStr>> {
    elems
        .iter()
        .map(|elem| match elem {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) if !s.value().is_empty() => Ok(s.clone()),
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => Err(syn::Error::new(s.span(), "a tag must not be empty")),
            other => Err(syn::Error::new_spanned(
                other,
                "a tag must be a string literal, e.g. \"products\"",
            )),
        })
        .collect()
}

/// Sets the revalidate policy (and tags) of the page an axum handler renders.
///
/// `#[revalidate(1800)]`, `#[revalidate(never)]`, `#[revalidate(0)]` (dynamic) and
/// `#[revalidate(60, tags = ["products"])]`. See `isr_axum::revalidate` for the full docs.
#[proc_macro_attribute]
pub fn revalidate(attr: TokenStream, item: TokenStream) -> TokenStream {
    let args = parse_macro_input!(attr as Args);
    let function = parse_macro_input!(item as ItemFn);
    match expand(args, function) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

fn expand(args: Args, function: ItemFn) -> syn::Result<proc_macro2::TokenStream> {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = function;
    if sig.asyncness.is_none() {
        return Err(syn::Error::new_spanned(
            sig.fn_token,
            "`#[revalidate]` goes on an `async fn` axum handler",
        ));
    }
    if let Some(receiver) = sig.receiver() {
        return Err(syn::Error::new_spanned(
            receiver,
            "`#[revalidate]` goes on a free `async fn` handler, not a method",
        ));
    }
    let policy = match args.policy {
        Policy::Seconds(secs) => quote! { __isr_render.revalidate_secs(#secs); },
        Policy::Never => quote! { __isr_render.revalidate_never(); },
    };
    let tags = args.tags;
    let tagging = if tags.is_empty() {
        quote! {}
    } else {
        quote! { __isr_render.tags([#(#tags),*]); }
    };
    let mut sig = sig;
    let hidden: syn::FnArg = syn::parse_quote! { __isr_render: ::isr_axum::Isr };
    sig.inputs.insert(0, hidden);
    Ok(quote! {
        #(#attrs)*
        #vis #sig {
            #policy
            #tagging
            #block
        }
    })
}
