//! [`RedisStore`], its builder, and its storage: entries in Redis with a byte-bounded copy in
//! each instance's memory.

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use redis::AsyncCommands;

use super::connection::{Connection, Connector, Topology};
use super::health::{Health, MAX_PENDING_STAMPS};
use super::keys::Keys;
use super::lock::Tokens;
use super::scripts::Scripts;
use crate::entry::Entry;
use crate::invalidate::StampSink;
use crate::store::{
    InvalidationLog, MemoryStore, RenderLock, Store, StoreError, StoreFuture, StoreStatus,
    StoreUsage,
};

/// Entries in Redis, shared by every instance, with a byte-bounded copy in each instance's
/// memory.
///
/// - **Shared entries.** A page rendered by one instance is a hit on the others. Keys live under
///   a prefix, `<prefix>:{<hash>}:entry`, the `{…}` hash tag keeping an entry and its render
///   lock in one Redis Cluster slot; every key gets a TTL so abandoned entries expire.
/// - **Invalidations reach every instance** ([`InvalidationLog`]). `revalidate_tag` and
///   `revalidate_path` write one stamp into `<prefix>:stamps` (no key scans) and publish it on
///   `<prefix>:invalidations`; every instance applies it within milliseconds. The hash is
///   bounded ([`max_stamps`](RedisStoreBuilder::max_stamps)): old stamps fold into one per mode.
/// - **One regeneration per cluster** ([`RenderLock`]). A render takes `SET NX PX` on the page's
///   lock (released with a token check); instances that lose keep serving the stale page, or,
///   on a miss, wait (bounded) for the winner's entry. Of instances racing for a free lock,
///   exactly one wins; the lock expires by itself after the regeneration timeout plus a second.
/// - **Three topologies**: one node ([`builder`](Self::builder)), a Redis Cluster
///   ([`cluster`](Self::cluster)) and a primary behind Sentinel ([`sentinel`](Self::sentinel)).
///   On the last two a failover fails no request (the instances render locally meanwhile and
///   follow the new primary), and a purge is acknowledged once a replica holds its stamp
///   (`WAIT 1`, at most 100 ms), so it survives the failover. Redis replicates asynchronously:
///   an entry written just before the primary died may be lost (the page renders again); a
///   stamp is lost only when no replica was in sync (a WARN line says so), and even then every
///   instance that was running keeps it.
/// - **Redis down never fails a request.** Reads fall back to rendering, writes are logged,
///   the state change is logged once each way and counted in the layer's `store_errors`. When
///   Redis is back, each instance resubscribes, reloads the stamps (so a purge made elsewhere
///   meanwhile holds), replays the purges it made itself meanwhile, and drops its in-memory
///   copies (which may predate a purge it missed).
///
/// ```no_run
/// use isr_layer::IsrLayer;
/// use isr_layer::store::RedisStore;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let store = RedisStore::builder("redis://127.0.0.1:6379")
///     .prefix("my-site")
///     .connect()
///     .await?;
/// let isr = IsrLayer::builder().store(store).build()?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    pub(super) inner: Arc<Inner>,
}

/// What every clone of a store shares, and its tasks (the subscriber) hold weakly.
pub(super) struct Inner {
    pub(super) connector: Connector,
    pub(super) keys: Keys,
    pub(super) memory: MemoryStore,
    entry_ttl: Duration,
    pub(super) op_timeout: Duration,
    pub(super) health: Health,
    pub(super) sink: OnceLock<StampSink>,
    pub(super) runtime: tokio::runtime::Handle,
    pub(super) scripts: Scripts,
    /// The bound on the stamps hash (see [`RedisStoreBuilder::max_stamps`]).
    pub(super) max_stamps: usize,
    pub(super) tokens: Tokens,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("topology", self.inner.connector.topology())
            .field("prefix", &self.inner.keys.prefix())
            .field("healthy", &self.is_healthy())
            .field("memory", &self.inner.memory)
            .finish_non_exhaustive()
    }
}

/// Builds a [`RedisStore`].
#[derive(Clone, Debug)]
#[must_use]
pub struct RedisStoreBuilder {
    topology: Topology,
    prefix: String,
    memory_bytes: u64,
    entry_ttl: Duration,
    op_timeout: Duration,
    max_stamps: usize,
}

impl RedisStoreBuilder {
    /// The prefix of every key and channel. Default `isr`. Instances that share a prefix share
    /// their cache.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Bytes of entries kept in each instance's memory. Default 64 MiB.
    pub fn memory_bytes(mut self, bytes: u64) -> Self {
        self.memory_bytes = bytes;
        self
    }

    /// How long an entry may stay in Redis without being rewritten. Default 7 days.
    pub fn entry_ttl(mut self, ttl: Duration) -> Self {
        self.entry_ttl = ttl;
        self
    }

