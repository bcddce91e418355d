//! Variants of a page: which request headers (`Vary`), query parameters and cookies (declared by
//! the route) select one.
//!
//! When a response names headers in `Vary`, or its render declared the query parameters or
//! cookies it reads, its entry is stored under a variant key (the primary key plus those values),
//! and the names are remembered for the primary key so the next request is looked up under its
//! own variant.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http::{HeaderMap, HeaderName};

use crate::key::{declared_cookies, declared_query, variant_key};

/// What selects a variant of one page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Variance {
    /// Request headers the response named in `Vary`.
    pub(crate) headers: Arc<[HeaderName]>,
    /// Query parameters the route declared it reads.
    pub(crate) query: Arc<[Arc<str>]>,
    /// Cookies the route declared it reads.
    pub(crate) cookies: Arc<[Arc<str>]>,
}

impl Variance {
    pub(crate) fn is_empty(&self) -> bool {
        self.headers.is_empty() && self.query.is_empty() && self.cookies.is_empty()
    }

    /// The variant key of a request for `primary` with this query and these headers.
    pub(crate) fn key(&self, primary: &str, query: Option<&str>, headers: &HeaderMap) -> String {
        let mut key = variant_key(primary, &self.headers, headers);
        if !self.query.is_empty() {
            key.push_str("\n?");
            key.push_str(&declared_query(query, &self.query));
        }
        if !self.cookies.is_empty() {
            key.push_str("\n;");
            key.push_str(&declared_cookies(headers, &self.cookies));
        }
        key
    }
}

#[derive(Debug)]
pub(crate) struct VaryIndex {
    names: moka::sync::Cache<Arc<str>, Arc<Variance>>,
    /// Skips the index lookup entirely until some page has varied.
    any: AtomicBool,
}

impl Default for VaryIndex {
    fn default() -> Self {
        Self {
            names: moka::sync::Cache::new(100_000),
            any: AtomicBool::new(false),
        }
    }
}

impl VaryIndex {
    /// What the page of `primary` is known to vary on; `None` when it does not vary.
    pub(crate) fn variance(&self, primary: &str) -> Option<Arc<Variance>> {
        if !self.any.load(Ordering::Relaxed) {
            return None;
        }
        self.names.get(primary)
    }

    pub(crate) fn lookup_key<'k>(
        &self,
        primary: &'k str,
        query: Option<&str>,
        headers: &HeaderMap,
    ) -> Cow<'k, str> {
        match self.variance(primary) {
            Some(variance) => Cow::Owned(variance.key(primary, query, headers)),
            None => Cow::Borrowed(primary),
        }
    }

    /// Records what the latest response for `primary` varies on (`None`: it no longer varies).
    pub(crate) fn learn(&self, primary: &Arc<str>, names: Option<Arc<Variance>>) {
        match names {
            Some(names) => {
                self.any.store(true, Ordering::Relaxed);
                self.names.insert(Arc::clone(primary), names);
            }
            None if self.any.load(Ordering::Relaxed) => self.names.invalidate(&**primary),
            None => {}
        }
    }
}
