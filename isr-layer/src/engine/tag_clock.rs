//! The engine's tag clock: the "last invalidated" stamp of every tag, page and layout.
//!
//! An entry is invalid when one of its tags, its path or one of its path's prefixes was
//! invalidated at or after the moment its render started (see [the vocabulary](crate::invalidate)).
//! The cache-hit path reads one atomic when nothing was invalidated since the entry's render,
//! and takes the read lock of the tables only otherwise.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};

use crate::clock::Micros;
use crate::entry::Entry;
use crate::invalidate::{
    EntryState, InvalidationMode, InvalidationTarget, StampRecord, prefixes_of,
};

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
        target: &InvalidationTarget,
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
        let mut tables = self.tables.write().unwrap_or_else(PoisonError::into_inner);
        self.record_locked(&mut tables, &record.target, record.mode, record.at);
    }

    fn record_locked(
        &self,
        tables: &mut Tables,
        target: &InvalidationTarget,
        mode: InvalidationMode,
        stamp: Micros,
    ) {
        let map = match target {
            InvalidationTarget::Page(p) => Some((&mut tables.pages, p.as_str())),
            InvalidationTarget::Layout(p) => Some((&mut tables.layouts, p.as_str())),
            InvalidationTarget::Tag(t) => Some((&mut tables.tags, t.as_str())),
            InvalidationTarget::All => None,
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

    /// How `entry` stands against the invalidations recorded so far (`Fresh`: none reaches
    /// it; its revalidate time is the engine's to weigh).
    pub(crate) fn state(&self, entry: &Entry) -> EntryState {
        let rendered = entry.rendered_at;
        if rendered > self.newest.load(Ordering::Acquire) {
            return EntryState::Fresh;
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
            EntryState::Invalidated
        } else if stamps.staled >= rendered {
            EntryState::Stale
        } else {
            EntryState::Fresh
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

    use std::sync::Arc;

    use bytes::Bytes;
    use http::{HeaderMap, StatusCode};

    use crate::Revalidate;

    #[test]
    fn past_the_bound_about_half_the_stamps_are_folded_at_once() {
        // Folding half at a time keeps pruning rare (one O(n) pass per n/2 purges). The bound
        // counts the stamps of tags, pages and layouts alike.
        let clock = crate::clock::Clock::new();
        let kinds: [fn(String) -> InvalidationTarget; 3] = [
            InvalidationTarget::Tag,
            InvalidationTarget::Page,
            InvalidationTarget::Layout,
        ];
        for kind in kinds {
            let tags = TagClock::new(100);
            for i in 0..101 {
                tags.invalidate(&kind(format!("/t{i}")), InvalidationMode::Expire, &clock);
                if i == 99 {
                    assert_eq!(tags.len(), 100, "the bound itself is kept whole");
                }
            }
            let left = tags.len();
            assert!(
                (45..=55).contains(&left),
                "{left} stamps left of 101 ({:?})",
                kind(String::new())
            );
        }
    }

    #[test]
    fn an_invalidation_made_elsewhere_reaches_the_renders_up_to_its_time() {
        let tags = TagClock::new(100);
        let at = 5_000_000;
        let tagged = |rendered_at| {
            Entry::fetched(
                Arc::from("k"),
                StatusCode::OK,
                HeaderMap::new(),
                Bytes::new(),
                rendered_at,
                rendered_at,
                Revalidate::Never,
                Box::from([Arc::from("t")]),
            )
        };
        assert_eq!(tags.state(&tagged(at)), EntryState::Fresh);
        tags.apply(&StampRecord {
            target: InvalidationTarget::Tag("t".to_owned()),
            mode: InvalidationMode::Expire,
            at,
        });
        assert_eq!(tags.state(&tagged(at - 1)), EntryState::Invalidated);
        assert_eq!(
            tags.state(&tagged(at)),
            EntryState::Invalidated,
            "a render that started at the stamp's time"
        );
        assert_eq!(tags.state(&tagged(at + 1)), EntryState::Fresh);
    }
}
