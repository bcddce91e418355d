//! The subscription to the invalidations every instance publishes, kept up for as long as the
//! store lives: it resubscribes after a lost connection and, each time, reloads the stamps (a
//! purge published while it was away would otherwise be missed).

use std::sync::Weak;
use std::time::Duration;

use futures_util::StreamExt;
use redis::AsyncCommands;

use super::store::Inner;
use crate::invalidate::StampRecord;
use crate::store::StampLine;

/// The first wait before resubscribing, and after every subscription that held.
const FIRST_DELAY: Duration = Duration::from_millis(50);
/// The longest wait before resubscribing.
const MAX_DELAY: Duration = Duration::from_secs(2);
/// How often queued purges are replayed (and, while Redis is down, probed for).
const REPLAY_EVERY: Duration = Duration::from_millis(250);

/// The wait after `delay` when resubscribing failed again: twice as long, up to
/// [`MAX_DELAY`].
fn next_delay(delay: Duration) -> Duration {
    (delay * 2).min(MAX_DELAY)
}

/// The stamp in a published message, unless it is not one this version reads.
fn record_of(payload: &str) -> Option<StampRecord> {
    serde_json::from_str::<StampLine>(payload)
        .ok()
        .and_then(StampLine::record)
}

/// Listens for invalidations published by any instance, resubscribing after every lost
/// connection. Ends when the store is dropped.
pub(super) async fn subscribe(inner: Weak<Inner>) {
    let mut delay = FIRST_DELAY;
    let mut first = true;
    loop {
        let Some(store) = inner.upgrade() else { return };
        let channel = store.keys.channel();
        let timeout = store.op_timeout;
        let subscribed =
            tokio::time::timeout(timeout * 4, store.connector.subscribe(&channel)).await;
        drop(store);
        match subscribed {
            Ok(Ok(pubsub)) => {
                let Some(store) = inner.upgrade() else { return };
                delay = FIRST_DELAY;
                store.health.mark_up();
                let caught_up = if first {
                    store.reload_stamps().await
                } else {
                    store.recover().await
                };
                if !caught_up {
                    // Resubscribe and reload again rather than listen with a gap.
                    drop(store);
                    tokio::time::sleep(delay).await;
                    continue;
                }
                first = false;
                let sink = store.sink.get().cloned();
                drop(store);
                let mut messages = pubsub.into_on_message();
                // Purges queued while commands failed (the subscription may have stayed up)
                // are replayed as soon as Redis answers again.
                let mut replay = tokio::time::interval(REPLAY_EVERY);
                loop {
                    tokio::select! {
                        message = messages.next() => {
                            let Some(message) = message else { break };
                            let Ok(payload) = message.get_payload::<String>() else { continue };
                            if let (Some(record), Some(sink)) = (record_of(&payload), &sink) {
                                sink.apply(&record);
                            }
                        }
                        _ = replay.tick() => {
                            let Some(store) = inner.upgrade() else { return };
                            // Commands fail fast while Redis is unreachable: probe here too, so
                            // recovery does not wait for a request that needs Redis.
                            if !store.health.is_healthy() {
                                let _ = store.ping().await;
                            }
                            if store.health.has_pending() {
                                store.replay_pending().await;
                            }
                        }
                    }
                    if inner.strong_count() == 0 {
                        return;
                    }
                }
                if let Some(store) = inner.upgrade() {
                    store
                        .health
                        .mark_down(&"the subscription connection closed");
                }
            }
            Ok(Err(error)) => {
                if let Some(store) = inner.upgrade() {
                    store.health.mark_down(&error);
                }
            }
            Err(elapsed) => {
                if let Some(store) = inner.upgrade() {
                    store.health.mark_down(&elapsed);
                }
            }
        }
        tokio::time::sleep(delay).await;
        delay = next_delay(delay);
    }
}

impl Inner {
    /// After an outage: forget in-memory copies (they may predate a purge this instance
    /// missed), reload every stamp, and replay the purges made here meanwhile.
    pub(super) async fn recover(&self) -> bool {
        self.memory.clear();
        let reloaded = self.reload_stamps().await;
        self.replay_pending().await;
        reloaded
    }

    /// Reloads every stamp; `false` if Redis did not answer (the caller resubscribes and
    /// tries again, so no purge made elsewhere is skipped).
    async fn reload_stamps(&self) -> bool {
        let Some(sink) = self.sink.get() else {
            return true;
        };
        let key = self.keys.stamps();
        let reload = tokio::time::timeout(self.op_timeout * 10, async {
            self.connector
                .connection()
                .await?
                .hgetall::<_, Vec<(String, u64)>>(key)
                .await
        });
        let Ok(Ok(fields)) = reload.await else {
            self.connector.failed();
            self.health
                .mark_down(&"the invalidation stamps could not be reloaded");
            return false;
        };
        for (field, at) in fields {
            let Ok(mut line) = serde_json::from_str::<StampLine>(&field) else {
                continue;
            };
            line.at = at;
            if let Some(record) = line.record() {
                sink.apply(&record);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invalidate::{InvalidationMode, InvalidationTarget};
    use crate::store::Store;
    use crate::store::redis::testing;
    use crate::store::tier_tests::entry;

    #[test]
    fn resubscribing_backs_off_from_fifty_milliseconds_to_two_seconds() {
        let mut delays = vec![FIRST_DELAY];
        while delays.len() < 8 {
            delays.push(next_delay(*delays.last().unwrap()));
        }
        let ms: Vec<u128> = delays.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [50, 100, 200, 400, 800, 1600, 2000, 2000]);
    }

    #[test]
    fn a_published_stamp_is_read_and_anything_else_ignored() {
        let record = record_of(r#"{"kind":"layout","name":"/docs","mode":"stale","at":17}"#);
        assert_eq!(
            record,
            Some(StampRecord::new(
                InvalidationTarget::Layout("/docs".to_owned()),
                InvalidationMode::Stale,
                17
            ))
        );
        for garbage in [
            "",
            "not json",
            r#"{"kind":"layout"}"#,
            r#"{"kind":"route","name":"/docs","mode":"stale","at":17}"#,
            r#"{"kind":"tag","name":"t","mode":"soon","at":17}"#,
        ] {
            assert_eq!(record_of(garbage), None, "{garbage}");
        }
    }

    #[tokio::test]
    async fn recovering_forgets_memory_and_replays_the_purges_made_meanwhile() {
        let store = testing::store(&testing::unique_prefix("recover")).await;
        store.put(entry("/p", "page")).await.unwrap();
        let purge = StampRecord::new(
            InvalidationTarget::Tag("t".to_owned()),
            InvalidationMode::Expire,
            5,
        );
        store.inner.health.queue(purge);
        assert!(store.inner.recover().await, "caught up");
        assert!(
            store.get_local("/p").is_none(),
            "a copy that may predate a missed purge is dropped"
        );
        assert!(!store.inner.health.has_pending(), "the purge was replayed");
        let mut redis = testing::raw().await;
        let kept: usize = redis.hlen(store.inner.keys.stamps()).await.unwrap();
        assert_eq!(kept, 1);
        let _: i64 = redis.del(store.inner.keys.stamps()).await.unwrap();
        assert!(
            store.get("/p").await.unwrap().is_some(),
            "the entry itself is still in Redis"
        );
    }
}
