//! Per-fetch options: Next.js `fetch(url, { next: { revalidate, tags } })`.

use std::sync::Arc;
use std::time::Duration;

use crate::policy::Revalidate;

/// How one fetch is cached: its revalidate, its tags, or not at all.
///
/// ```
/// use isr_layer::FetchOptions;
///
/// let products = FetchOptions::revalidate(300).tags(["all-products"]);
/// let live = FetchOptions::no_store();
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct FetchOptions {
    pub(crate) revalidate: Option<Revalidate>,
    pub(crate) tags: Vec<Arc<str>>,
    pub(crate) no_store: bool,
}

impl FetchOptions {
    /// Cached, fresh for `secs` seconds (`0` means no caching, as in Next.js).
    pub fn revalidate(secs: u64) -> Self {
        Self::with_revalidate(Revalidate::secs(secs))
    }

    /// Cached, fresh for `ttl`.
    pub fn revalidate_after(ttl: Duration) -> Self {
        Self::with_revalidate(Revalidate::After(ttl))
    }

    /// Cached until one of its tags is revalidated.
    pub fn revalidate_never() -> Self {
        Self::with_revalidate(Revalidate::Never)
    }

    /// Cached with this policy ([`Revalidate::Dynamic`] means not cached).
    pub fn with_revalidate(revalidate: Revalidate) -> Self {
        Self {
            revalidate: Some(revalidate),
            tags: Vec::new(),
            no_store: revalidate.is_dynamic(),
        }
    }

    /// Not cached: every call fetches (Next.js `cache: 'no-store'`). Inside a page render this
    /// makes the page dynamic, as in Next.js.
    pub fn no_store() -> Self {
        Self {
            revalidate: Some(Revalidate::Dynamic),
            tags: Vec::new(),
            no_store: true,
        }
    }

    /// Adds tags, for [`Revalidator::revalidate_tag`](crate::Revalidator::revalidate_tag).
    pub fn tags<I, T>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        for tag in tags {
            let tag = tag.as_ref();
            if !self.tags.iter().any(|t| &**t == tag) {
                self.tags.push(Arc::from(tag));
            }
        }
        self
    }

    /// The revalidate this fetch is cached with (`Never` when none was given).
    pub fn effective_revalidate(&self) -> Revalidate {
        self.revalidate.unwrap_or(Revalidate::Never)
    }
}
