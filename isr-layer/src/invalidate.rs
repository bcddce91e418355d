//! The invalidation vocabulary: what a revalidation names, how, and what came of it.
//!
//! Invalidation works by clocks, not scans. Every tag, every page path and every layout prefix
//! has a "last invalidated" stamp; an entry is invalid when one of its tags, its path or one of
//! its path's prefixes was invalidated *after its render started*. So invalidating a tag costs
//! the same whether one page or a hundred thousand carry it, and a purge that lands while a page
//! is rendering is never lost: the render's result is already older than the purge when it is
//! stored, and the next visitor gets a fresh render.
//!
//! The names here are shared by the [`Revalidator`](crate::Revalidator), the engine's tag clock,
//! the purge protocol and the stores; each maps them to and from strings through this module.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

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

impl InvalidationMode {
    /// `expire` or `stale`: the name the purge protocol and the stores use.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Expire => "expire",
            Self::Stale => "stale",
        }
    }

    /// The mode named `name`: `expire`, or `stale` (also `max`, as Next.js 16 names it).
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "expire" => Some(Self::Expire),
            "stale" | "max" => Some(Self::Stale),
            _ => None,
        }
    }
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

impl PathScope {
    /// `page` or `layout`: the name the purge protocol uses (Next.js's `type`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Page => "page",
            Self::Layout => "layout",
        }
    }

    /// The scope named `name`.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "page" => Some(Self::Page),
            "layout" => Some(Self::Layout),
            _ => None,
        }
    }
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

/// One revalidation, as announced to [`Revalidator::subscribe`](crate::Revalidator::subscribe).
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
#[derive(Clone)]
pub struct StampSink {
    apply: Arc<dyn Fn(&StampRecord) + Send + Sync>,
}

impl fmt::Debug for StampSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StampSink").finish_non_exhaustive()
    }
}

impl StampSink {
    /// A sink that hands each record to `apply` (the engine's tag clock).
    pub(crate) fn new(apply: impl Fn(&StampRecord) + Send + Sync + 'static) -> Self {
        Self {
            apply: Arc::new(apply),
        }
    }

    /// Applies an invalidation: pages rendered before `record.at` that it covers are invalid.
    ///
    /// The local clock is moved past the stamp, so a render that starts here after the
    /// invalidation arrived is never taken for one that started before it, even when the
    /// instance that made it has a clock running ahead.
    pub fn apply(&self, record: &StampRecord) {
        (self.apply)(record);
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

    /// A path revalidation's target: the page, or the layout prefix the path names.
    pub(crate) fn path(path: String, scope: PathScope) -> Self {
        match scope {
            PathScope::Page => Self::Page(path),
            PathScope::Layout => Self::Layout(layout_prefix(&path).to_owned()),
        }
    }

    // Read and written by the file and Redis stores only.
    #[cfg_attr(not(any(feature = "fs", feature = "redis")), allow(dead_code))]
    /// `page`, `layout`, `tag` or `all`: the name the stores use.
    pub(crate) const fn kind(&self) -> &'static str {
        match self {
            Self::Page(_) => "page",
            Self::Layout(_) => "layout",
            Self::Tag(_) => "tag",
            Self::All => "all",
        }
    }

    // Read and written by the file and Redis stores only.
    #[cfg_attr(not(any(feature = "fs", feature = "redis")), allow(dead_code))]
    /// The path, prefix or tag named (empty for everything).
    pub(crate) fn name(&self) -> &str {
        match self {
            Self::Page(name) | Self::Layout(name) | Self::Tag(name) => name,
            Self::All => "",
        }
    }

    // Read and written by the file and Redis stores only.
    #[cfg_attr(not(any(feature = "fs", feature = "redis")), allow(dead_code))]
    /// The target of kind `kind` (see [`kind`](Self::kind)) naming `name`.
    pub(crate) fn from_kind(kind: &str, name: String) -> Option<Self> {
        match kind {
            "page" => Some(Self::Page(name)),
            "layout" => Some(Self::Layout(name)),
            "tag" => Some(Self::Tag(name)),
            "all" => Some(Self::All),
            _ => None,
        }
    }
}

