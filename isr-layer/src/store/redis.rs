//! The Redis store: entries shared by every instance, invalidations published to all of them,
//! one regeneration per cluster.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};

use super::{
    InvalidationLog, LockOutcome, LockToken, MemoryStore, RenderLock, StampLine, Store, StoreError,
    StoreFuture, StoreUsage,
};
use crate::entry::Entry;
use crate::invalidate::{StampRecord, StampSink};

/// Stamps written while Redis was unreachable, replayed when it is back (the oldest are
/// dropped past this many; their pages are then only bounded by their revalidate).
const MAX_PENDING_STAMPS: usize = 10_000;

/// Keeps a stamp only if it is newer than the one stored, and keeps the hash bounded.
///
/// `KEYS[1]` the stamps hash; `ARGV[1]` field, `ARGV[2]` stamp; `ARGV[3]` the most fields kept;
/// `ARGV[4]` and `ARGV[5]` the fields of "everything, expire" and "everything, stale". Past the
/// bound, about the older half of the stamps (those up to the median) is folded into those two
/// (by each field's mode), as an
/// instance's own tag clock does: a page may then re-render once, never pass as fresh. Stamps
/// are compared as numbers (microseconds, exact in Lua's doubles) and written back as the
/// strings they were. Returns how many fields were folded.
const STAMP_SCRIPT: &str = r#"
local current = redis.call('HGET', KEYS[1], ARGV[1])
if (not current) or tonumber(current) < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
if redis.call('HLEN', KEYS[1]) <= tonumber(ARGV[3]) then
  return 0
end
local all = redis.call('HGETALL', KEYS[1])
local stamps = {}
for i = 1, #all, 2 do
  if all[i] ~= ARGV[4] and all[i] ~= ARGV[5] then
    stamps[#stamps + 1] = tonumber(all[i + 1])
  end
end
table.sort(stamps)
local cutoff = stamps[math.floor(#stamps / 2) + 1]
local into = {}
into[ARGV[4]] = redis.call('HGET', KEYS[1], ARGV[4])
into[ARGV[5]] = redis.call('HGET', KEYS[1], ARGV[5])
local folded = 0
for i = 1, #all, 2 do
  local field, stamp = all[i], all[i + 1]
  if field ~= ARGV[4] and field ~= ARGV[5] and tonumber(stamp) <= cutoff then
    local target = ARGV[4]
    if string.find(field, '"mode":"stale"', 1, true) then
      target = ARGV[5]
    end
    if (not into[target]) or tonumber(into[target]) < tonumber(stamp) then
      into[target] = stamp
    end
    redis.call('HDEL', KEYS[1], field)
    folded = folded + 1
  end
end
for _, field in ipairs({ARGV[4], ARGV[5]}) do
  if into[field] then
    redis.call('HSET', KEYS[1], field, into[field])
  end
end
return folded"#;

/// Deletes the lock only if this instance's token still holds it.
const UNLOCK_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0";

/// Entries in Redis, shared by every instance, with a byte-bounded copy in each instance's
/// memory.
///
/// - **Shared entries.** A page rendered by one instance is a hit on the others. Keys live under
///   a prefix, `<prefix>:{<hash>}:entry`, the `{…}` hash tag keeping an entry and its render
///   lock in one Redis Cluster slot; every key gets a TTL so abandoned entries expire.
/// - **Invalidations reach every instance.** `revalidate_tag` and `revalidate_path` write one
///   stamp into `<prefix>:stamps` (no key scans) and publish it on `<prefix>:invalidations`;
///   every instance applies it within milliseconds. The hash is bounded
///   ([`max_stamps`](RedisStoreBuilder::max_stamps)): old stamps fold into one per mode.
/// - **One regeneration per cluster.** A render takes `SET NX PX` on the page's lock (released
///   with a token check); instances that lose keep serving the stale page, or, on a miss, wait
///   (bounded) for the winner's entry.
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
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    manager: ConnectionManager,
    prefix: String,
    memory: MemoryStore,
    entry_ttl: Duration,
    op_timeout: Duration,
    instance: String,
    healthy: AtomicBool,
    outages: AtomicU64,
    pending: Mutex<VecDeque<StampRecord>>,
    sink: OnceLock<StampSink>,
    runtime: tokio::runtime::Handle,
    stamp_script: Script,
    /// The bound on the stamps hash (see [`RedisStoreBuilder::max_stamps`]).
    max_stamps: usize,
    unlock_script: Script,
    lock_counter: AtomicU64,
    /// When (ms since `started`) a command last went to Redis while it was unhealthy.
    last_probe: AtomicU64,
    started: std::time::Instant,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.inner.prefix)
            .field("healthy", &self.is_healthy())
            .field("memory", &self.inner.memory)
            .finish_non_exhaustive()
    }
}

