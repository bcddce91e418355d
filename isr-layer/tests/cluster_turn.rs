//! The render turn of instances sharing a store with a render lock (as Redis gives): two
//! engines in one process over one shared tier, on the paused clock. A page another instance
//! stored is a hit without a render turn; a visitor waits for the instance holding the lock and
//! serves its page; a regeneration adopts a newer page another instance stored instead of
//! rendering; the lock outlives a render by a second.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Origin, OriginService, advance, get, settle};
use isr_layer::service::IsrService;
use isr_layer::store::{
    Entry, LockOutcome, LockToken, MemoryStore, RenderLock, Store, StoreFuture, StoreUsage,
};
use isr_layer::{IsrLayer, Revalidate};

/// What the instances share: entries and render locks (a lock here never expires; the TTL
/// each instance asks for is recorded).
#[derive(Debug, Default)]
struct Shared {
    entries: Mutex<HashMap<String, Arc<Entry>>>,
    locks: Mutex<HashMap<String, String>>,
    ttls: Mutex<Vec<Duration>>,
    tokens: AtomicU64,
    reads: AtomicU64,
}

/// One instance's store: its own memory store in front of the shared tier, as the Redis store
/// keeps one.
#[derive(Debug)]
struct Instance {
    local: MemoryStore,
    shared: Arc<Shared>,
}

impl Instance {
    fn over(shared: &Arc<Shared>) -> Self {
        Self {
            local: MemoryStore::default(),
            shared: Arc::clone(shared),
        }
    }
}

impl Store for Instance {
    fn get_local(&self, key: &str) -> Option<Arc<Entry>> {
        self.local.get_local(key)
    }

    fn get_shared<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Arc<Entry>>> {
        self.shared.reads.fetch_add(1, Ordering::Relaxed);
        let found = self.shared.entries.lock().unwrap().get(key).cloned();
        Box::pin(async move {
            if let Some(entry) = &found {
                self.local.put(Arc::clone(entry)).await?;
            }
            Ok(found)
        })
    }

    fn is_local_only(&self) -> bool {
        false
    }

    fn put(&self, entry: Arc<Entry>) -> StoreFuture<'_, ()> {
        self.shared
            .entries
            .lock()
            .unwrap()
            .insert(entry.key().to_owned(), Arc::clone(&entry));
        self.local.put(entry)
    }

    fn remove<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        self.shared.entries.lock().unwrap().remove(key);
        self.local.remove(key)
    }

    fn usage(&self) -> StoreUsage {
        self.local.usage()
    }

    fn local_entries(&self, limit: usize) -> Vec<Arc<Entry>> {
        self.local.local_entries(limit)
    }

    fn render_lock(&self) -> Option<&dyn RenderLock> {
        Some(self)
    }
}

impl RenderLock for Instance {
    fn try_lock<'a>(&'a self, key: &'a str, ttl: Duration) -> StoreFuture<'a, LockOutcome> {
        self.shared.ttls.lock().unwrap().push(ttl);
        let mut locks = self.shared.locks.lock().unwrap();
        let outcome = if locks.contains_key(key) {
            LockOutcome::Held
        } else {
            let token = self
                .shared
                .tokens
                .fetch_add(1, Ordering::Relaxed)
                .to_string();
            locks.insert(key.to_owned(), token.clone());
            LockOutcome::Acquired(LockToken::new(token))
        };
        Box::pin(async move { Ok(outcome) })
    }

    fn unlock<'a>(&'a self, key: &'a str, token: LockToken) -> StoreFuture<'a, ()> {
        let mut locks = self.shared.locks.lock().unwrap();
        if locks.get(key).map(String::as_str) == Some(token.as_str()) {
            locks.remove(key);
        }
        Box::pin(async { Ok(()) })
    }
}

fn instance(shared: &Arc<Shared>) -> IsrLayer {
    IsrLayer::builder()
        .revalidate(Revalidate::secs(60))
        .store(Instance::over(shared))
        .build()
        .unwrap()
}

/// Two instances, A and B, over one shared tier, each with an origin of its own.
struct Fleet {
    shared: Arc<Shared>,
    origin_a: Origin,
    origin_b: Origin,
    a: IsrService<OriginService>,
    b: IsrService<OriginService>,
    isr_b: IsrLayer,
}

impl Fleet {
    fn new() -> Self {
        let shared = Arc::new(Shared::default());
        let (origin_a, origin_b) = (Origin::new(), Origin::new());
        let isr_b = instance(&shared);
        let a = origin_a.behind(&instance(&shared));
        let b = origin_b.behind(&isr_b);
        Self {
            shared,
            origin_a,
            origin_b,
            a,
            b,
            isr_b,
        }
    }

    /// `/p` rendered by A, served by B from the shared tier, then stale on both.
    async fn with_a_stale_page() -> Self {
        let fleet = Self::new();
        assert_eq!(get(&fleet.a, "/p").await.body, "/p v1");
        assert_eq!(get(&fleet.b, "/p").await.body, "/p v1", "B serves A's page");
        advance(61).await;
        fleet
    }

    fn locked(&self, key: &str) -> bool {
        self.shared.locks.lock().unwrap().contains_key(key)
    }

