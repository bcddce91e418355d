//! `Vary`: which request headers select a variant of a page.
//!
//! When a response names headers in `Vary`, its entry is stored under a variant key (the primary
//! key plus those headers' values), and the names are remembered for the primary key so the next
//! request is looked up under its own variant.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http::{HeaderMap, HeaderName};

use crate::key::variant_key;

#[derive(Debug)]
pub(crate) struct VaryIndex {
    names: moka::sync::Cache<Arc<str>, Arc<[HeaderName]>>,
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
    pub(crate) fn lookup_key<'k>(&self, primary: &'k str, headers: &HeaderMap) -> Cow<'k, str> {
        if !self.any.load(Ordering::Relaxed) {
            return Cow::Borrowed(primary);
        }
        match self.names.get(primary) {
            Some(names) => Cow::Owned(variant_key(primary, &names, headers)),
            None => Cow::Borrowed(primary),
        }
    }

    /// Records the `Vary` names of the latest response for `primary` (`None`: it no longer varies).
    pub(crate) fn learn(&self, primary: &Arc<str>, names: Option<Arc<[HeaderName]>>) {
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
