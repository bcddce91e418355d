//! On-demand revalidation: the tag clock and the [`Revalidator`].
//!
//! Invalidation works by clocks, not scans. Every tag, every page path and every layout prefix
//! has a "last invalidated" stamp; an entry is invalid when one of its tags, its path or one of
//! its path's prefixes was invalidated *after its render started*. So invalidating a tag costs
//! the same whether one page or a hundred thousand carry it, and a purge that lands while a page
//! is rendering is never lost: the render's result is already older than the purge when it is
//! stored, and the next visitor gets a fresh render.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::clock::Micros;
use crate::engine::{Engine, Freshness};
use crate::entry::Entry;
use crate::key;

/// Longest tag accepted, in bytes (as in Next.js).
pub const MAX_TAG_LEN: usize = 256;
/// Most tags kept on one entry (as in Next.js); further tags are dropped with a warning.
pub const MAX_TAGS_PER_ENTRY: usize = 128;

/// What a revalidation does to the pages it reaches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InvalidationMode {
    /// The next visitor waits for a fresh render (`MISS`); concurrent visitors share it, and if
    /// it fails the old copy is served (`STALE`). Next.js `revalidatePath` / `revalidateTag`.
    #[default]
    Expire,
    /// The old copy is served at once (`STALE`) while one regeneration runs in the background.
    /// Next.js 16's `revalidateTag(tag, 'max')`.
    Stale,
}

/// Which pages a path revalidation reaches.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PathScope {
    /// Exactly this page (every query string and variant of it).
    #[default]
    Page,
    /// This path and every path under it (Next.js `revalidatePath(path, 'layout')`).
    Layout,
}

/// Why a revalidation was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RevalidateError {
    /// The tag is empty.
    #[error("tag must not be empty")]
    EmptyTag,
    /// The tag is longer than [`MAX_TAG_LEN`] bytes.
    #[error("tag is longer than {MAX_TAG_LEN} bytes")]
    TagTooLong,
    /// The path does not start with `/`.
    #[error("path must start with '/'")]
    PathNotAbsolute,
    /// The path has malformed percent-encoding.
    #[error("path has malformed percent-encoding")]
    MalformedPath,
}

/// The outcome of one revalidation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Revalidation {
    /// When the revalidation took effect: pages whose render started before it are invalid.
    pub at: SystemTime,
    /// Entries in this process's memory it reached, when that is cheap to know (a single page);
    /// `None` for tags, layouts and everything, which are applied in O(1) without a scan.
    pub affected: Option<u64>,
}

/// One revalidation, as announced to [`Revalidator::subscribe`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Invalidation {
    /// What was invalidated.
    pub target: InvalidationTarget,
    /// How.
    pub mode: InvalidationMode,
    /// When it took effect.
    pub at: SystemTime,
    /// Who asked.
    pub origin: Origin,
}

/// One invalidation stamp, as stores persist and share it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct StampRecord {
    /// What was invalidated.
    pub target: InvalidationTarget,
    /// How.
    pub mode: InvalidationMode,
    /// When, in microseconds since the Unix epoch: entries whose render started at or before
    /// it are invalid.
    pub at: u64,
}

impl StampRecord {
    /// A record.
    pub fn new(target: InvalidationTarget, mode: InvalidationMode, at: u64) -> Self {
        Self { target, mode, at }
    }
}

/// Where a store hands invalidations made elsewhere: by another instance, or before a
/// restart. Given to [`InvalidationLog::attach`](crate::store::InvalidationLog::attach) when the
/// layer is built.
#[derive(Clone, Debug)]
pub struct StampSink {
    tags: Arc<TagClock>,
    clock: Arc<crate::clock::Clock>,
}

impl StampSink {
    pub(crate) fn new(tags: Arc<TagClock>, clock: Arc<crate::clock::Clock>) -> Self {
        Self { tags, clock }
    }

    /// Applies an invalidation: pages rendered before `record.at` that it covers are invalid.
    ///
    /// The local clock is moved past the stamp, so a render that starts here after the
    /// invalidation arrived is never taken for one that started before it, even when the
    /// instance that made it has a clock running ahead.
    pub fn apply(&self, record: &StampRecord) {
        self.clock.observe(record.at);
        self.tags.apply(record);
    }
}

