//! The stored entry: one rendered page and what is known about it.

use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};

use crate::clock::{Micros, saturating_micros};
use crate::policy::Revalidate;

/// One cached page: the response as it is served, and when and how it was made.
///
/// Entries are immutable and shared (`Arc<Entry>`); a regeneration stores a new entry.
#[derive(Debug)]
pub struct Entry {
    pub(crate) key: Arc<str>,
    /// Where the canonical path sits in `key` (empty for fetched data).
    pub(crate) path: Range<usize>,
    pub(crate) route: Option<Arc<str>>,
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) etag: HeaderValue,
    pub(crate) rendered_at: Micros,
    pub(crate) stored_at: Micros,
    pub(crate) revalidate: Revalidate,
    pub(crate) tags: Box<[Arc<str>]>,
    pub(crate) shared_with_authorization: bool,
    /// Failed regenerations of this entry, for the retry back-off.
    pub(crate) failures: crate::engine::Failures,
}

impl Entry {
    /// An entry of the data cache: a fetched value, with no page path.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn fetched(
        key: Arc<str>,
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
        rendered_at: Micros,
        stored_at: Micros,
        revalidate: Revalidate,
        tags: Box<[Arc<str>]>,
    ) -> Self {
        Self {
            key,
            path: 0..0,
            route: None,
            status,
            headers,
            body,
            etag: HeaderValue::from_static("\"\""),
            rendered_at,
            stored_at,
            revalidate,
            tags,
            shared_with_authorization: false,
            failures: Default::default(),
        }
    }
}

/// Bytes an entry costs besides its key, headers and body: the struct and its `Arc`, the header
/// map's tables, one allocation per header value, the memory store's records (moka's node and
/// its place in the access and write orders) and the allocator's rounding. Measured: with this
/// charge a 64 MiB store holds about 64 MiB of live memory for 300-byte and 2.5 KB pages alike
/// (BENCHMARKS.md, "Memory under a cap"); at 256 bytes, small pages held 2.3× the cap.
pub(crate) const ENTRY_OVERHEAD: usize = 1280;

impl Entry {
    /// The cache key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The canonical path of the page (its key without host, query and variant).
    pub fn path(&self) -> &str {
        self.key.get(self.path.clone()).unwrap_or_default()
    }

    /// The route name the render reported (e.g. `/docs/{slug}`), if any.
    pub fn route(&self) -> Option<&str> {
        self.route.as_deref()
    }

    /// The response status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response headers as served (without `Age` and `x-isr-cache`, which are per request).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The response body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The entity tag served with the page.
    pub fn etag(&self) -> &HeaderValue {
        &self.etag
    }

    /// The revalidate policy the page was stored with.
    pub fn revalidate(&self) -> Revalidate {
        self.revalidate
    }

    /// The page's explicit cache tags (the implicit path tags are not listed).
    pub fn tags(&self) -> impl Iterator<Item = &str> {
        self.tags.iter().map(|t| &**t)
    }

    /// When the render that produced this entry started.
    pub fn rendered_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_micros(self.rendered_at)
    }

    /// When the entry was stored.
    pub fn stored_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_micros(self.stored_at)
    }

    /// Whether the entry is still fresh by time at `now` (invalidations are checked apart).
    pub fn is_fresh_at(&self, now: SystemTime) -> bool {
        let now = now.duration_since(UNIX_EPOCH).map_or(0, saturating_micros);
        self.is_fresh_at_micros(now)
    }

    pub(crate) fn is_fresh_at_micros(&self, now: Micros) -> bool {
        match self.revalidate {
            Revalidate::Never => true,
            Revalidate::Dynamic => false,
            Revalidate::After(ttl) => now < self.stored_at.saturating_add(saturating_micros(ttl)),
        }
    }

    /// Whole seconds since the entry was stored, for the `Age` header.
    pub(crate) fn age_secs_at(&self, now: Micros) -> u64 {
        now.saturating_sub(self.stored_at) / 1_000_000
    }

    /// The bytes this entry holds in memory, for byte-bounded stores.
    pub fn weight(&self) -> usize {
        let headers: usize = self
            .headers
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 32)
            .sum();
        let tags: usize = self.tags.iter().map(|t| t.len() + 16).sum();
        ENTRY_OVERHEAD + self.key.len() + headers + tags + self.body.len()
    }
}
