//! The names of the store's Redis keys and of its channel.
//!
//! Redis Cluster runs a command, pipeline or script over several keys only when they hash to
//! one slot, and hashes only the `{…}` part of a key that has one (its hash tag). A page's
//! entry and its render lock are asked in one pipeline, so both carry the same hash tag: the
//! hash of the page's key. The stamps hash is the only key its script touches, and the channel
//! is not a key.

/// The names of one store's keys, all under its prefix.
#[derive(Debug)]
pub(super) struct Keys {
    prefix: String,
}

impl Keys {
    pub(super) fn new(prefix: String) -> Self {
        Self { prefix }
    }

    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The hash tag of the page `key`: a hash of it, so every page has one whatever characters
    /// its key holds (braces included) and pages spread over the cluster's slots.
    fn tag(key: &str) -> String {
        format!("{:032x}", xxhash_rust::xxh3::xxh3_128(key.as_bytes()))
    }

    /// Where the entry of the page `key` is kept: `<prefix>:{<hash>}:entry`.
    pub(super) fn entry(&self, key: &str) -> String {
        format!("{}:{{{}}}:entry", self.prefix, Self::tag(key))
    }

    /// The render lock of the page `key`: `<prefix>:{<hash>}:lock`, in its entry's slot.
    pub(super) fn lock(&self, key: &str) -> String {
        format!("{}:{{{}}}:lock", self.prefix, Self::tag(key))
    }

    /// The hash of invalidation stamps: `<prefix>:stamps`.
    pub(super) fn stamps(&self) -> String {
        format!("{}:stamps", self.prefix)
    }

    /// The channel invalidations are published on: `<prefix>:invalidations`.
    pub(super) fn channel(&self) -> String {
        format!("{}:invalidations", self.prefix)
    }
}
