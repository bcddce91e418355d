//! Stores: one conformance list for memory, file and Redis stores, then what only the file
//! store (restarts, corrupt files, a read-only disk) and the Redis store (several instances,
//! outages) must do. Redis tests use the server at `ISR_REDIS_URL` with a key prefix of their
//! own, or a private `redis-server` they may kill; the scenarios of two instances through
//! outages run on one node, a cluster and Sentinel (`stores/fleet.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use isr_layer::store::{FsStore, LockOutcome, RedisStore, RenderLock, Store};
use isr_layer::{
    CacheTags, IsrLayer, Revalidate, invalidate::InvalidationMode, service::IsrService,
    store::MemoryStore,
};
use isr_tests::{PrivateRedis, redis_url, unique_prefix};
use tower::util::BoxCloneSyncService;
use tower::{Layer, ServiceExt};

/// The same scenarios on a Redis Cluster and behind Sentinel, with failovers.
#[path = "stores/fleet.rs"]
mod fleet;

type Origin =
    BoxCloneSyncService<Request<Full<Bytes>>, Response<Full<Bytes>>, std::convert::Infallible>;

/// An origin counting its renders; pages are tagged `page` and `p:<path>`.
fn origin(renders: Arc<AtomicUsize>, delay: Duration) -> Origin {
    BoxCloneSyncService::new(tower::service_fn(move |req: Request<Full<Bytes>>| {
        let renders = Arc::clone(&renders);
        async move {
            let n = renders.fetch_add(1, Ordering::SeqCst) + 1;
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let path = req.uri().path().to_owned();
            let mut body = format!("{path} v{n}");
            if path.starts_with("/long") {
                // Long enough to be stored compressed.
                body.push_str(&" stale-while-revalidate".repeat(200));
            }
            let mut res = Response::new(Full::new(Bytes::from(body)));
            res.headers_mut()
                .insert("content-type", "text/plain".parse().unwrap());
            res.extensions_mut()
                .insert(CacheTags::new(["page".to_owned(), format!("p:{path}")]));
            Ok(res)
        }
    }))
}

struct Site {
    isr: IsrLayer,
    app: IsrService<Origin>,
    renders: Arc<AtomicUsize>,
}

fn site(store: impl Store, delay: Duration) -> Site {
    let isr = IsrLayer::builder()
        .revalidate(Revalidate::Never)
        .store(store)
        .build()
        .unwrap();
    let renders = Arc::new(AtomicUsize::new(0));
    let app = isr.layer(origin(Arc::clone(&renders), delay));
    Site { isr, app, renders }
}

impl Site {
    async fn get(&self, path: &str) -> (String, String) {
        let res = self
            .app
            .clone()
            .oneshot(Request::get(path).body(Full::default()).unwrap())
            .await
            .unwrap();
        let cache = res.headers()["x-isr-cache"].to_str().unwrap().to_owned();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        (cache, String::from_utf8(body.to_vec()).unwrap())
    }

    /// `GET path` with `Accept-Encoding: accept`: the cache status, the `Content-Encoding`
    /// and the decoded body.
    async fn get_encoded(&self, path: &str, accept: &str) -> (String, Option<String>, String) {
        let res = self
            .app
            .clone()
            .oneshot(
                Request::get(path)
                    .header("accept-encoding", accept)
                    .body(Full::default())
                    .unwrap(),
            )
            .await
            .unwrap();
        let cache = res.headers()["x-isr-cache"].to_str().unwrap().to_owned();
        let coding = res
            .headers()
            .get("content-encoding")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = res.into_body().collect().await.unwrap().to_bytes();
        let decoded = isr_tests::decode(coding.as_deref(), &body);
        (cache, coding, String::from_utf8(decoded).unwrap())
    }

    fn renders(&self) -> usize {
        self.renders.load(Ordering::SeqCst)
    }
}

/// Waits (bounded) until `done` holds: for what travels through an external process.
async fn eventually(what: &str, done: impl AsyncFnMut() -> bool) {
    isr_tests::eventually(what, Duration::from_secs(5), done).await;
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Memory,
    Fs,
    Redis,
}

async fn store_of(
    kind: Kind,
    name: &str,
    dir: &tempfile::TempDir,
) -> Box<dyn FnOnce(Duration) -> Site> {
    match kind {
        Kind::Memory => Box::new(|d| site(MemoryStore::default(), d)),
        Kind::Fs => {
            let store = FsStore::open(dir.path()).unwrap();
            Box::new(move |d| site(store, d))
        }
        Kind::Redis => {
            let store = RedisStore::builder(redis_url())
                .prefix(unique_prefix(name))
                .connect()
                .await
                .unwrap();
            assert!(store.is_healthy(), "redis at {} answers", redis_url());
            Box::new(move |d| site(store, d))
        }
    }
}

