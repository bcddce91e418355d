//! The invalidation log of [`RedisStore`]: one stamp per target and mode in `<prefix>:stamps`
//! (kept by the stamp script), published on `<prefix>:invalidations` to every instance.
//!
//! On a Redis Cluster or behind Sentinel, a stamp is acknowledged once a replica has it too
//! (`WAIT 1`, at most [`MAX_REPLICA_WAIT`]), before it is published: replication is
//! asynchronous, and a stamp only the failed primary held would be lost to instances started
//! after the failover. A primary without a replica in sync makes the wait run out; the stamp is
//! kept all the same and the shortfall logged.
//!
//! An invalidation Redis cannot take is queued (see the store's health) and replayed when Redis
//! answers again, so other instances learn of it then.

use std::sync::Arc;
use std::time::Duration;

use redis::AsyncCommands;

use super::RedisStore;
use super::store::{Inner, backend};
use super::subscriber::subscribe;
use crate::invalidate::{InvalidationMode, InvalidationTarget, StampRecord, StampSink};
use crate::store::{InvalidationLog, StampLine, StoreError, StoreFuture};

impl InvalidationLog for RedisStore {
    /// Starts listening for the invalidations of every instance (once per store, whatever the
    /// number of clones or calls); the stamps already in Redis are applied when the
    /// subscription is up.
    fn attach(&self, sink: StampSink) {
        if self.inner.sink.set(sink).is_ok() {
            self.inner
                .runtime
                .spawn(subscribe(Arc::downgrade(&self.inner)));
        }
    }

    fn record_invalidation<'a>(&'a self, record: &'a StampRecord) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let shared = self.inner.share(record).await;
            if shared.is_err() {
                // Replayed when Redis is back, so other instances learn of it then.
                self.inner.health.queue(record.clone());
            }
            shared
        })
    }
}

/// The stamps-hash field `record` is kept under (its target and mode: the stamp is the
/// value), and the message published for it (the stamp included).
/// The longest wait for a replica to acknowledge a stamp. `WAIT` holds the connection it is
/// sent on, which other commands to that node share, so it is kept short: a replica in sync
/// answers within a millisecond.
const MAX_REPLICA_WAIT: Duration = Duration::from_millis(100);

fn field_and_message(record: &StampRecord) -> Result<(String, String), StoreError> {
    let mut line = StampLine::from(record);
    let at = line.at;
    line.at = 0;
    let field = serde_json::to_string(&line).map_err(backend)?;
    line.at = at;
    let message = serde_json::to_string(&line).map_err(backend)?;
    Ok((field, message))
}

/// The stamps-hash fields of "everything, expire" and "everything, stale", as
/// `revalidate_all` writes them.
fn everything_fields() -> [String; 2] {
    [InvalidationMode::Expire, InvalidationMode::Stale].map(|mode| {
        let line = StampLine::from(&StampRecord::new(InvalidationTarget::All, mode, 0));
        serde_json::to_string(&line).unwrap_or_default()
    })
}

impl Inner {
    /// Writes the stamp (keeping the newest) and publishes it.
    pub(super) async fn share(&self, record: &StampRecord) -> Result<(), StoreError> {
        let (field, message) = field_and_message(record)?;
        let everything = everything_fields();
        let stamp = self.scripts.stamp(
            self.keys.stamps(),
            field,
            record.at,
            self.max_stamps,
            &everything,
        );
        let wait = (self.op_timeout / 4).min(MAX_REPLICA_WAIT);
        let mut pipe = redis::pipe();
        pipe.add_command(stamp);
        if self.connector.topology().is_replicated() {
            // On the connection that wrote the stamp, so `WAIT` counts that write.
            let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
            pipe.cmd("WAIT").arg(1).arg(ms);
        }
        let answers: Vec<i64> = self
            .run(|mut c| async move { pipe.query_async(&mut c).await })
            .await?;
        let (folded, replicas) = (answers.first().copied().unwrap_or(0), answers.get(1));
        if folded > 0 {
            tracing::debug!(target: "isr", folded, "folded old invalidation stamps in Redis");
        }
        if replicas == Some(&0) {
            tracing::warn!(target: "isr", waited_ms = wait.as_millis(), "an invalidation stamp is on the primary but on no replica yet: a failover now could lose it (running instances keep it)");
        }
        let channel = self.keys.channel();
        self.run(|mut c| async move { c.publish::<_, _, i64>(channel, message).await })
            .await
            .map(drop)
    }

