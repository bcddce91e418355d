//! Response parts: set a page's revalidate and tags from what a handler returns.

use std::time::Duration;

use axum::response::{IntoResponseParts, ResponseParts};
use isr_layer::CacheTags;

/// A page's revalidate policy, as a response part.
///
/// Returned next to the body, it competes with the layer's default and the layout's policy,
/// and the lowest wins. It also converts into the policy type the builder and
/// [`IsrPolicyLayer`](crate::IsrPolicyLayer) take.
///
/// ```
/// use axum::response::Html;
/// use isr_axum::{Revalidate, Tags};
///
/// async fn product() -> (Revalidate, Tags, Html<&'static str>) {
///     (Revalidate::secs(60), Tags::new(["products"]), Html("<h1>Blue sneakers</h1>"))
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[must_use]
pub struct Revalidate(pub isr_layer::Revalidate);

impl Revalidate {
    /// Fresh for `secs` seconds; `0` means dynamic, as in Next.js.
    pub const fn secs(secs: u64) -> Self {
        Self(isr_layer::Revalidate::secs(secs))
    }

    /// Fresh for `ttl`.
    pub const fn after(ttl: Duration) -> Self {
        Self(isr_layer::Revalidate::After(ttl))
    }

    /// Cached until invalidated (Next.js `revalidate = false`).
    pub const fn never() -> Self {
        Self(isr_layer::Revalidate::Never)
    }

    /// Never cached (Next.js `revalidate = 0`).
    pub const fn dynamic() -> Self {
        Self(isr_layer::Revalidate::Dynamic)
    }
}

impl From<Revalidate> for isr_layer::Revalidate {
    fn from(r: Revalidate) -> Self {
        r.0
    }
}

impl From<isr_layer::Revalidate> for Revalidate {
    fn from(r: isr_layer::Revalidate) -> Self {
        Self(r)
    }
}

impl IntoResponseParts for Revalidate {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        let extensions = res.extensions_mut();
        let lowest = match extensions.get::<isr_layer::Revalidate>() {
            Some(existing) => (*existing).min(self.0),
            None => self.0,
        };
        extensions.insert(lowest);
        Ok(res)
    }
}

/// Cache tags of a page, as a response part, for
/// [`Revalidator::revalidate_tag`](isr_layer::Revalidator::revalidate_tag).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct Tags(CacheTags);

impl Tags {
    /// Tags from any list of strings.
    pub fn new<I, T>(tags: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        Self(CacheTags::new(tags))
    }
}

impl IntoResponseParts for Tags {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        let extensions = res.extensions_mut();
        let merged = match extensions.get::<CacheTags>() {
            Some(existing) => CacheTags::new(existing.iter().chain(self.0.iter())),
            None => self.0,
        };
        extensions.insert(merged);
        Ok(res)
    }
}
