//! The invalidation log of [`RedisStore`]: one stamp per target and mode in `<prefix>:stamps`
//! (kept by the stamp script), published on `<prefix>:invalidations` to every instance.
//!
//! An invalidation Redis cannot take is queued (see the store's health) and replayed when Redis
//! answers again, so other instances learn of it then.

use std::sync::Arc;

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
        let folded = self
            .run(|mut c| async move { stamp.invoke_async::<i64>(&mut c).await })
            .await?;
        if folded > 0 {
            tracing::debug!(target: "isr", folded, "folded old invalidation stamps in Redis");
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