/// Builds a [`RedisStore`].
#[derive(Clone, Debug)]
#[must_use]
pub struct RedisStoreBuilder {
    url: String,
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
        let client = redis::Client::open(self.url.as_str()).map_err(backend)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.op_timeout))
            .set_response_timeout(Some(self.op_timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let manager =
            ConnectionManager::new_lazy_with_config(client.clone(), config).map_err(backend)?;
        let id = xxhash_rust::xxh3::xxh3_64(
            format!(
                "{}-{:?}-{:p}",
                std::process::id(),
                std::time::SystemTime::now(),
                &client
            )
            .as_bytes(),
        );
        let store = RedisStore {
            inner: Arc::new(Inner {
                client,
                manager,
                prefix: self.prefix,
                memory: MemoryStore::new(self.memory_bytes),
                entry_ttl: self.entry_ttl,
                op_timeout: self.op_timeout,
                instance: format!("{id:016x}"),
                healthy: AtomicBool::new(true),
                outages: AtomicU64::new(0),
                pending: Mutex::new(VecDeque::new()),
                sink: OnceLock::new(),
                runtime: tokio::runtime::Handle::current(),
                stamp_script: Script::new(STAMP_SCRIPT),
                max_stamps: self.max_stamps,
                unlock_script: Script::new(UNLOCK_SCRIPT),
                lock_counter: AtomicU64::new(0),
                last_probe: AtomicU64::new(0),
                started: std::time::Instant::now(),
            }),
        };
        // Find out now whether Redis answers, so the first requests know.
        let _ = store.inner.ping().await;
        Ok(store)
    }
}

/// What the answer to the lock command (`SET NX`: `OK` or nil) means for `token`.
fn lock_outcome(set: Option<String>, token: LockToken) -> LockOutcome {
    match set {
        Some(_) => LockOutcome::Acquired(token),
        None => LockOutcome::Held,
    }
}

/// The stamps-hash fields of "everything, expire" and "everything, stale", as
/// `revalidate_all` writes them.
fn everything_fields() -> [String; 2] {
    use crate::invalidate::{InvalidationMode, InvalidationTarget};
    [InvalidationMode::Expire, InvalidationMode::Stale].map(|mode| {
        let line = StampLine::from(&StampRecord::new(InvalidationTarget::All, mode, 0));
        serde_json::to_string(&line).unwrap_or_default()
    })
}

fn backend(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(Box::new(e))
}

impl RedisStore {
    /// A builder for a store at `url` (e.g. `redis://127.0.0.1:6379`).
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            url: url.into(),
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
        self.inner.healthy.load(Ordering::Relaxed)
    }

    /// How many times Redis became unreachable since the store was made.
    pub fn outages(&self) -> u64 {
        self.inner.outages.load(Ordering::Relaxed)
    }

    /// The Redis key an entry with `key` is kept under.
    pub fn redis_key(&self, key: &str) -> String {
        self.inner.entry_key(key)
    }
}

impl Inner {
    fn slot(&self, key: &str) -> String {
        format!("{:032x}", xxhash_rust::xxh3::xxh3_128(key.as_bytes()))
    }

    fn entry_key(&self, key: &str) -> String {
        format!("{}:{{{}}}:entry", self.prefix, self.slot(key))
    }

    fn lock_key(&self, key: &str) -> String {
        format!("{}:{{{}}}:lock", self.prefix, self.slot(key))
    }

    fn stamps_key(&self) -> String {
        format!("{}:stamps", self.prefix)
    }

    fn channel(&self) -> String {
        format!("{}:invalidations", self.prefix)
    }

    /// Runs one command with the store's timeout, tracking Redis's health.
    async fn run<T, F>(&self, f: impl FnOnce(ConnectionManager) -> F) -> Result<T, StoreError>
    where
        F: std::future::Future<Output = redis::RedisResult<T>>,
    {
        // While Redis is unreachable, most commands fail at once instead of each waiting for
        // the timeout; one probe every 500 ms finds out when it is back.
        if !self.healthy.load(Ordering::Relaxed) {
            let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let last = self.last_probe.load(Ordering::Relaxed);
            if now.saturating_sub(last) < 500
                || self
                    .last_probe
                    .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
                    .is_err()
            {
                return Err(StoreError::Backend(
                    "redis is unreachable (failing fast)".into(),
                ));
            }
        }
        let result = tokio::time::timeout(self.op_timeout, f(self.manager.clone())).await;
        match result {
            Ok(Ok(value)) => {
                self.mark_up();
                Ok(value)
            }
            Ok(Err(error)) => {
                self.mark_down(&error);
                Err(backend(error))
            }
            Err(elapsed) => {
                self.mark_down(&elapsed);
                Err(backend(elapsed))
            }
        }
    }

