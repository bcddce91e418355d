//! One render per key across the instances sharing a store: the store's render lock.

use std::sync::Arc;
use std::time::Duration;

use super::Engine;
use crate::entry::Entry;
use crate::invalidate::EntryState;
use crate::store::LockOutcome;

/// What the stores shared with other instances say about rendering now.
pub(super) enum Turn {
    /// Render, releasing this lock token (if any) afterwards.
    Render(Option<String>),
    /// Another instance already stored a newer, fresh entry: use it.
    Adopt(Arc<Entry>),
    /// Another instance is regenerating; nobody waits here, so leave it to them.
    Skip,
}

/// With a store shared by several instances, one render per key across all of them: take the
/// store's lock; if another instance holds it, a background regeneration steps aside and a
/// visitor waits (bounded by the waiter timeout) for that instance's entry. Whoever renders
/// first checks whether a newer entry has landed meanwhile.
pub(super) async fn cluster_turn(
    engine: &Engine,
    lookup: &str,
    replaces: Option<&Entry>,
    background: bool,
) -> Turn {
    let newer = |entry: &Arc<Entry>| {
        replaces.is_none_or(|old| entry.stored_at > old.stored_at)
            && engine.freshness(entry, engine.clock.now()) == EntryState::Fresh
    };
    let ttl = engine.config.regeneration_timeout + Duration::from_secs(1);
    let deadline = tokio::time::Instant::now() + engine.config.waiter_timeout;
    loop {
        let (lock, fresh) = match engine.store.try_lock_then_get(lookup, ttl).await {
            Ok((lock, entry)) => (lock, entry.filter(newer)),
            Err(error) => {
                engine.stats.inc_store_errors();
                tracing::warn!(target: "isr", key = lookup, %error, "store lock failed; rendering here");
                (LockOutcome::Acquired(None), None)
            }
        };
        match (lock, fresh) {
            (LockOutcome::Acquired(token), Some(entry)) => {
                if let Some(token) = token {
                    let _ = engine.store.unlock(lookup, token).await;
                }
                return Turn::Adopt(entry);
            }
            (LockOutcome::Acquired(token), None) => return Turn::Render(token),
            (_, Some(entry)) => return Turn::Adopt(entry),
            (_, None) if background => return Turn::Skip,
            (_, None) if tokio::time::Instant::now() >= deadline => return Turn::Render(None),
            (_, None) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}