/// What one revalidation named.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InvalidationTarget {
    /// One page (canonical path).
    Page(String),
    /// A layout prefix and everything under it.
    Layout(String),
    /// A tag.
    Tag(String),
    /// Everything.
    All,
}

impl InvalidationTarget {
    /// Whether this invalidation covers the path prefix `prefix` (a layout above or at it, or
    /// everything).
    pub fn covers_prefix(&self, prefix: &str) -> bool {
        match self {
            Self::All => true,
            Self::Layout(layout) => prefixes_of(prefix).any(|p| p == layout),
            Self::Page(_) | Self::Tag(_) => false,
        }
    }
}

/// How an entry stands now, as listed by [`Revalidator::inspect`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EntryState {
    /// Served as `HIT`.
    Fresh,
    /// Past its revalidate time (or soft-purged): served as `STALE` while it regenerates.
    Stale,
    /// Purged: the next visitor waits for a fresh render.
    Invalidated,
}

impl EntryState {
    /// `fresh`, `stale` or `invalid`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Fresh => "fresh",
            Self::Stale => "stale",
            Self::Invalidated => "invalid",
        }
    }
}

/// One entry as listed by [`Revalidator::inspect`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct EntrySummary {
    /// The entry itself (key, route, status, tags, policy).
    pub entry: Arc<Entry>,
    /// Its state now.
    pub state: EntryState,
    /// Time since it was stored.
    pub age: Duration,
    /// Bytes it holds in memory.
    pub bytes: usize,
}

/// Who asked for a revalidation, for the debug log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Origin {
    /// Application code calling the [`Revalidator`].
    Code,
    /// The purge endpoint.
    PurgeRouter,
}

impl Origin {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Code => "code",
            Self::PurgeRouter => "purge router",
        }
    }
}

/// Invalidates cached pages by path, layout prefix, tag, or all at once.
///
/// Obtained from [`IsrLayer::revalidator`](crate::IsrLayer::revalidator); a cheap `Clone` that
/// can be moved into handlers, background tasks or a CLI. Every call is O(1) in the number of
/// cached pages.
///
/// ```
/// use isr_layer::{IsrLayer, InvalidationMode, PathScope};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), isr_layer::RevalidateError> {
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
        let target = match scope {
            PathScope::Page => Target::Page(&path),
            PathScope::Layout => Target::Layout(layout_prefix(&path)),
        };
        let stamp = self
            .engine
            .tags
            .invalidate(&target, mode, &self.engine.clock);
        let affected = match scope {
            PathScope::Page => Some(u64::from(self.engine.store.get_local(&path).is_some())),
            PathScope::Layout => None,
        };
        Ok(self.report(&target, mode, stamp, affected).await)
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
        let target = Target::Tag(tag);
        let stamp = self
            .engine
            .tags
            .invalidate(&target, mode, &self.engine.clock);
        Ok(self.report(&target, mode, stamp, None).await)
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
        let stamp =
            self.engine
                .tags
                .invalidate(&Target::All, InvalidationMode::Expire, &self.engine.clock);
        Ok(self
            .report(&Target::All, InvalidationMode::Expire, stamp, None)
            .await)
    }

    /// Announcements of every revalidation made through any clone of this revalidator (or of
    /// the layer it came from), e.g. to refresh a list of static params when its layout is
    /// revalidated. A receiver that falls behind skips the oldest announcements.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Invalidation> {
        self.engine.invalidations.subscribe()
    }

    /// Up to `limit` entries held in this process's memory, with their state now: the
    /// "trust, but verify" view for a debugging endpoint.
    pub fn inspect(&self, limit: usize) -> Vec<EntrySummary> {
        let now = self.engine.clock.now();
        self.engine
            .store
            .local_entries(limit)
            .into_iter()
            .map(|entry| EntrySummary {
                state: match self.engine.freshness(&entry, now) {
                    Freshness::Fresh => EntryState::Fresh,
                    Freshness::Stale => EntryState::Stale,
                    Freshness::Expired => EntryState::Invalidated,
                },
                age: Duration::from_micros(now.saturating_sub(entry.stored_at)),
                bytes: entry.weight(),
                entry,
            })
            .collect()
    }

    /// Hands the invalidation to the store, which persists it (files) or shares it with other
    /// instances (Redis). A store that cannot is logged; the invalidation already holds here.
    async fn share(&self, target: &Target<'_>, mode: InvalidationMode, stamp: Micros) {
        let Some(log) = self.engine.store.invalidation_log() else {
            return;
        };
        let record = StampRecord {
            target: target.to_owned_target(),
            mode,
            at: stamp,
        };
        // The page store carries invalidations for the data cache too: both read one tag clock.
        if let Err(error) = log.record_invalidation(&record).await {
            self.engine.stats.inc_store_errors();
            tracing::warn!(target: "isr", %error, "the store could not record an invalidation");
        }
    }

    /// Shares, logs and announces an invalidation that already holds in this process.
    async fn report(
        &self,
        target: &Target<'_>,
        mode: InvalidationMode,
        stamp: Micros,
        affected: Option<u64>,
    ) -> Revalidation {
        self.share(target, mode, stamp).await;
        self.engine
            .trace_invalidation(&target.to_string(), mode, self.origin.as_str(), affected);
        let at = UNIX_EPOCH + Duration::from_micros(stamp);
        // Nobody listening is fine: the send only fails when there are no receivers.
        let _ = self.engine.invalidations.send(Invalidation {
            target: target.to_owned_target(),
            mode,
            at,
            origin: self.origin,
        });
        Revalidation { at, affected }
    }
}

