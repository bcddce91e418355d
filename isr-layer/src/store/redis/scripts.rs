//! The Lua scripts the store runs, each in a file of its own under `scripts/`.
//!
//! A script touches only the keys it is given (`KEYS[n]`), never a name it makes up, so Redis
//! Cluster can route it to the slot of those keys; each script here is given one key.

use redis::{Script, ScriptInvocation};

use crate::store::LockToken;

/// See [`Scripts::stamp`].
const STAMP: &str = include_str!("scripts/stamp.lua");
/// See [`Scripts::unlock`].
const UNLOCK: &str = include_str!("scripts/unlock.lua");

/// The store's scripts, with their hashes computed once (Redis runs them by hash, loading them
/// when it does not know them).
pub(super) struct Scripts {
    stamp: Script,
    unlock: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        Self {
            stamp: Script::new(STAMP),
            unlock: Script::new(UNLOCK),
        }
    }

    /// Keeps the stamp `at` under `field` of the stamps hash only if it is newer than the one
    /// stored, and keeps the hash bounded to `max_stamps` fields. Past the bound, about the
    /// older half of the stamps (those up to the median) is folded into the `everything`
    /// fields ("everything, expire" and "everything, stale", by each field's mode), as an
    /// instance's own tag clock does: a page may then re-render once, never pass as fresh.
    /// Stamps are compared as numbers (microseconds, exact in Lua's doubles) and written back
    /// as the strings they were. The script returns how many fields were folded.
    pub(super) fn stamp(
        &self,
        stamps_key: String,
        field: String,
        at: u64,
        max_stamps: usize,
        everything: &[String; 2],
    ) -> ScriptInvocation<'_> {
        let mut call = self.stamp.key(stamps_key);
        call.arg(field)
            .arg(at)
            .arg(max_stamps)
            .arg(&everything[0])
            .arg(&everything[1]);
        call
    }

    /// Deletes the lock at `lock_key` only if `token` still holds it. The script returns how
    /// many keys it deleted (0 or 1).
    pub(super) fn unlock(&self, lock_key: String, token: &LockToken) -> ScriptInvocation<'_> {
        let mut call = self.unlock.key(lock_key);
        call.arg(token.as_str());
        call
    }
}