    /// The `SET NX PX` taking `key`'s render lock for `ttl`, and the token it sets.
    fn lock_command(&self, key: &str, ttl: Duration) -> (LockToken, redis::Cmd) {
        let token = LockToken::new(format!(
            "{}-{}",
            self.instance,
            self.lock_counter.fetch_add(1, Ordering::Relaxed)
        ));
        let ttl = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut set = redis::cmd("SET");
        set.arg(self.lock_key(key))
            .arg(token.as_str())
            .arg("NX")
            .arg("PX")
            .arg(ttl);
        (token, set)
    }

    /// The entry in `bytes` read from `redis_key`, kept in memory; a corrupt one is removed
    /// from Redis, and another key's (a hash collision) is not this page.
    async fn found(
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

    async fn ping(&self) -> Result<(), StoreError> {
        self.run(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await })
            .await
            .map(drop)
    }

    fn mark_down(&self, why: &dyn fmt::Display) {
        if self.healthy.swap(false, Ordering::AcqRel) {
            self.outages.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(target: "isr", error = %why, "redis is unreachable: serving from memory and rendering locally");
        }
    }

    fn mark_up(&self) {
        if !self.healthy.swap(true, Ordering::AcqRel) {
            tracing::info!(target: "isr", "redis is reachable again");
        }
    }

    /// After an outage: forget in-memory copies (they may predate a purge this instance
    /// missed), reload every stamp, and replay the purges made here meanwhile.
    async fn recover(&self) -> bool {
        self.memory.clear();
        let reloaded = self.reload_stamps().await;
        self.replay_pending().await;
        reloaded
    }

    fn has_pending(&self) -> bool {
        !self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }

    async fn replay_pending(&self) {
        let pending: Vec<StampRecord> = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
            .collect();
        for record in pending {
            if self.share(&record).await.is_err() {
                self.queue(record);
            }
        }
    }