fn validate_tag(tag: &str) -> Result<(), RevalidateError> {
    if tag.is_empty() {
        Err(RevalidateError::EmptyTag)
    } else if tag.len() > MAX_TAG_LEN {
        Err(RevalidateError::TagTooLong)
    } else {
        Ok(())
    }
}

/// The canonical page path of a revalidation target: normalised, without query or fragment.
fn canonical_path(path: &str) -> Result<String, RevalidateError> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    if !path.starts_with('/') {
        return Err(RevalidateError::PathNotAbsolute);
    }
    key::normalize_path(path)
        .map(|p| p.into_owned())
        .map_err(|_| RevalidateError::MalformedPath)
}

/// Layout prefixes are compared without a trailing slash, so `/docs` and `/docs/` are one layout.
fn layout_prefix(path: &str) -> &str {
    match path.trim_end_matches('/') {
        "" => "/",
        p => p,
    }
}

/// Every layout prefix a page path belongs to, from itself up to `/`.
fn prefixes_of(path: &str) -> impl Iterator<Item = &str> {
    let mut next = Some(layout_prefix(path));
    std::iter::from_fn(move || {
        let current = next?;
        next = match current.rfind('/') {
            _ if current == "/" => None,
            Some(0) => Some("/"),
            Some(i) => Some(&current[..i]),
            None => None,
        };
        Some(current)
    })
}

/// What one invalidation names.
#[derive(Debug)]
pub(crate) enum Target<'a> {
    Page(&'a str),
    Layout(&'a str),
    Tag(&'a str),
    All,
}

impl Target<'_> {
    fn to_owned_target(&self) -> InvalidationTarget {
        match self {
            Self::Page(p) => InvalidationTarget::Page((*p).to_owned()),
            Self::Layout(p) => InvalidationTarget::Layout((*p).to_owned()),
            Self::Tag(t) => InvalidationTarget::Tag((*t).to_owned()),
            Self::All => InvalidationTarget::All,
        }
    }
}

impl fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Page(p) => write!(f, "path {p}"),
            Self::Layout(p) => write!(f, "layout {p}"),
            Self::Tag(t) => write!(f, "tag {t}"),
            Self::All => f.write_str("everything"),
        }
    }
}

/// How an entry stands against the invalidations made since it was rendered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Validity {
    Valid,
    Stale,
    Expired,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Stamps {
    expired: Micros,
    staled: Micros,
}

