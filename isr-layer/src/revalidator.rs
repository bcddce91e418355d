//! The public [`Revalidator`]: on-demand revalidation by path, layout, tag or everything.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use crate::engine::Engine;
use crate::invalidate::{
    EntrySummary, Invalidation, InvalidationMode, InvalidationTarget, Origin, PathScope,
    RevalidateError, Revalidation, canonical_path, validate_tag,
};

/// Invalidates cached pages by path, layout prefix, tag, or all at once.
///
/// Obtained from [`IsrLayer::revalidator`](crate::IsrLayer::revalidator); a cheap `Clone` that
/// can be moved into handlers, background tasks or a CLI. Every call is O(1) in the number of
/// cached pages.
///
/// # Concurrency
///
/// A revalidation holds in this process when its call returns (the stamp is taken under the
/// tag clock's write lock, so stamps are ordered), whatever clone of the revalidator made it.
/// It reaches every page whose render *started* at or before the stamp, including a render
/// still running while the call is made: that render's result is stored already invalid, so
/// the purge is never lost to a race. With a shared store the stamp is also written there
/// before the call returns (a store that fails is logged; the invalidation still holds here).
///
/// ```
/// use isr_layer::{IsrLayer, invalidate::InvalidationMode, invalidate::PathScope};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), isr_layer::invalidate::RevalidateError> {
/// let isr = IsrLayer::new();
/// let revalidator = isr.revalidator();
/// revalidator.revalidate_path("/docs/getting-started").await?;
/// revalidator.revalidate_path_scoped("/docs", PathScope::Layout, InvalidationMode::Expire).await?;
/// revalidator.revalidate_tag("product-blue-sneakers").await?;
/// revalidator.revalidate_tags(["all-products", "home"]).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Revalidator {
    engine: Arc<Engine>,
    origin: Origin,
}

impl fmt::Debug for Revalidator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Revalidator")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl Revalidator {
    pub(crate) fn new(engine: Arc<Engine>) -> Self {
        Self {
            engine,
            origin: Origin::Code,
        }
    }

    /// The same revalidator, reporting `origin` in the debug log.
    #[must_use]
    pub fn with_origin(mut self, origin: Origin) -> Self {
        self.origin = origin;
        self
    }

    /// Invalidates one page (every query string and variant of it); the next visitor waits for
    /// a fresh render. The path is normalised like cache keys, so any spelling reaches the page.
    pub async fn revalidate_path(&self, path: &str) -> Result<Revalidation, RevalidateError> {
        self.revalidate_path_scoped(path, PathScope::Page, InvalidationMode::Expire)
            .await
    }

    /// Invalidates one page or a whole subtree, in the given mode.
    pub async fn revalidate_path_scoped(
        &self,
        path: &str,
        scope: PathScope,
        mode: InvalidationMode,
    ) -> Result<Revalidation, RevalidateError> {
        let path = canonical_path(path)?;
        let affected = match scope {
            PathScope::Page => Some(u64::from(self.engine.holds_locally(&path))),
            PathScope::Layout => None,
        };
        let target = InvalidationTarget::path(path, scope);
        Ok(self
            .engine
            .invalidate(target, mode, self.origin, affected)
            .await)
    }

    /// Invalidates every page (and data entry) carrying `tag`.
    pub async fn revalidate_tag(&self, tag: &str) -> Result<Revalidation, RevalidateError> {
        self.revalidate_tag_with(tag, InvalidationMode::Expire)
            .await
    }

    /// Invalidates every page carrying `tag`, in the given mode.
    pub async fn revalidate_tag_with(
        &self,
        tag: &str,
        mode: InvalidationMode,
    ) -> Result<Revalidation, RevalidateError> {
        validate_tag(tag)?;
        let target = InvalidationTarget::Tag(tag.to_owned());
        Ok(self
            .engine
            .invalidate(target, mode, self.origin, None)
            .await)
    }

    /// Invalidates every page carrying any of `tags`. All tags are checked before any is applied.
    pub async fn revalidate_tags<I, T>(&self, tags: I) -> Result<Revalidation, RevalidateError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let tags: Vec<T> = tags.into_iter().collect();
        for tag in &tags {
            validate_tag(tag.as_ref())?;
        }
        let mut last = None;
        for tag in &tags {
            last = Some(self.revalidate_tag(tag.as_ref()).await?);
        }
        Ok(last.unwrap_or_else(|| Revalidation {
            at: SystemTime::now(),
            affected: Some(0),
        }))
    }

    /// Invalidates every cached page.
    pub async fn revalidate_all(&self) -> Result<Revalidation, RevalidateError> {
        let target = InvalidationTarget::All;
        let mode = InvalidationMode::Expire;
        Ok(self
            .engine
            .invalidate(target, mode, self.origin, None)
            .await)
    }

    /// Announcements of every revalidation made through any clone of this revalidator (or of
    /// the layer it came from), e.g. to refresh a list of static params when its layout is
    /// revalidated. A receiver that falls behind skips the oldest announcements.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Invalidation> {
        self.engine.subscribe_invalidations()
    }

    /// Up to `limit` entries held in this process's memory, with their state now: the
    /// "trust, but verify" view for a debugging endpoint.
    pub fn inspect(&self, limit: usize) -> Vec<EntrySummary> {
        self.engine.inspect(limit)
    }

    /// The answers that bypassed the cache lately (the inspector's "not cached" panel).
    #[cfg(feature = "inspector")]
    pub(crate) fn recent_bypasses(&self) -> Vec<crate::engine::BypassRecord> {
        self.engine.recent_bypasses()
    }

    /// Which store keeps the entries and whether it answers.
    pub(crate) fn store_status(&self) -> crate::store::StoreStatus {
        self.engine.store_status()
    }

    /// The instant every age and stamp of this cache is read from, in microseconds since the
    /// Unix epoch.
    #[cfg(feature = "inspector")]
    pub(crate) fn now_micros(&self) -> u64 {
        self.engine.clock().now()
    }

    /// Up to `limit` entries held in this process's memory, as they are: for a listing that
    /// summarizes only the entries it shows.
    #[cfg(feature = "inspector")]
    pub(crate) fn local_entries(&self, limit: usize) -> Vec<std::sync::Arc<crate::store::Entry>> {
        self.engine.local_entries(limit)
    }

    /// How `entry` stands now.
    #[cfg(feature = "inspector")]
    pub(crate) fn state(&self, entry: &crate::store::Entry) -> crate::invalidate::EntryState {
        self.engine.freshness(entry, self.engine.clock().now())
    }

    /// `entry` with its state, age and weight now.
    #[cfg(feature = "inspector")]
    pub(crate) fn summarize(&self, entry: std::sync::Arc<crate::store::Entry>) -> EntrySummary {
        self.engine.summarize(entry, self.engine.clock().now())
    }

    /// The counters of the cache this revalidator belongs to, for the purge endpoint's
    /// `?view=stats` (the same as [`IsrLayer::stats`](crate::IsrLayer::stats)).
    pub(crate) fn stats(&self) -> crate::IsrStats {
        self.engine.stats()
    }
}