    /// How long one Redis command may take before it counts as a failure. Default 500 ms.
    pub fn op_timeout(mut self, timeout: Duration) -> Self {
        self.op_timeout = timeout;
        self
    }

    /// The most invalidation stamps kept in Redis (one per purged tag, page or layout and
    /// mode). Default 100,000, at least 2. Past it, about the older half is folded into one
    /// "everything" stamp per mode, as each instance does with its own
    /// [`max_invalidation_stamps`](crate::IsrBuilder::max_invalidation_stamps): pages rendered
    /// before a folded purge may re-render once, and none passes as fresh. The fold reads the
    /// whole hash once (Redis is busy for a moment, every `n / 2` purges).
    pub fn max_stamps(mut self, n: usize) -> Self {
        self.max_stamps = n.max(2);
        self
    }

    /// Creates the store. Only an invalid URL is an error: a Redis that cannot be reached yet
    /// is reached later, and until then the layer works locally.
    pub async fn connect(self) -> Result<RedisStore, StoreError> {
        let connector = Connector::new(self.topology, self.op_timeout).map_err(backend)?;
        let id = xxhash_rust::xxh3::xxh3_64(
            format!(
                "{}-{:?}-{:p}",
                std::process::id(),
                std::time::SystemTime::now(),
                &connector
            )
            .as_bytes(),
        );
        let store = RedisStore {
            inner: Arc::new(Inner {
                connector,
                keys: Keys::new(self.prefix),
                memory: MemoryStore::new(self.memory_bytes),
                entry_ttl: self.entry_ttl,
                op_timeout: self.op_timeout,
                health: Health::new(MAX_PENDING_STAMPS),
                sink: OnceLock::new(),
                runtime: tokio::runtime::Handle::current(),
                scripts: Scripts::new(),
                max_stamps: self.max_stamps,
                tokens: Tokens::new(format!("{id:016x}")),
            }),
        };
        // Find out now whether Redis answers, so the first requests know.
        let _ = store.inner.ping().await;
        Ok(store)
    }
}

pub(super) fn backend(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(Box::new(e))
}

impl RedisStore {
    /// A builder for a store on the one Redis node at `url` (e.g. `redis://127.0.0.1:6379`).
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        Self::builder_for(Topology::Single(url.into()))
    }

    /// A builder for a store on a Redis Cluster, reached through any of its `nodes` (seed URLs
    /// such as `redis://10.0.0.1:6379`; list several, so that one down at start-up does not
    /// matter). Commands go to the node holding their keys' slot and follow a replica that
    /// takes over; invalidations reach the instances subscribed to any node.
    ///
    /// ```no_run
    /// use isr_layer::store::RedisStore;
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = RedisStore::cluster(["redis://10.0.0.1:6379", "redis://10.0.0.2:6379"])
    ///     .prefix("my-site")
    ///     .connect()
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn cluster<I, S>(nodes: I) -> RedisStoreBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::builder_for(Topology::Cluster(
            nodes.into_iter().map(Into::into).collect(),
        ))
    }

    /// A builder for a store on the primary that Sentinel monitors as `master`, asked of any
    /// of `sentinels` (URLs such as `redis://10.0.0.1:26379`). After a failover the store
    /// asks the sentinels again and follows the promoted replica.
    ///
    /// ```no_run
    /// use isr_layer::store::RedisStore;
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let store = RedisStore::sentinel("mymaster", ["redis://10.0.0.1:26379", "redis://10.0.0.2:26379"])
    ///     .prefix("my-site")
    ///     .connect()
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn sentinel<I, S>(master: impl Into<String>, sentinels: I) -> RedisStoreBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::builder_for(Topology::Sentinel {
            master: master.into(),
            sentinels: sentinels.into_iter().map(Into::into).collect(),
        })
    }

    fn builder_for(topology: Topology) -> RedisStoreBuilder {
        RedisStoreBuilder {
            topology,
            prefix: "isr".to_owned(),
            memory_bytes: 64 * 1024 * 1024,
            entry_ttl: Duration::from_secs(7 * 86_400),
            max_stamps: 100_000,
            op_timeout: Duration::from_millis(500),
        }
    }

    /// A store at `url` with the defaults.
    pub async fn connect(url: impl Into<String>) -> Result<Self, StoreError> {
        Self::builder(url).connect().await
    }

    /// Whether the last Redis command succeeded.
    pub fn is_healthy(&self) -> bool {
        self.inner.health.is_healthy()
    }

    /// How many times Redis became unreachable since the store was made.
    pub fn outages(&self) -> u64 {
        self.inner.health.outages()
    }

    /// The Redis key an entry with `key` is kept under.
    pub fn redis_key(&self, key: &str) -> String {
        self.inner.keys.entry(key)
    }
}