    fn reads(&self) -> u64 {
        self.shared.reads.load(Ordering::Relaxed)
    }

    fn renders(&self) -> (usize, usize) {
        (self.origin_a.renders(), self.origin_b.renders())
    }
}

#[tokio::test(start_paused = true)]
async fn a_page_another_instance_stored_is_a_hit_without_a_turn() {
    let fleet = Fleet::new();
    assert_eq!(get(&fleet.a, "/p").await.cache(), "MISS");
    let turns = fleet.shared.ttls.lock().unwrap().len();
    // B reads A's page from the shared tier and serves it as it is: no render and no lock.
    let hit = get(&fleet.b, "/p").await;
    assert_eq!((hit.cache(), hit.body.as_str()), ("HIT", "/p v1"));
    assert_eq!(fleet.renders(), (1, 0));
    assert_eq!(
        fleet.shared.ttls.lock().unwrap().len(),
        turns,
        "B took no render turn"
    );
}

#[tokio::test(start_paused = true)]
async fn a_page_purged_here_is_read_from_the_shared_tier_once_with_the_render_turn() {
    let fleet = Fleet::new();
    assert_eq!(get(&fleet.b, "/p").await.cache(), "MISS");
    fleet
        .isr_b
        .revalidator()
        .revalidate_path("/p")
        .await
        .unwrap();
    // The purged copy here is the shared tier's too: the render turn reads the shared tier in
    // the same call as the lock (one round trip to Redis), not once more before it.
    let reads = fleet.reads();
    let again = get(&fleet.b, "/p").await;
    assert_eq!((again.cache(), again.body.as_str()), ("MISS", "/p v2"));
    assert_eq!(fleet.reads() - reads, 1);
    assert_eq!(fleet.renders(), (0, 2));
}

#[tokio::test(start_paused = true)]
async fn a_visitor_waits_for_the_instance_holding_the_lock_and_serves_its_page() {
    let fleet = Fleet::new();
    fleet.origin_a.set_delay(Duration::from_secs(5));

    let rendering = tokio::spawn(get(&fleet.a, "/p"));
    settle().await;
    assert!(fleet.locked("/p"), "A holds the lock");
    // B's visitor arrives while A renders: it waits (well inside the waiter timeout) for A's
    // page instead of rendering its own.
    let waiting = tokio::spawn(get(&fleet.b, "/p"));
    advance(1).await;
    assert!(!waiting.is_finished(), "B's visitor waits for A");
    let (first, second) = (rendering.await.unwrap(), waiting.await.unwrap());

    assert_eq!((first.cache(), first.body.as_str()), ("MISS", "/p v1"));
    assert_eq!(
        (second.status.as_u16(), second.body.as_str()),
        (200, "/p v1")
    );
    assert_eq!(fleet.renders(), (1, 0));
    assert!(!fleet.locked("/p"), "the lock given back");
    // The lock outlives a render by a second (the regeneration timeout is 30 s by default).
    let ttls = fleet.shared.ttls.lock().unwrap().clone();
    assert!(!ttls.is_empty());
    assert!(
        ttls.iter().all(|ttl| *ttl == Duration::from_secs(31)),
        "{ttls:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_regeneration_adopts_the_newer_page_another_instance_stored() {
    let fleet = Fleet::with_a_stale_page().await;
    // A regenerates first and stores v2.
    assert_eq!(get(&fleet.a, "/p").await.cache(), "STALE");
    settle().await;
    assert_eq!(fleet.renders(), (2, 0));

    // B's stale visit starts a regeneration, which finds A's newer page and keeps it.
    let stale = get(&fleet.b, "/p").await;
    assert_eq!((stale.cache(), stale.body.as_str()), ("STALE", "/p v1"));
    settle().await;
    let hit = get(&fleet.b, "/p").await;
    assert_eq!((hit.cache(), hit.body.as_str()), ("HIT", "/p v2"));
    assert_eq!(fleet.renders(), (2, 0), "B never rendered");
    assert!(!fleet.locked("/p"), "the lock given back");
}

#[tokio::test(start_paused = true)]
async fn a_regeneration_steps_aside_while_another_instance_holds_the_lock() {
    let fleet = Fleet::with_a_stale_page().await;
    // A's regeneration holds the lock for longer than a visitor would wait (10 s).
    fleet.origin_a.set_delay(Duration::from_secs(20));
    assert_eq!(get(&fleet.a, "/p").await.cache(), "STALE");
    settle().await;
    assert!(fleet.locked("/p"), "A holds the lock");
    // B's regeneration does not wait for it, and does not render after a visitor's wait.
    assert_eq!(get(&fleet.b, "/p").await.cache(), "STALE");
    advance(25).await;
    settle().await;
    assert_eq!(fleet.renders(), (2, 0));
    // B's next stale visit regenerates again, and adopts what A stored.
    assert_eq!(get(&fleet.b, "/p").await.body, "/p v1");
    settle().await;
    let hit = get(&fleet.b, "/p").await;
    assert_eq!((hit.cache(), hit.body.as_str()), ("HIT", "/p v2"));
    assert_eq!(fleet.renders(), (2, 0));
}