    /// Reloads every stamp; `false` if Redis did not answer (the caller resubscribes and
    /// tries again, so no purge made elsewhere is skipped).
    async fn reload_stamps(&self) -> bool {
        let Some(sink) = self.sink.get() else {
            return true;
        };
        let key = self.stamps_key();
        let reload = tokio::time::timeout(self.op_timeout * 10, async {
            self.manager
                .clone()
                .hgetall::<_, Vec<(String, u64)>>(key)
                .await
        });
        let Ok(Ok(fields)) = reload.await else {
            self.mark_down(&"the invalidation stamps could not be reloaded");
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

    /// Writes the stamp (keeping the newest) and publishes it.
    async fn share(&self, record: &StampRecord) -> Result<(), StoreError> {
        let mut line = StampLine::from(record);
        let at = line.at;
        line.at = 0; // the hash field names the target; the value holds the stamp
        let field = serde_json::to_string(&line).map_err(backend)?;
        line.at = at;
        let message = serde_json::to_string(&line).map_err(backend)?;
        let key = self.stamps_key();
        let script = &self.stamp_script;
        let (max, everything) = (self.max_stamps, everything_fields());
        let folded = self
            .run(|mut c| async move {
                script
                    .key(key)
                    .arg(field)
                    .arg(at)
                    .arg(max)
                    .arg(&everything[0])
                    .arg(&everything[1])
                    .invoke_async::<i64>(&mut c)
                    .await
            })
            .await?;
        if folded > 0 {
            tracing::debug!(target: "isr", folded, "folded old invalidation stamps in Redis");
        }
        let channel = self.channel();
        self.run(|mut c| async move { c.publish::<_, _, i64>(channel, message).await })
            .await
            .map(drop)
    }

    fn queue(&self, record: StampRecord) {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if pending.len() >= MAX_PENDING_STAMPS {
            pending.pop_front();
        }
        pending.push_back(record);
    }
}

/// Listens for invalidations published by any instance, resubscribing after every lost
/// connection. Ends when the store is dropped.
async fn subscribe(inner: Weak<Inner>) {
    let mut delay = Duration::from_millis(50);
    let mut first = true;
    loop {
        let Some(store) = inner.upgrade() else { return };
        let client = store.client.clone();
        let channel = store.channel();
        let timeout = store.op_timeout;
        drop(store);
        let pubsub = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        match tokio::time::timeout(timeout * 4, pubsub).await {
            Ok(Ok(pubsub)) => {
                let Some(store) = inner.upgrade() else { return };
                delay = Duration::from_millis(50);
                store.mark_up();
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
                let mut replay = tokio::time::interval(Duration::from_millis(250));
                loop {
                    tokio::select! {
                        message = messages.next() => {
                            let Some(message) = message else { break };
                            let Ok(payload) = message.get_payload::<String>() else { continue };
                            let record = serde_json::from_str::<StampLine>(&payload)
                                .ok()
                                .and_then(StampLine::record);
                            if let (Some(record), Some(sink)) = (record, &sink) {
                                sink.apply(&record);
                            }
                        }
                        _ = replay.tick() => {
                            let Some(store) = inner.upgrade() else { return };
                            // Commands fail fast while Redis is unreachable: probe here too, so
                            // recovery does not wait for a request that needs Redis.
                            if !store.healthy.load(Ordering::Relaxed) {
                                let _ = store.ping().await;
                            }
                            if store.has_pending() {
                                store.replay_pending().await;
                            }
                        }
                    }
                    if inner.strong_count() == 0 {
                        return;
                    }
                }
                if let Some(store) = inner.upgrade() {
                    store.mark_down(&"the subscription connection closed");
                }
            }
            Ok(Err(error)) => {
                if let Some(store) = inner.upgrade() {
                    store.mark_down(&error);
                }
            }
            Err(elapsed) => {
                if let Some(store) = inner.upgrade() {
                    store.mark_down(&elapsed);
                }
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

impl Store for RedisStore {
    fn get_local(&self, key: &str) -> Option<Arc<Entry>> {
        self.inner.memory.get_local(key)
    }

    fn get_shared<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Arc<Entry>>> {
        Box::pin(async move {
            let inner = &self.inner;
            let redis_key = inner.entry_key(key);
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

    fn put(&self, entry: Arc<Entry>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let inner = &self.inner;
            inner.memory.insert(Arc::clone(&entry));
            let key = inner.entry_key(&entry.key);
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
            let redis_key = inner.entry_key(key);
            inner
                .run(|mut c| async move { c.del::<_, i64>(redis_key).await })
                .await
                .map(drop)
        })
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

impl InvalidationLog for RedisStore {
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
                self.inner.queue(record.clone());
            }
            shared
        })
    }
}

impl RenderLock for RedisStore {
    fn try_lock<'a>(&'a self, key: &'a str, ttl: Duration) -> StoreFuture<'a, LockOutcome> {
        Box::pin(async move {
            let inner = &self.inner;
            let (token, set_lock) = inner.lock_command(key, ttl);
            let set: Option<String> = inner
                .run(|mut c| async move { set_lock.query_async(&mut c).await })
                .await?;
            Ok(lock_outcome(set, token))
        })
    }

    /// One round trip: `SET NX PX` on the lock, then `GET` of the entry, pipelined (Redis runs
    /// them in that order, so an entry stored before the lock was taken is seen).
    fn try_lock_then_get<'a>(
        &'a self,
        key: &'a str,
        ttl: Duration,
    ) -> StoreFuture<'a, (LockOutcome, Option<Arc<Entry>>)> {
        Box::pin(async move {
            let inner = &self.inner;
            let (token, set_lock) = inner.lock_command(key, ttl);
            let redis_key = inner.entry_key(key);
            let mut pipe = redis::pipe();
            pipe.add_command(set_lock).get(&redis_key);
            let answer = inner
                .run(|mut c| async move { pipe.query_async(&mut c).await })
                .await;
            let (set, bytes): (Option<String>, Option<Vec<u8>>) = match answer {
                Ok(answer) => answer,
                Err(error) => {
                    // The lock may have been taken before the read failed: give it back (the
                    // token check makes this safe), so no lock is held past this call.
                    let _ = self.unlock(key, token).await;
                    return Err(error);
                }
            };
            let entry = inner.found(key, redis_key, bytes).await;
            Ok((lock_outcome(set, token), entry))
        })
    }

    fn unlock<'a>(&'a self, key: &'a str, token: LockToken) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let inner = &self.inner;
            let lock_key = inner.lock_key(key);
            let script = &inner.unlock_script;
            inner
                .run(|mut c| async move {
                    script
                        .key(lock_key)
                        .arg(token.as_str())
                        .invoke_async::<i64>(&mut c)
                        .await
                })
                .await
                .map(drop)
        })
    }
}
