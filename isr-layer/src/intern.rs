//! Values many entries hold alike, kept once: response heads, tags, route names.
//!
//! An [`Interner`] finds the value a live entry holds already and hands out another reference
//! to it. It holds its values weakly: a value lives as long as an entry holds it, and the
//! interner forgets the dropped ones as it grows. It is used when an entry is made (a render,
//! a read from a store), never on a hit.

use std::collections::HashMap;
use std::hash::{BuildHasher, DefaultHasher, Hasher, RandomState};
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// A set of shared values, found by a hash of their contents (see the module docs).
pub(crate) struct Interner<T: ?Sized> {
    table: OnceLock<Mutex<Table<T>>>,
}

struct Table<T: ?Sized> {
    /// Hash → the live values with that hash (one, but for collisions).
    values: HashMap<u64, Vec<Weak<T>>>,
    /// Keyed per process: values come from applications and, through them, from visitors.
    hasher: RandomState,
    /// When `values` has this many hashes, the dropped values are forgotten.
    prune_at: usize,
}

/// Hashes kept before the first pruning.
const FIRST_PRUNE: usize = 4096;

impl<T: ?Sized> Interner<T> {
    pub(crate) const fn new() -> Self {
        Self {
            table: OnceLock::new(),
        }
    }

    /// The live value equal to `value` (`hash` feeds its contents, `same` compares a held
    /// value with it), or the one `make` makes of it, kept from now on; `true` with it when it
    /// was found.
    pub(crate) fn intern<V>(
        &self,
        value: V,
        hash: impl FnOnce(&V, &mut DefaultHasher),
        same: impl Fn(&T, &V) -> bool,
        make: impl FnOnce(V) -> Arc<T>,
    ) -> (Arc<T>, bool) {
        let table = self.table.get_or_init(|| {
            Mutex::new(Table {
                values: HashMap::new(),
                hasher: RandomState::new(),
                prune_at: FIRST_PRUNE,
            })
        });
        // A poisoned table is still a table of weak pointers, each checked before use.
        let mut table = table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut hasher = table.hasher.build_hasher();
        hash(&value, &mut hasher);
        let hash = hasher.finish();
        if let Some(found) = table.values.get(&hash).and_then(|candidates| {
            candidates
                .iter()
                .filter_map(Weak::upgrade)
                .find(|held| same(held, &value))
        }) {
            return (found, true);
        }
        let value = make(value);
        if table.values.len() >= table.prune_at {
            table.values.retain(|_, candidates| {
                candidates.retain(|value| value.strong_count() > 0);
                !candidates.is_empty()
            });
            table.prune_at = (table.values.len() * 2).max(FIRST_PRUNE);
        }
        table
            .values
            .entry(hash)
            .or_default()
            .push(Arc::downgrade(&value));
        (value, false)
    }

    #[cfg(test)]
    fn hashes(&self) -> usize {
        self.table
            .get()
            .map_or(0, |table| table.lock().unwrap().values.len())
    }
}

/// `text` as a string shared with the live entries that hold it (tags, route names).
pub(crate) fn string(text: &str) -> Arc<str> {
    static STRINGS: Interner<str> = Interner::new();
    STRINGS
        .intern(
            text,
            |text, hasher| hasher.write(text.as_bytes()),
            |held, text| held == *text,
            Arc::from,
        )
        .0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intern(interner: &Interner<str>, text: &str) -> (Arc<str>, bool) {
        interner.intern(
            text,
            |text, hasher| hasher.write(text.as_bytes()),
            |held, text| held == *text,
            Arc::from,
        )
    }

    #[test]
    fn equal_values_are_shared_while_held() {
        let interner = Interner::new();
        let (a, found) = intern(&interner, "docs");
        assert!(!found);
        let (b, found) = intern(&interner, "docs");
        assert!(found && Arc::ptr_eq(&a, &b));
        assert!(!intern(&interner, "blog").1);
        drop((a, b));
        assert!(!intern(&interner, "docs").1, "a dropped value is made anew");
    }

    #[test]
    fn dropped_values_are_forgotten_as_the_table_grows() {
        let interner = Interner::new();
        let (held, _) = intern(&interner, "held");
        for n in 0..FIRST_PRUNE * 3 {
            drop(intern(&interner, &format!("tag-{n}")));
            assert!(interner.hashes() <= FIRST_PRUNE + 1, "pruned at {n}");
        }
        let (again, found) = intern(&interner, "held");
        assert!(found && Arc::ptr_eq(&held, &again), "a held value is kept");
    }

    #[test]
    fn strings_are_shared() {
        let a = string("intern-test-tag");
        let b = string("intern-test-tag");
        assert!(Arc::ptr_eq(&a, &b));
    }
}