impl fmt::Display for InvalidationTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Page(p) => write!(f, "path {p}"),
            Self::Layout(p) => write!(f, "layout {p}"),
            Self::Tag(t) => write!(f, "tag {t}"),
            Self::All => f.write_str("everything"),
        }
    }
}

/// How an entry stands now: the engine's one answer to "may this be served, and how", also
/// listed by [`Revalidator::inspect`](crate::Revalidator::inspect)(crate::Revalidator::inspect).
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

    /// The state named by [`as_str`](Self::as_str), for listing filters.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        [Self::Fresh, Self::Stale, Self::Invalidated]
            .into_iter()
            .find(|state| state.as_str() == name)
    }
}

/// One entry as listed by [`Revalidator::inspect`](crate::Revalidator::inspect).
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
    /// Application code calling the [`Revalidator`](crate::Revalidator).
    Code,
    /// The purge endpoint.
    PurgeRouter,
    /// The cache inspector's purge buttons.
    Inspector,
}

impl Origin {
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Code => "code",
            Self::PurgeRouter => "purge router",
            Self::Inspector => "inspector",
        }
    }
}

/// The one check of a tag, for revalidations, the purge protocol and the tags a page carries.
pub(crate) fn validate_tag(tag: &str) -> Result<(), RevalidateError> {
    if tag.is_empty() {
        Err(RevalidateError::EmptyTag)
    } else if tag.len() > MAX_TAG_LEN {
        Err(RevalidateError::TagTooLong)
    } else {
        Ok(())
    }
}

/// The canonical page path of a revalidation target: its query and fragment cut off, then
/// [`key::canonical_path`], the one canonicaliser keys use too.
pub(crate) fn canonical_path(path: &str) -> Result<String, RevalidateError> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    if !path.starts_with('/') {
        return Err(RevalidateError::PathNotAbsolute);
    }
    key::canonical_path(path).ok_or(RevalidateError::MalformedPath)
}

/// Layout prefixes are compared without a trailing slash, so `/docs` and `/docs/` are one layout.
fn layout_prefix(path: &str) -> &str {
    match path.trim_end_matches('/') {
        "" => "/",
        p => p,
    }
}

/// Every layout prefix a page path belongs to, from itself up to `/`.
pub(crate) fn prefixes_of(path: &str) -> impl Iterator<Item = &str> {
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

    #[test]
    fn names_map_both_ways() {
        for mode in [InvalidationMode::Expire, InvalidationMode::Stale] {
            assert_eq!(InvalidationMode::from_name(mode.as_str()), Some(mode));
        }
        assert_eq!(
            InvalidationMode::from_name("max"),
            Some(InvalidationMode::Stale)
        );
        assert_eq!(InvalidationMode::from_name("later"), None);
        for scope in [PathScope::Page, PathScope::Layout] {
            assert_eq!(PathScope::from_name(scope.as_str()), Some(scope));
        }
        assert_eq!(PathScope::from_name("route"), None);
        for target in [
            InvalidationTarget::Page("/a".to_owned()),
            InvalidationTarget::Layout("/a".to_owned()),
            InvalidationTarget::Tag("a".to_owned()),
        ] {
            let back = InvalidationTarget::from_kind(target.kind(), target.name().to_owned());
            assert_eq!(back, Some(target));
        }
        assert_eq!(
            InvalidationTarget::from_kind("all", String::new()),
            Some(InvalidationTarget::All)
        );
        assert_eq!(
            InvalidationTarget::from_kind("route", "/a".to_owned()),
            None
        );
    }

    #[test]
    fn a_layout_target_drops_the_trailing_slash() {
        assert_eq!(
            InvalidationTarget::path("/docs/".to_owned(), PathScope::Layout),
            InvalidationTarget::Layout("/docs".to_owned())
        );
        assert_eq!(
            InvalidationTarget::path("/".to_owned(), PathScope::Layout),
            InvalidationTarget::Layout("/".to_owned())
        );
        assert_eq!(
            InvalidationTarget::path("/docs/".to_owned(), PathScope::Page),
            InvalidationTarget::Page("/docs/".to_owned())
        );
    }
}