impl Inner {
    /// Runs one command with the store's timeout, tracking Redis's health.
    pub(super) async fn run<T, F>(&self, f: impl FnOnce(Connection) -> F) -> Result<T, StoreError>
    where
        F: std::future::Future<Output = redis::RedisResult<T>>,
    {
        if !self.health.may_send() {
            return Err(StoreError::Backend(
                "redis is unreachable (failing fast)".into(),
            ));
        }
        let result = tokio::time::timeout(self.op_timeout, async {
            f(self.connector.connection().await?).await
        })
        .await;
        match result {
            Ok(Ok(value)) => {
                self.health.mark_up();
                Ok(value)
            }
            Ok(Err(error)) => {
                self.connector.failed();
                self.health.mark_down(&error);
                Err(backend(error))
            }
            Err(elapsed) => {
                self.connector.failed();
                self.health.mark_down(&elapsed);
                Err(backend(elapsed))
            }
        }
    }

    /// The entry in `bytes` read from `redis_key`, kept in memory; a corrupt one is removed
    /// from Redis, and another key's (a hash collision) is not this page.
    pub(super) async fn found(
        &self,
        key: &str,
        redis_key: String,
        bytes: Option<Vec<u8>>,
    ) -> Option<Arc<Entry>> {
        match Entry::decode(&bytes?) {
            Ok(entry) if &*entry.key == key => Some(self.memory.keep(entry)),
            Ok(_) => None,
            Err(error) => {
                if let crate::store::DecodeError::Version(_) = error {
                    tracing::info!(target: "isr", key = %redis_key, %error, "entry of another format version dropped; the page renders again");
                } else {
                    tracing::warn!(target: "isr", key = %redis_key, %error, "corrupt entry in redis skipped and removed");
                }
                let _ = self
                    .run(|mut c| async move { c.del::<_, i64>(redis_key).await })
                    .await;
                None
            }
        }
    }

    pub(super) async fn ping(&self) -> Result<(), StoreError> {
        self.run(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await })
            .await
            .map(drop)
    }
}

impl Store for RedisStore {
    fn get_local(&self, key: &str) -> Option<Arc<Entry>> {
        self.inner.memory.get_local(key)
    }

    fn get_shared<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Arc<Entry>>> {
        Box::pin(async move {
            let inner = &self.inner;
            let redis_key = inner.keys.entry(key);
            let read_key = redis_key.clone();
            let bytes: Option<Vec<u8>> = inner
                .run(|mut c| async move { c.get(read_key).await })
                .await?;
            Ok(inner.found(key, redis_key, bytes).await)
        })
    }

    fn is_local_only(&self) -> bool {
        false
    }

    fn reweigh(&self, entry: &Arc<Entry>) {
        self.inner.memory.reweigh_local(entry);
    }

