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

/// The part of `key` Redis Cluster hashes (its hash tag, if it has a non-empty one).
fn hashed_part(key: &str) -> &str {
    if let Some(open) = key.find('{')
        && let Some(len) = key[open + 1..].find('}')
        && len > 0
    {
        return &key[open + 1..open + 1 + len];
    }
    key
}

/// Redis Cluster's slot of `key`: CRC16 (XMODEM) of its hashed part, modulo 16384.
pub(super) fn cluster_slot(key: &str) -> u16 {
    let mut crc: u16 = 0;
    for byte in hashed_part(key).bytes() {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc % 16_384
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slot_function_is_redis_clusters() {
        // The check value of CRC16/XMODEM, which the Redis Cluster specification gives too.
        assert_eq!(cluster_slot("123456789"), 0x31C3);
        assert_eq!(
            cluster_slot("a{user1000}.following"),
            cluster_slot("user1000")
        );
        assert_eq!(hashed_part("a{}b"), "a{}b");
    }

    #[test]
    fn keys_are_named_under_the_prefix() {
        let keys = Keys::new("my-site".to_owned());
        let entry = keys.entry("/docs/a");
        let tag = entry
            .strip_prefix("my-site:{")
            .and_then(|rest| rest.strip_suffix("}:entry"))
            .expect(&entry);
        assert_eq!(tag.len(), 32);
        assert!(
            tag.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(keys.lock("/docs/a"), format!("my-site:{{{tag}}}:lock"));
        assert_eq!(keys.stamps(), "my-site:stamps");
        assert_eq!(keys.channel(), "my-site:invalidations");
        assert_eq!(keys.prefix(), "my-site");
    }

    #[test]
    fn a_pages_entry_and_lock_share_one_cluster_slot() {
        let keys = Keys::new("isr".to_owned());
        for page in ["/", "/docs/a", "/a{b}c", "/{}", "/é?q=1", "host.example/x"] {
            let (entry, lock) = (keys.entry(page), keys.lock(page));
            assert_eq!(hashed_part(&entry), hashed_part(&lock), "{page}");
            assert_eq!(hashed_part(&entry), Keys::tag(page), "{page}");
            assert_eq!(cluster_slot(&entry), cluster_slot(&lock), "{page}");
        }
        // Pages get tags of their own, so they spread over the slots.
        assert_ne!(
            hashed_part(&keys.entry("/a")),
            hashed_part(&keys.entry("/b"))
        );
        assert_ne!(keys.entry("/a"), keys.lock("/a"));
    }

    #[test]
    fn stores_with_other_prefixes_share_no_key() {
        let (a, b) = (Keys::new("a".to_owned()), Keys::new("b".to_owned()));
        assert_ne!(a.entry("/p"), b.entry("/p"));
        assert_ne!(a.lock("/p"), b.lock("/p"));
        assert_ne!(a.stamps(), b.stamps());
        assert_ne!(a.channel(), b.channel());
    }
}