    /// Shares the invalidations queued while Redis did not take them, oldest first; those that
    /// fail again go back in the queue.
    pub(super) async fn replay_pending(&self) {
        for record in self.health.take_pending() {
            if self.share(&record).await.is_err() {
                self.health.queue(record);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;
    use crate::store::redis::testing;

    fn record(target: InvalidationTarget, mode: InvalidationMode, at: u64) -> StampRecord {
        StampRecord::new(target, mode, at)
    }

    /// A subscription to `store`'s channel, on a connection of its own.
    async fn listen(store: &RedisStore) -> redis::aio::PubSub {
        let client = redis::Client::open(testing::redis_url()).unwrap();
        let mut pubsub = client.get_async_pubsub().await.unwrap();
        pubsub.subscribe(store.inner.keys.channel()).await.unwrap();
        pubsub
    }

    /// The next `n` stamps published on the subscription.
    async fn published(pubsub: &mut redis::aio::PubSub, n: usize) -> Vec<StampRecord> {
        let messages = pubsub.on_message().take(n).map(|message| {
            let payload: String = message.get_payload().unwrap();
            serde_json::from_str::<StampLine>(&payload)
                .unwrap()
                .record()
                .unwrap()
        });
        tokio::time::timeout(Duration::from_secs(10), messages.collect())
            .await
            .expect("the stamps are published")
    }

    #[test]
    fn a_stamp_is_kept_under_its_target_and_mode_and_published_with_its_time() {
        let tag = record(
            InvalidationTarget::Tag("docs".to_owned()),
            InvalidationMode::Stale,
            1_700_000_000_000_123,
        );
        let (field, message) = field_and_message(&tag).unwrap();
        assert_eq!(
            field,
            r#"{"kind":"tag","name":"docs","mode":"stale","at":0}"#
        );
        let published: StampLine = serde_json::from_str(&message).unwrap();
        assert_eq!(published.record(), Some(tag.clone()));
        // A later stamp of the same target and mode goes under the same field.
        let later = record(tag.target.clone(), tag.mode, tag.at + 1);
        assert_eq!(field_and_message(&later).unwrap().0, field);
    }

    #[test]
    fn the_everything_fields_are_those_revalidate_all_writes() {
        let fields = everything_fields();
        for (mode, field) in [InvalidationMode::Expire, InvalidationMode::Stale]
            .into_iter()
            .zip(&fields)
        {
            let all = record(InvalidationTarget::All, mode, 42);
            assert_eq!(&field_and_message(&all).unwrap().0, field);
        }
        assert_ne!(fields[0], fields[1]);
        // The stamp script tells a field's mode by this text.
        assert!(fields[1].contains(r#""mode":"stale""#));
        assert!(!fields[0].contains(r#""mode":"stale""#));
    }

    #[tokio::test]
    async fn a_recorded_invalidation_is_kept_in_redis_and_published() {
        let store = testing::store(&testing::unique_prefix("record")).await;
        let mut pubsub = listen(&store).await;
        let purge = record(
            InvalidationTarget::Page("/docs/a".to_owned()),
            InvalidationMode::Expire,
            1_700_000_000_000_000,
        );
        store.record_invalidation(&purge).await.unwrap();
        assert_eq!(
            published(&mut pubsub, 1).await,
            std::slice::from_ref(&purge)
        );
        let mut redis = testing::raw().await;
        let (field, _) = field_and_message(&purge).unwrap();
        let kept: u64 = redis.hget(store.inner.keys.stamps(), field).await.unwrap();
        assert_eq!(kept, purge.at);
        let _: i64 = redis.del(store.inner.keys.stamps()).await.unwrap();
    }

    #[tokio::test]
    async fn invalidations_queued_while_redis_was_down_are_replayed_in_order() {
        let store = testing::store(&testing::unique_prefix("replay")).await;
        let mut pubsub = listen(&store).await;
        let queued: Vec<StampRecord> = (1..=3)
            .map(|n| {
                record(
                    InvalidationTarget::Tag(format!("t{n}")),
                    InvalidationMode::Expire,
                    n,
                )
            })
            .collect();
        for purge in &queued {
            store.inner.health.queue(purge.clone());
        }
        store.inner.replay_pending().await;
        assert!(!store.inner.health.has_pending());
        assert_eq!(published(&mut pubsub, 3).await, queued);
        let mut redis = testing::raw().await;
        let kept: usize = redis.hlen(store.inner.keys.stamps()).await.unwrap();
        assert_eq!(kept, 3);
        let _: i64 = redis.del(store.inner.keys.stamps()).await.unwrap();
    }

    #[tokio::test]
    async fn an_invalidation_redis_cannot_take_is_queued_for_replay() {
        let store = testing::unreachable_store(&testing::unique_prefix("record-down")).await;
        let purge = record(InvalidationTarget::All, InvalidationMode::Stale, 7);
        assert!(store.record_invalidation(&purge).await.is_err());
        store.inner.replay_pending().await;
        assert_eq!(
            store.inner.health.take_pending(),
            [purge],
            "still queued after a failed replay"
        );
    }
}
