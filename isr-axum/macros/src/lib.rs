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
    /// Query parameters the page reads (`query = ["page"]`).
    query: Vec<LitStr>,
    /// Cookies the page reads (`cookies = ["theme"]`).
    cookies: Vec<LitStr>,
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

        let (mut tags, mut query, mut cookies) = (Vec::new(), Vec::new(), Vec::new());
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let key: Ident = input.parse()?;
            let (example, what) = match key.to_string().as_str() {
                "tags" => ("\"products\"", "a tag"),
                "query" => ("\"page\"", "a query parameter"),
                "cookies" => ("\"theme\"", "a cookie name"),
                _ => {
                    return Err(syn::Error::new(
                        key.span(),
                        format!(
                            "unknown argument `{key}`: expected `tags = [\"tag\", ...]`, \
                             `query = [\"name\", ...]` or `cookies = [\"name\", ...]`"
                        ),
                    ));
                }
            };
            input.parse::<Token![=]>()?;
            let list: Expr = input.parse()?;
            let Expr::Array(ExprArray { elems, .. }) = &list else {
                return Err(syn::Error::new_spanned(
                    list,
                    format!(
                        "`{key}` must be a list of string literals, e.g. `{key} = [{example}]`"
                    ),
                ));
            };
            let names = parse_names(elems, what, example)?;
            match key.to_string().as_str() {
                "tags" => tags.extend(names),
                "query" => query.extend(names),
                _ => cookies.extend(names),
            }
        }
        Ok(Self {
            policy,
            tags,
            query,
            cookies,
        })
    }
}

fn parse_names(
    elems: &Punctuated<Expr, Token![,]>,
    what: &str,
    example: &str,
) -> syn::Result<Vec<LitStr>> {
    elems
        .iter()
        .map(|elem| match elem {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) if !s.value().is_empty() => Ok(s.clone()),
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => Err(syn::Error::new(
                s.span(),
                format!("{what} must not be empty"),
            )),
            other => Err(syn::Error::new_spanned(
                other,
                format!("{what} must be a string literal, e.g. {example}"),
            )),
        })
        .collect()
}

/// Sets the revalidate policy (and tags) of the page an axum handler renders.
///
/// `#[revalidate(1800)]`, `#[revalidate(never)]`, `#[revalidate(0)]` (dynamic),
/// `#[revalidate(60, tags = ["products"])]`, and the query parameters and cookies the page
/// reads: `#[revalidate(60, query = ["page"], cookies = ["theme"])]`. See
/// `isr_axum::revalidate` for the full docs.
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
    if args.query.is_empty() && args.cookies.is_empty() {
        return Ok(quote! {
            #(#attrs)*
            #vis #sig {
                #policy
                #tagging
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
            #policy
            #tagging
            #block
        }
    })
}