    fn put(&self, entry: Arc<Entry>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let inner = &self.inner;
            inner.memory.insert(Arc::clone(&entry));
            let key = inner.keys.entry(&entry.key);
            let bytes = entry.encode().to_vec();
            let ttl = u64::try_from(inner.entry_ttl.as_millis()).unwrap_or(u64::MAX);
            inner
                .run(|mut c| async move {
                    redis::cmd("SET")
                        .arg(key)
                        .arg(bytes)
                        .arg("PX")
                        .arg(ttl)
                        .query_async::<()>(&mut c)
                        .await
                })
                .await
        })
    }

    fn remove<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let inner = &self.inner;
            inner.memory.remove_local(key);
            let redis_key = inner.keys.entry(key);
            inner
                .run(|mut c| async move { c.del::<_, i64>(redis_key).await })
                .await
                .map(drop)
        })
    }

    fn status(&self) -> StoreStatus {
        let health = &self.inner.health;
        StoreStatus {
            kind: self.inner.connector.topology().kind(),
            max_bytes: self.inner.memory.status().max_bytes,
            reachable: health.is_healthy(),
            since: health.changed_at(),
            outages: health.outages(),
        }
    }

    /// What this instance holds in memory (what Redis holds is shared and not counted).
    fn usage(&self) -> StoreUsage {
        self.inner.memory.usage()
    }

    fn local_entries(&self, limit: usize) -> Vec<Arc<Entry>> {
        self.inner.memory.local_entries(limit)
    }

    /// `SET NX PX` per page, released with a token check.
    fn render_lock(&self) -> Option<&dyn RenderLock> {
        Some(self)
    }

    /// Stamps in a hash, published to every instance.
    fn invalidation_log(&self) -> Option<&dyn InvalidationLog> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::redis::testing;
    use crate::store::tier_tests::entry;

    #[tokio::test]
    async fn the_redis_store_has_every_capability() {
        let store = testing::store(&testing::unique_prefix("capabilities")).await;
        assert!(!store.is_local_only());
        assert!(store.render_lock().is_some());
        assert!(store.invalidation_log().is_some());
    }

    #[tokio::test]
    async fn an_entry_put_by_one_instance_is_read_from_redis_by_another() {
        let prefix = testing::unique_prefix("put-get");
        let (a, b) = (testing::store(&prefix).await, testing::store(&prefix).await);
        a.put(entry("/p", "page")).await.unwrap();
        assert!(a.get_local("/p").is_some(), "kept in the writer's memory");
        assert!(b.get_local("/p").is_none(), "not yet in the other's memory");
        let read = b.get("/p").await.unwrap().expect("the entry in Redis");
        assert_eq!(&read.body()[..], b"page");
        assert!(
            Arc::ptr_eq(&b.get_local("/p").unwrap(), &read),
            "kept in memory once read"
        );
        let mut redis = testing::raw().await;
        let ttl: i64 = redis.pttl(a.redis_key("/p")).await.unwrap();
        assert!(ttl > 0, "every entry expires: {ttl}");
    }

    #[tokio::test]
    async fn removing_an_entry_removes_it_from_memory_and_from_redis() {
        let prefix = testing::unique_prefix("remove");
        let (a, b) = (testing::store(&prefix).await, testing::store(&prefix).await);
        a.put(entry("/p", "page")).await.unwrap();
        a.remove("/p").await.unwrap();
        assert!(a.get_local("/p").is_none());
        assert!(b.get_shared("/p").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn an_entry_stored_under_another_key_is_not_served() {
        let prefix = testing::unique_prefix("collision");
        let store = testing::store(&prefix).await;
        // What a hash collision would look like: the key of "/a" holds the entry of "/b".
        let mut redis = testing::raw().await;
        let bytes = entry("/b", "other page").encode().to_vec();
        let _: () = redis.set(store.redis_key("/a"), bytes).await.unwrap();
        assert!(store.get_shared("/a").await.unwrap().is_none());
        assert!(store.get_local("/a").is_none());
        let _: i64 = redis.del(store.redis_key("/a")).await.unwrap();
    }

    #[tokio::test]
    async fn a_reachable_redis_counts_no_outage() {
        let store = testing::store(&testing::unique_prefix("up")).await;
        store.put(entry("/p", "page")).await.unwrap();
        assert!(store.is_healthy());
        assert_eq!(store.outages(), 0);
        let status = store.status();
        assert!(status.reachable);
        assert_eq!((status.outages, status.since), (0, None));
    }

    #[tokio::test]
    async fn debug_names_the_topology_the_prefix_and_the_health() {
        let prefix = testing::unique_prefix("debug");
        let store = testing::store(&prefix).await;
        let debug = format!("{store:?}");
        for part in [
            "RedisStore",
            "127.0.0.1",
            &prefix,
            "healthy: true",
            "memory",
        ] {
            assert!(debug.contains(part), "{part} in {debug}");
        }
    }

    #[test]
    fn every_topology_starts_from_the_documented_defaults() {
        for builder in [
            RedisStore::builder("redis://h"),
            RedisStore::cluster(["redis://h:7000"]),
            RedisStore::sentinel("m", ["redis://h:26379"]),
        ] {
            assert_eq!(builder.prefix, "isr");
            assert_eq!(builder.memory_bytes, 64 << 20);
            assert_eq!(builder.entry_ttl, Duration::from_secs(7 * 24 * 3600));
            assert_eq!(builder.max_stamps, 100_000);
            assert_eq!(builder.op_timeout, Duration::from_millis(500));
        }
    }

    #[cfg(feature = "gzip")]
    #[tokio::test]
    async fn an_encoding_made_later_is_weighed_in_the_memory_tier() {
        let store = testing::store(&testing::unique_prefix("reweigh")).await;
        let memory = store.clone();
        crate::store::tier_tests::an_encoding_made_later_is_weighed(store, move || {
            memory.usage().bytes
        })
        .await;
    }

    #[tokio::test]
    async fn an_unreachable_redis_counts_one_outage_and_memory_still_serves() {
        let store = testing::unreachable_store(&testing::unique_prefix("down")).await;
        assert!(!store.is_healthy(), "the first ping found out");
        assert_eq!(store.outages(), 1);
        assert!(store.get_shared("/p").await.is_err());
        assert!(store.put(entry("/p", "page")).await.is_err());
        assert!(
            store.get_local("/p").is_some(),
            "memory still serves the page"
        );
        assert_eq!(store.outages(), 1, "one outage, however many failures");
    }
}