impl Stamps {
    fn record(&mut self, mode: InvalidationMode, stamp: Micros) {
        match mode {
            InvalidationMode::Expire => self.expired = self.expired.max(stamp),
            InvalidationMode::Stale => self.staled = self.staled.max(stamp),
        }
    }

    fn merge(&mut self, other: Self) {
        self.expired = self.expired.max(other.expired);
        self.staled = self.staled.max(other.staled);
    }

    fn newest(self) -> Micros {
        self.expired.max(self.staled)
    }
}

#[derive(Debug, Default)]
struct Tables {
    tags: HashMap<Box<str>, Stamps>,
    pages: HashMap<Box<str>, Stamps>,
    layouts: HashMap<Box<str>, Stamps>,
    /// `revalidate_all`, and what pruned stamps leave behind.
    everything: Stamps,
}

impl Tables {
    fn len(&self) -> usize {
        self.tags.len() + self.pages.len() + self.layouts.len()
    }
}

/// The "last invalidated" stamps of tags, paths and layouts.
#[derive(Debug)]
pub(crate) struct TagClock {
    /// The newest stamp of any invalidation. An entry rendered after it is valid without
    /// looking at the tables, which keeps the cache-hit path lock-free.
    newest: AtomicU64,
    tables: RwLock<Tables>,
    max_stamps: usize,
}

impl TagClock {
    pub(crate) fn new(max_stamps: usize) -> Self {
        Self {
            newest: AtomicU64::new(0),
            tables: RwLock::new(Tables::default()),
            max_stamps: max_stamps.max(2),
        }
    }

    /// Records an invalidation and returns its stamp.
    pub(crate) fn invalidate(
        &self,
        target: &Target<'_>,
        mode: InvalidationMode,
        clock: &crate::clock::Clock,
    ) -> Micros {
        let mut tables = self.tables.write().unwrap_or_else(PoisonError::into_inner);
        // Taken under the lock so stamps land in the tables in increasing order.
        let stamp = clock.stamp();
        self.record_locked(&mut tables, target, mode, stamp);
        stamp
    }

    /// Applies an invalidation made elsewhere (another instance, or before a restart).
    pub(crate) fn apply(&self, record: &StampRecord) {
        let target = match &record.target {
            InvalidationTarget::Page(p) => Target::Page(p),
            InvalidationTarget::Layout(p) => Target::Layout(p),
            InvalidationTarget::Tag(t) => Target::Tag(t),
            InvalidationTarget::All => Target::All,
        };
        let mut tables = self.tables.write().unwrap_or_else(PoisonError::into_inner);
        self.record_locked(&mut tables, &target, record.mode, record.at);
    }

    fn record_locked(
        &self,
        tables: &mut Tables,
        target: &Target<'_>,
        mode: InvalidationMode,
        stamp: Micros,
    ) {
        let map = match target {
            Target::Page(p) => Some((&mut tables.pages, *p)),
            Target::Layout(p) => Some((&mut tables.layouts, *p)),
            Target::Tag(t) => Some((&mut tables.tags, *t)),
            Target::All => None,
        };
        match map {
            Some((map, name)) => match map.get_mut(name) {
                Some(stamps) => stamps.record(mode, stamp),
                None => {
                    let mut stamps = Stamps::default();
                    stamps.record(mode, stamp);
                    map.insert(name.into(), stamps);
                }
            },
            None => tables.everything.record(mode, stamp),
        }
        if tables.len() > self.max_stamps {
            prune(tables);
        }
        self.newest.fetch_max(stamp, Ordering::AcqRel);
    }

