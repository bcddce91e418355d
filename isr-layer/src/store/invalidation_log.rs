//! The invalidation log: purges that outlive a restart or reach other instances.

use super::StoreFuture;
use crate::invalidate::{StampRecord, StampSink};

/// A log of invalidations a store keeps beside its entries: on disk, so a purge made before a
/// restart still holds after it, or shared, so a purge made on one instance holds on all.
///
/// It is a capability of a store: the engine gets it from [`Store::invalidation_log`]
/// (a store that implements this trait returns `Some(self)` there). A store without one
/// forgets invalidations with the process, which is right for entries that are forgotten with
/// it too.
///
/// The engine hands every invalidation made in this process to
/// [`record_invalidation`](InvalidationLog::record_invalidation) after it already holds here;
/// a failure is logged and counted, never returned to the caller of the purge. A log that
/// shares invalidations applies those of other instances through the [`StampSink`] it was
/// given with [`attach`](InvalidationLog::attach). Stamps only move forward: applying an
/// older stamp after a newer one for the same target changes nothing, so a log may deliver
/// a stamp more than once, and in any order.
///
/// [`Store::invalidation_log`]: super::Store::invalidation_log
pub trait InvalidationLog: Send + Sync {
    /// Called once when the layer is built. Hands `sink` the invalidations the log already
    /// holds (those made before a restart) at once, and those of other instances as they
    /// arrive.
    fn attach(&self, sink: StampSink);

    /// Records an invalidation made in this process, so it survives a restart or reaches
    /// other instances.
    fn record_invalidation<'a>(&'a self, record: &'a StampRecord) -> StoreFuture<'a, ()>;
}

/// An invalidation stamp as persisted (files) and published (Redis): one JSON object.
#[cfg(any(feature = "fs", feature = "redis"))]
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct StampLine {
    kind: String,
    name: String,
    mode: String,
    pub(crate) at: u64,
}

#[cfg(any(feature = "fs", feature = "redis"))]
impl From<&StampRecord> for StampLine {
    fn from(record: &StampRecord) -> Self {
        Self {
            kind: record.target.kind().to_owned(),
            name: record.target.name().to_owned(),
            mode: record.mode.as_str().to_owned(),
            at: record.at,
        }
    }
}

#[cfg(any(feature = "fs", feature = "redis"))]
impl StampLine {
    /// The record, unless the line names an unknown kind or mode.
    pub(crate) fn record(self) -> Option<StampRecord> {
        use crate::invalidate::{InvalidationMode, InvalidationTarget};
        let mode = InvalidationMode::from_name(&self.mode)?;
        let target = InvalidationTarget::from_kind(&self.kind, self.name)?;
        Some(StampRecord::new(target, mode, self.at))
    }
}

#[cfg(all(test, any(feature = "fs", feature = "redis")))]
mod tests {
    use super::*;
    use crate::invalidate::{InvalidationMode, InvalidationTarget};

    #[test]
    fn stamp_lines_round_trip_every_target_and_mode() {
        for target in [
            InvalidationTarget::Page("/docs/a".to_owned()),
            InvalidationTarget::Layout("/docs".to_owned()),
            InvalidationTarget::Tag("docs".to_owned()),
            InvalidationTarget::All,
        ] {
            for mode in [InvalidationMode::Expire, InvalidationMode::Stale] {
                let record = StampRecord::new(target.clone(), mode, 1_700_000_000_000_000);
                let line = StampLine::from(&record);
                let json = serde_json::to_string(&line).unwrap();
                let back: StampLine = serde_json::from_str(&json).unwrap();
                assert_eq!(back.record(), Some(record), "{json}");
            }
        }
        let unknown: StampLine =
            serde_json::from_str(r#"{"kind":"page","name":"/a","mode":"later","at":1}"#).unwrap();
        assert_eq!(unknown.record(), None);
        let unknown: StampLine =
            serde_json::from_str(r#"{"kind":"route","name":"/a","mode":"stale","at":1}"#).unwrap();
        assert_eq!(unknown.record(), None);
    }
}