const KINDS: [Kind; 3] = [Kind::Memory, Kind::Fs, Kind::Redis];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_miss_then_hit_with_the_same_bytes() {
    for kind in KINDS {
        let dir = tempfile::tempdir().unwrap();
        let site = store_of(kind, "miss-hit", &dir).await(Duration::ZERO);
        assert_eq!(
            site.get("/a").await,
            ("MISS".into(), "/a v1".into()),
            "{kind:?}"
        );
        assert_eq!(
            site.get("/a").await,
            ("HIT".into(), "/a v1".into()),
            "{kind:?}"
        );
        assert_eq!(site.get("/b").await.0, "MISS", "{kind:?}");
        assert_eq!(site.renders(), 2, "{kind:?}");
        assert!(site.isr.stats().entries >= 2, "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_tag_and_path_purges() {
    for kind in KINDS {
        let dir = tempfile::tempdir().unwrap();
        let site = store_of(kind, "purges", &dir).await(Duration::ZERO);
        site.get("/a").await;
        site.get("/b").await;
        site.isr.revalidator().revalidate_tag("p:/a").await.unwrap();
        assert_eq!(
            site.get("/a").await,
            ("MISS".into(), "/a v3".into()),
            "{kind:?}"
        );
        assert_eq!(site.get("/b").await.0, "HIT", "{kind:?}");
        site.isr.revalidator().revalidate_path("/b").await.unwrap();
        assert_eq!(site.get("/b").await.0, "MISS", "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_stale_serves_the_old_page_then_swaps() {
    for kind in KINDS {
        let dir = tempfile::tempdir().unwrap();
        let site = store_of(kind, "stale", &dir).await(Duration::ZERO);
        site.get("/a").await;
        site.isr
            .revalidator()
            .revalidate_tag_with("page", InvalidationMode::Stale)
            .await
            .unwrap();
        assert_eq!(
            site.get("/a").await,
            ("STALE".into(), "/a v1".into()),
            "{kind:?}"
        );
        eventually("the regeneration", async || {
            site.get("/a").await == ("HIT".into(), "/a v2".into())
        })
        .await;
        assert_eq!(site.renders(), 2, "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_each_store_has_the_capabilities_it_supports() {
    let dir = tempfile::tempdir().unwrap();
    let memory = MemoryStore::default();
    let fs = FsStore::open(dir.path()).unwrap();
    let redis = RedisStore::builder(redis_url())
        .prefix(unique_prefix("capabilities"))
        .connect()
        .await
        .unwrap();
    // (store, has a render lock, has an invalidation log)
    let stores: [(&str, &dyn Store, bool, bool); 3] = [
        ("memory", &memory, false, false),
        ("fs", &fs, false, true),
        ("redis", &redis, true, true),
    ];
    for (name, store, lock, log) in stores {
        assert_eq!(store.render_lock().is_some(), lock, "{name}");
        assert_eq!(store.invalidation_log().is_some(), log, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_a_restart_serves_fresh_pages_without_rendering() {
    let dir = tempfile::tempdir().unwrap();
    {
        let site = site(FsStore::open(dir.path()).unwrap(), Duration::ZERO);
        site.get("/a").await;
        site.get("/b").await;
        site.isr.revalidator().revalidate_path("/b").await.unwrap();
    } // the process "stops"
    let site = site(FsStore::open(dir.path()).unwrap(), Duration::ZERO);
    assert_eq!(site.get("/a").await, ("HIT".into(), "/a v1".into()));
    assert_eq!(site.renders(), 0, "nothing still good is rendered again");
    assert_eq!(
        site.get("/b").await.0,
        "MISS",
        "a purge made before the restart still holds"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_a_reopened_directory_serves_its_pages_and_indexes_every_file_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    {
        let site = site(FsStore::open(dir.path()).unwrap(), Duration::ZERO);
        for i in 0..30 {
            assert_eq!(site.get(&format!("/p/{i}")).await.0, "MISS");
        }
    } // the process "stops"
    let store = FsStore::open(dir.path()).unwrap();
    let site = site(store.clone(), Duration::ZERO);
    // Served from disk whether or not the scan has reached its file yet.
    let (cache, body) = site.get("/p/7").await;
    assert_eq!(cache, "HIT");
    assert!(body.starts_with("/p/7 v"), "{body}");
    let indexing = store.clone();
    tokio::task::spawn_blocking(move || indexing.wait_indexed())
        .await
        .unwrap();
    // Every file found at open is under the byte bound, once each.
    let usage = store.usage();
    assert_eq!(usage.entries, 30, "{usage:?}");
    let on_disk: u64 = std::fs::read_dir(dir.path().join("entries"))
        .unwrap()
        .map(|f| f.unwrap().metadata().unwrap().len())
        .sum();
    assert_eq!(usage.bytes, on_disk);
    assert_eq!(site.renders(), 0);
    // Waiting again returns at once.
    store.wait_indexed();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_another_process_serves_the_stored_encodings_without_rendering() {
    let dir = tempfile::tempdir().unwrap();
    let a = site(FsStore::open(dir.path()).unwrap(), Duration::ZERO);
    let (cache, coding, page) = a.get_encoded("/long", "gzip, br").await;
    assert_eq!((cache.as_str(), coding.as_deref()), ("MISS", Some("br")));
    // Another process on the same directory: its hits come from the file, in every encoding,
    // and nothing is rendered (the encodings are only made by a render).
    let b = site(FsStore::open(dir.path()).unwrap(), Duration::ZERO);
    for (accept, expected) in [
        ("br", Some("br")),
        ("zstd", Some("zstd")),
        ("gzip", Some("gzip")),
        ("identity", None),
    ] {
        let (cache, coding, body) = b.get_encoded("/long", accept).await;
        assert_eq!(
            (cache.as_str(), coding.as_deref()),
            ("HIT", expected),
            "{accept}"
        );
        assert_eq!(body, page);
    }
    assert_eq!(b.renders(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_two_stores_share_one_directory_through_writes_evictions_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    let open = || {
        FsStore::builder(dir.path())
            .max_bytes(8 * 1024)
            .memory_bytes(1)
            .open()
            .unwrap()
    };
    let (store_a, store_b) = (open(), open());
    let a = site(store_a.clone(), Duration::ZERO);
    let b = site(store_b.clone(), Duration::ZERO);

    // What one stores, the other serves without rendering.
    assert_eq!(a.get("/a").await.0, "MISS");
    assert_eq!(b.get("/a").await, ("HIT".into(), "/a v1".into()));
    assert_eq!(b.get("/b").await.0, "MISS");
    assert_eq!(a.get("/b").await, ("HIT".into(), "/b v1".into()));
    assert_eq!((a.renders(), b.renders()), (1, 1));

    // Both write past their bound: each evicts among the files it knows, and a file the other
    // evicted is a miss, never an error.
    for i in 0..40 {
        let page = format!("/long/{i}");
        let writer = if i % 2 == 0 { &a } else { &b };
        assert_eq!(writer.get(&page).await.0, "MISS", "{page}");
    }
    // (`usage` runs the evictions the index has pending.)
    assert!(store_a.usage().bytes <= 8 * 1024);
    assert!(store_b.usage().bytes <= 8 * 1024);
    let on_disk: u64 = std::fs::read_dir(dir.path().join("entries"))
        .unwrap()
        .map(|f| f.unwrap().metadata().unwrap().len())
        .sum();
    assert!(
        on_disk <= 2 * 8 * 1024,
        "{on_disk} bytes on disk for two bounds of 8 KiB"
    );
    for i in 0..40 {
        let (cache, body) = a.get(&format!("/long/{i}")).await;
        assert!(cache == "HIT" || cache == "MISS", "{cache}");
        assert!(body.starts_with(&format!("/long/{i} v")), "{body}");
    }

    // A restart next to a live writer: the live writer's in-flight file stays; the files of a
    // writer that is gone are removed.
    let in_flight = tmp.join(format!("abc.{}.7.0", std::process::id()));
    let abandoned = tmp.join("def.4194999.0.0"); // above Linux's largest process id
    std::fs::write(&in_flight, b"half a page").unwrap();
    std::fs::write(&abandoned, b"half a page").unwrap();
    drop((a, store_a));
    let a = site(open(), Duration::ZERO);
    assert!(
        in_flight.exists(),
        "another live writer's temporary file was removed"
    );
    assert!(
        !abandoned.exists(),
        "a gone writer's temporary file was kept"
    );
    assert_eq!(a.get("/a").await.1, "/a v1");
    assert_eq!(b.get("/b").await.1, "/b v1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_an_entry_of_the_older_format_is_dropped_and_rendered_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = {
        let store = FsStore::open(dir.path()).unwrap();
        let path = store.path_of("/a");
        site(store, Duration::ZERO).get("/a").await;
        path
    };
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[3] = 2; // the format's version byte: 2 made every encoding at once
    std::fs::write(&path, &bytes).unwrap();

    let site = site(FsStore::open(dir.path()).unwrap(), Duration::ZERO);
    assert_eq!(site.get("/a").await, ("MISS".into(), "/a v1".into()));
    assert_eq!(site.renders(), 1);
    assert_eq!(
        std::fs::read(&path).unwrap()[3],
        3,
        "the old file was replaced by the new render"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_a_corrupt_file_is_skipped_removed_and_never_served() {
    let dir = tempfile::tempdir().unwrap();
    let path = {
        let store = FsStore::open(dir.path()).unwrap();
        let path = store.path_of("/a");
        let site = site(store, Duration::ZERO);
        site.get("/a").await;
        path
    };
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();

    let site = site(FsStore::open(dir.path()).unwrap(), Duration::ZERO);
    assert_eq!(
        site.get("/a").await,
        ("MISS".into(), "/a v1".into()),
        "rendered, not the garbage"
    );
    assert_eq!(site.renders(), 1);
    // The corrupt file is gone: what is on disk now is the new render, whole.
    let on_disk = std::fs::read(&path).unwrap();
    assert_ne!(on_disk, bytes, "the corrupt bytes were removed");
    assert_eq!(
        isr_layer::store::Entry::decode(&on_disk).unwrap().body(),
        &Bytes::from_static(b"/a v1")
    );

    // A truncated file likewise.
    let store = FsStore::open(dir.path()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    let site = self::site(store, Duration::ZERO);
    assert_eq!(site.get("/a").await.0, "MISS");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_a_directory_that_refuses_writes_still_serves_every_request() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).unwrap();
    // A disk that refuses every write, even to root (who ignores permission bits): the
    // temporary-file directory is replaced by a plain file, so creating a file in it fails.
    let tmp = dir.path().join("tmp");
    std::fs::remove_dir_all(&tmp).unwrap();
    std::fs::write(&tmp, b"not a directory").unwrap();
    let site = site(store, Duration::ZERO);
    assert_eq!(site.get("/a").await, ("MISS".into(), "/a v1".into()));
    assert_eq!(
        site.get("/a").await,
        ("HIT".into(), "/a v1".into()),
        "the page is served from memory"
    );
    assert!(
        site.isr.stats().store_errors >= 1,
        "the failed write is counted"
    );
    assert_eq!(site.renders(), 1);
    assert_eq!(
        std::fs::read_dir(dir.path().join("entries"))
            .unwrap()
            .count(),
        0,
        "nothing was written"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fs_the_directory_stays_within_its_byte_bound() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::builder(dir.path())
        .max_bytes(4_000)
        .open()
        .unwrap();
    let site = site(store.clone(), Duration::ZERO);
    for i in 0..100 {
        site.get(&format!("/page/{i}")).await;
    }
    let usage = store.usage();
    assert!(usage.bytes <= 4_000, "{usage:?}");
    let on_disk: u64 = std::fs::read_dir(dir.path().join("entries"))
        .unwrap()
        .map(|f| f.unwrap().metadata().unwrap().len())
        .sum();
    assert!(on_disk <= 4_000 + 200, "{on_disk} bytes on disk");
}

async fn redis_site(prefix: &str, url: &str, delay: Duration) -> (Site, RedisStore) {
    let store = RedisStore::builder(url)
        .prefix(prefix)
        .op_timeout(Duration::from_millis(200))
        .connect()
        .await
        .unwrap();
    (site(store.clone(), delay), store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_the_other_instance_serves_the_stored_encodings_without_rendering() {
    let prefix = unique_prefix("encodings");
    let (a, _) = redis_site(&prefix, &redis_url(), Duration::ZERO).await;
    let (b, _) = redis_site(&prefix, &redis_url(), Duration::ZERO).await;
    let (cache, coding, page) = a.get_encoded("/long", "gzip, deflate, br, zstd").await;
    assert_eq!((cache.as_str(), coding.as_deref()), ("MISS", Some("br")));
    for (accept, expected) in [("zstd", Some("zstd")), ("gzip", Some("gzip")), ("", None)] {
        let (cache, coding, body) = b.get_encoded("/long", accept).await;
        assert_eq!(
            (cache.as_str(), coding.as_deref()),
            ("HIT", expected),
            "{accept:?}"
        );
        assert_eq!(body, page);
    }
    assert_eq!(b.renders(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_the_stamps_stay_bounded_and_a_folded_purge_still_holds() {
    let prefix = unique_prefix("stamps");
    let connect = || {
        RedisStore::builder(redis_url())
            .prefix(&prefix)
            .max_stamps(4)
            .op_timeout(Duration::from_millis(200))
            .connect()
    };
    let a = site(connect().await.unwrap(), Duration::ZERO);
    assert_eq!(a.get("/p").await.0, "MISS");
    // The purge of /p is the oldest of eleven: the hash of four folds it away.
    let purge = a.isr.revalidator();
    purge.revalidate_tag("p:/p").await.unwrap();
    for i in 0..10 {
        purge.revalidate_tag(&format!("other-{i}")).await.unwrap();
    }
    let client = redis::Client::open(redis_url()).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let stamps = format!("{prefix}:stamps");
    let fields: Vec<String> = redis::cmd("HKEYS")
        .arg(&stamps)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(fields.len() <= 4, "{fields:?}");
    assert!(!fields.iter().any(|f| f.contains("p:/p")), "{fields:?}");
    assert!(
        fields.iter().any(|f| f.contains(r#""kind":"all""#)),
        "{fields:?}"
    );

    // A new instance learns the purges from the hash: the page A rendered before the folded
    // purge is not served as fresh there.
    let b = site(connect().await.unwrap(), Duration::ZERO);
    eventually("B applied the folded stamps", async || {
        b.get("/p").await.0 == "MISS"
    })
    .await;
    assert_eq!(b.get("/p").await, ("HIT".into(), "/p v1".into()));
    assert_eq!(b.renders(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_the_render_lock_and_the_shared_read_go_in_one_call() {
    let prefix = unique_prefix("lock-read");
    let (a, store) = redis_site(&prefix, &redis_url(), Duration::ZERO).await;
    assert_eq!(a.get("/p").await.0, "MISS");
    let ttl = Duration::from_secs(5);

    let (lock, entry) = store.try_lock_then_get("/p", ttl).await.unwrap();
    let LockOutcome::Acquired(token) = lock else {
        panic!("the lock is free: {lock:?}")
    };
    assert_eq!(&entry.expect("the stored page").body()[..], b"/p v1");
    let (lock, entry) = store.try_lock_then_get("/p", ttl).await.unwrap();
    assert_eq!(lock, LockOutcome::Held);
    assert!(entry.is_some());
    store.unlock("/p", token).await.unwrap();
    let (lock, entry) = store.try_lock_then_get("/none", ttl).await.unwrap();
    assert!(matches!(lock, LockOutcome::Acquired(_)), "{lock:?}");
    assert!(entry.is_none());

    // A corrupt entry read with the lock is not served, and is removed from Redis.
    let client = redis::Client::open(redis_url()).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let key = store.redis_key("/p");
    redis::cmd("SET")
        .arg(&key)
        .arg("not an entry")
        .query_async::<()>(&mut redis)
        .await
        .unwrap();
    let (lock, entry) = store.try_lock_then_get("/p", ttl).await.unwrap();
    assert!(matches!(lock, LockOutcome::Acquired(_)), "{lock:?}");
    assert!(entry.is_none());
    let exists: i64 = redis::cmd("EXISTS")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(exists, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_a_lost_subscription_is_noticed_and_the_stamps_reloaded() {
    let redis = PrivateRedis::start().await;
    let prefix = unique_prefix("lost-subscription");
    let (a, _) = redis_site(&prefix, &redis.url(), Duration::ZERO).await;
    let (b, _) = redis_site(&prefix, &redis.url(), Duration::ZERO).await;
    let channel = format!("{prefix}:invalidations");
    let subscribers = || async {
        let counts = redis.query(&["PUBSUB", "NUMSUB", &channel]).await.unwrap();
        format!("{counts:?}")
    };
    eventually("A and B subscribed", async || {
        subscribers().await.contains("int(2)")
    })
    .await;

    // Redis stays up; only the subscriber connections are cut, and a purge is published while
    // nobody listens: B cannot hear it, only find it in the stamps when it resubscribes. (If B
    // was back before the publish, that round proves nothing: try again with another page.)
    for round in 0..20 {
        let page = format!("/p{round}");
        a.get(&page).await;
        assert_eq!(b.get(&page).await.0, "HIT");
        eventually("A and B subscribed", async || {
            subscribers().await.contains("int(2)")
        })
        .await;
        redis
            .query(&["CLIENT", "KILL", "TYPE", "pubsub"])
            .await
            .unwrap();
        a.isr
            .revalidator()
            .revalidate_tag(&format!("p:{page}"))
            .await
            .unwrap();
        if !subscribers().await.contains("int(0)") {
            continue;
        }
        eventually("B stops serving the purged copy", async || {
            b.get(&page).await.0 != "HIT"
        })
        .await;
        eventually("both resubscribed", async || {
            subscribers().await.contains("int(2)")
        })
        .await;
        return;
    }
    panic!("the subscribers came back before every publish: the case was never tested");
}