    /// How `entry` stands against the invalidations recorded so far.
    pub(crate) fn validity(&self, entry: &Entry) -> Validity {
        let rendered = entry.rendered_at;
        if rendered > self.newest.load(Ordering::Acquire) {
            return Validity::Valid;
        }
        let tables = self.tables.read().unwrap_or_else(PoisonError::into_inner);
        let mut stamps = tables.everything;
        for tag in entry.tags.iter() {
            if let Some(s) = tables.tags.get(&**tag) {
                stamps.merge(*s);
            }
        }
        // Data-cache entries have no path: only their tags (and "everything") reach them.
        let has_path = !entry.path().is_empty();
        if let Some(s) = tables.pages.get(entry.path()).filter(|_| has_path) {
            stamps.merge(*s);
        }
        if has_path && !tables.layouts.is_empty() {
            for prefix in prefixes_of(entry.path()) {
                if let Some(s) = tables.layouts.get(prefix) {
                    stamps.merge(*s);
                }
            }
        }
        if stamps.expired >= rendered {
            Validity::Expired
        } else if stamps.staled >= rendered {
            Validity::Stale
        } else {
            Validity::Valid
        }
    }

    /// Stamps currently held (for the bound test and stats).
    pub(crate) fn len(&self) -> usize {
        self.tables
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// Forgets the older half of the stamps. What they said is folded into `everything`: entries
/// rendered before the newest forgotten stamp count as invalidated, so pruning can make a page
/// re-render once but can never let a purged page pass as fresh.
fn prune(tables: &mut Tables) {
    let mut all: Vec<Micros> = tables
        .tags
        .values()
        .chain(tables.pages.values())
        .chain(tables.layouts.values())
        .map(|s| s.newest())
        .collect();
    let mid = all.len() / 2;
    let (_, cutoff, _) = all.select_nth_unstable(mid);
    let cutoff = *cutoff;
    let mut folded = Stamps::default();
    for map in [&mut tables.tags, &mut tables.pages, &mut tables.layouts] {
        map.retain(|_, s| {
            let keep = s.newest() > cutoff;
            if !keep {
                folded.merge(*s);
            }
            keep
        });
    }
    tables.everything.merge(folded);
    tracing::debug!(target: "isr", kept = tables.len(), "pruned old invalidation stamps");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_walk_up_to_the_root() {
        let p: Vec<_> = prefixes_of("/docs/a/b").collect();
        assert_eq!(p, ["/docs/a/b", "/docs/a", "/docs", "/"]);
        let p: Vec<_> = prefixes_of("/docs/").collect();
        assert_eq!(p, ["/docs", "/"]);
        let p: Vec<_> = prefixes_of("/").collect();
        assert_eq!(p, ["/"]);
    }

    #[test]
    fn a_layout_covers_the_prefixes_below_it() {
        let layout = InvalidationTarget::Layout("/docs".to_owned());
        assert!(layout.covers_prefix("/docs"));
        assert!(layout.covers_prefix("/docs/guides"));
        assert!(!layout.covers_prefix("/doc"));
        assert!(!layout.covers_prefix("/other/docs"));
        assert!(InvalidationTarget::All.covers_prefix("/anything"));
        assert!(!InvalidationTarget::Page("/docs".to_owned()).covers_prefix("/docs"));
        assert!(!InvalidationTarget::Tag("docs".to_owned()).covers_prefix("/docs"));
    }

    #[test]
    fn past_the_bound_about_half_the_stamps_are_folded_at_once() {
        // Folding half at a time keeps pruning rare (one O(n) pass per n/2 purges).
        let clock = crate::clock::Clock::new();
        let tags = TagClock::new(100);
        let names: Vec<String> = (0..101).map(|i| format!("t{i}")).collect();
        for name in &names {
            tags.invalidate(&Target::Tag(name), InvalidationMode::Expire, &clock);
        }
        let left = tags.len();
        assert!((45..=55).contains(&left), "{left} stamps left of 101");
    }

    #[test]
    fn tags_are_validated() {
        assert_eq!(validate_tag(""), Err(RevalidateError::EmptyTag));
        assert_eq!(
            validate_tag(&"x".repeat(257)),
            Err(RevalidateError::TagTooLong)
        );
        assert!(validate_tag(&"x".repeat(256)).is_ok());
    }

    #[test]
    fn paths_are_canonical() {
        assert_eq!(canonical_path("/a/../b?x=1").unwrap(), "/b");
        assert_eq!(
            canonical_path("docs"),
            Err(RevalidateError::PathNotAbsolute)
        );
        assert_eq!(canonical_path("/a%zz"), Err(RevalidateError::MalformedPath));
    }
}
