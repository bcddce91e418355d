//! What the attribute's arguments say, parsed once for every framework.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, ExprArray, ExprLit, Ident, Lit, LitStr, Token};

const EXPECTED: &str =
    "expected the revalidate time in seconds (e.g. `1800`), `never`, or `0` for a dynamic page";

/// What the attribute says.
pub(crate) enum Policy {
    Seconds(u64),
    Never,
}

pub(crate) struct Args {
    pub(crate) policy: Policy,
    pub(crate) tags: Vec<LitStr>,
    /// Query parameters the page reads (`query = ["page"]`).
    pub(crate) query: Vec<LitStr>,
    /// Cookies the page reads (`cookies = ["theme"]`).
    pub(crate) cookies: Vec<LitStr>,
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
