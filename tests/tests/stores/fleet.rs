//! The two-instance scenarios of the Redis store on one node, on a Redis Cluster (three
//! masters, three replicas) and on a primary with a replica behind three sentinels, each a
//! private set of `redis-server` processes: pages shared, purges reaching the other instance, a
//! stale and a cold storm rendered once, the backend down at start-up, killed and restarted,
//! paused; and,
//! where a replica can take over, a failover under load that fails no visitor request and
//! loses no purge, and a purge no replica acknowledges in time, applied and logged.

use std::sync::atomic::AtomicBool;

use isr_layer::store::RedisStoreBuilder;
use isr_tests::{PrivateRedis, RedisCluster, RedisSentinel};

use super::*;

/// A private Redis in one of the three topologies.
enum Fleet {
    Single(PrivateRedis),
    Cluster(RedisCluster),
    Sentinel(RedisSentinel),
}

#[derive(Clone, Copy, Debug)]
enum Topology {
    Single,
    Cluster,
    Sentinel,
}

impl Fleet {
    /// A fleet whose processes are chosen but not started.
    fn reserve(topology: Topology) -> Self {
        match topology {
            Topology::Single => Self::Single(PrivateRedis::reserve()),
            Topology::Cluster => Self::Cluster(RedisCluster::reserve()),
            Topology::Sentinel => Self::Sentinel(RedisSentinel::reserve()),
        }
    }

    async fn start(topology: Topology) -> Self {
        let mut fleet = Self::reserve(topology);
        fleet.create().await;
        fleet
    }

    async fn create(&mut self) {
        match self {
            Self::Single(node) => node.restart().await,
            Self::Cluster(cluster) => cluster.create().await,
            Self::Sentinel(sentinel) => sentinel.create().await,
        }
    }

    /// A store builder for this fleet, as an application configures it.
    fn builder(&self) -> RedisStoreBuilder {
        match self {
            Self::Single(node) => RedisStore::builder(node.url()),
            Self::Cluster(cluster) => RedisStore::cluster(cluster.urls()),
            Self::Sentinel(sentinel) => {
                RedisStore::sentinel(RedisSentinel::MASTER, sentinel.sentinel_urls())
            }
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::Single(_) => "redis",
            Self::Cluster(_) => "redis-cluster",
            Self::Sentinel(_) => "redis-sentinel",
        }
    }

    /// The nodes holding data (a subscriber may be on any of them).
    fn data(&self) -> &[PrivateRedis] {
        match self {
            Self::Single(node) => std::slice::from_ref(node),
            Self::Cluster(cluster) => &cluster.nodes,
            Self::Sentinel(sentinel) => &sentinel.data,
        }
    }

    /// The node that holds `key` now.
    async fn holder(&self, key: &str) -> &PrivateRedis {
        let index = match self {
            Self::Single(_) => Some(0),
            Self::Cluster(cluster) => cluster.master_of(key).await,
            Self::Sentinel(sentinel) => sentinel.primary().await,
        };
        &self.data()[index.expect("the key has a master")]
    }

    /// A replica of the node that holds `key`.
    async fn replica(&self, key: &str) -> &PrivateRedis {
        let index = match self {
            Self::Single(_) => None,
            Self::Cluster(cluster) => cluster.replica_of(key).await,
            Self::Sentinel(sentinel) => {
                let primary = sentinel.primary().await;
                (0..sentinel.data.len()).find(|i| Some(*i) != primary)
            }
        };
        &self.data()[index.expect("the key's master has a replica")]
    }

    /// The fields of the stamps hash `stamps` as a replica holds them (one node has none).
    async fn replica_stamps(&self, stamps: &str) -> Option<redis::RedisResult<redis::Value>> {
        match self {
            Self::Single(_) => None,
            Self::Cluster(_) => Some(
                self.replica(stamps)
                    .await
                    .query_replica(&["HKEYS", stamps])
                    .await,
            ),
            Self::Sentinel(_) => Some(self.replica(stamps).await.query(&["HKEYS", stamps]).await),
        }
    }

    /// Subscribers to `channel`, over every running data node.
    async fn subscribers(&self, channel: &str) -> i64 {
        let mut total = 0;
        for node in self.data().iter().filter(|node| node.is_running()) {
            if let Ok(redis::Value::Array(counts)) =
                node.query(&["PUBSUB", "NUMSUB", channel]).await
                && let Some(redis::Value::Int(n)) = counts.get(1)
            {
                total += n;
            }
        }
        total
    }

    /// Waits until `instances` stores under `prefix` subscribed to its invalidations.
    async fn wait_subscribed(&self, prefix: &str, instances: i64) {
        let channel = format!("{prefix}:invalidations");
        isr_tests::eventually("the instances subscribed", SETTLE, async || {
            self.subscribers(&channel).await >= instances
        })
        .await;
    }

    /// Whether the stamps hash under `prefix` holds a stamp naming `needle`.
    async fn stamps_hold(&self, prefix: &str, needle: &str) -> bool {
        let stamps = format!("{prefix}:stamps");
        let held = self.holder(&stamps).await.query(&["HKEYS", &stamps]).await;
        format!("{held:?}").contains(needle)
    }

    /// Kills the node holding `key` (the master of its slot, or the primary), without waiting.
    async fn kill_holder(&mut self, key: &str) -> usize {
        match self {
            Self::Single(_) => unreachable!("one node has no replica to take over"),
            Self::Cluster(cluster) => cluster.kill_master_of(key).await,
            Self::Sentinel(sentinel) => sentinel.kill_primary().await,
        }
    }

    /// Waits until another node holds `key` in place of the killed one.
    async fn wait_taken_over(&self, key: &str, killed: usize) {
        match self {
            Self::Single(_) => unreachable!("one node has no replica to take over"),
            Self::Cluster(cluster) => cluster.wait_taken_over(key, killed).await,
            Self::Sentinel(sentinel) => sentinel.wait_promoted(killed).await,
        }
    }

    fn kill_all(&mut self) {
        match self {
            Self::Single(node) => node.kill(),
            Self::Cluster(cluster) => cluster.kill_all(),
            Self::Sentinel(sentinel) => sentinel.kill_data(),
        }
    }

    async fn restart_all(&mut self) {
        match self {
            Self::Single(node) => node.restart().await,
            Self::Cluster(cluster) => cluster.restart_all().await,
            Self::Sentinel(sentinel) => sentinel.restart_data().await,
        }
    }

    fn freeze(&self) {
        match self {
            Self::Single(node) => node.freeze(),
            Self::Cluster(cluster) => cluster.freeze_all(),
            Self::Sentinel(sentinel) => sentinel.freeze_data(),
        }
    }

    fn thaw(&self) {
        match self {
            Self::Single(node) => node.thaw(),
            Self::Cluster(cluster) => cluster.thaw_all(),
            Self::Sentinel(sentinel) => sentinel.thaw_data(),
        }
    }
}

/// How long a topology change (a failover, a restart, a resubscription) may take here.
const SETTLE: Duration = Duration::from_secs(30);

/// Two instances on `fleet` under `prefix`, whose store calls may take `op_timeout`.
async fn two_sites(
    fleet: &Fleet,
    prefix: &str,
    delay: Duration,
    op_timeout: Duration,
) -> ((Site, RedisStore), (Site, RedisStore)) {
    let connect = || async {
        let store = fleet
            .builder()
            .prefix(prefix)
            .op_timeout(op_timeout)
            .connect()
            .await
            .unwrap();
        (site(store.clone(), delay), store)
    };
    (connect().await, connect().await)
}

async fn healthy(what: &str, stores: &[&RedisStore]) {
    isr_tests::eventually(what, SETTLE, async || {
        stores.iter().all(|store| store.is_healthy())
    })
    .await;
}

async fn share_purge_and_storms(topology: Topology) {
    let fleet = Fleet::start(topology).await;
    let prefix = unique_prefix("fleet-share");
    // Patient calls: a storm of hundreds of tasks on two cores must not turn one slow call
    // into a local render.
    let ((a, store_a), (b, store_b)) = two_sites(
        &fleet,
        &prefix,
        Duration::from_millis(300),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(store_a.status().kind, fleet.kind());
    healthy("both instances reach the fleet", &[&store_a, &store_b]).await;

    // Shared pages: rendered on A, a hit on B.
    assert_eq!(a.get("/docs").await.0, "MISS");
    assert_eq!(b.get("/docs").await, ("HIT".into(), "/docs v1".into()));
    assert_eq!((a.renders(), b.renders()), (1, 0));

    // One purge, sent once after both instances subscribed, reaches B.
    fleet.wait_subscribed(&prefix, 2).await;
    a.isr.revalidator().revalidate_tag("p:/docs").await.unwrap();
    // Acknowledged once a replica holds the stamp too: a failover now would not lose it.
    let stamps = format!("{prefix}:stamps");
    if let Some(on_replica) = fleet.replica_stamps(&stamps).await {
        assert!(
            format!("{on_replica:?}").contains("p:/docs"),
            "{on_replica:?}"
        );
    }
    eventually("the purge reached B", async || {
        b.get("/docs").await;
        b.renders() == 1
    })
    .await;
    assert_eq!(b.get("/docs").await, ("HIT".into(), "/docs v1".into()));
    assert_eq!((a.renders(), b.renders()), (1, 1), "one render, on B");

    // A cold storm across both instances: one render.
    let (a, b) = (Arc::new(a), Arc::new(b));
    let storm = |path: &'static str, n: usize| {
        (0..n)
            .map(|i| {
                let site = Arc::clone(if i % 2 == 0 { &a } else { &b });
                tokio::spawn(async move { site.get(path).await })
            })
            .collect::<Vec<_>>()
    };
    let before = a.renders() + b.renders();
    for visit in storm("/cold", 200) {
        let (cache, body) = visit.await.unwrap();
        assert_eq!(cache, "MISS");
        assert!(body.starts_with("/cold v"), "{body}");
    }
    assert_eq!(
        a.renders() + b.renders(),
        before + 1,
        "the cold storm rendered once"
    );

    // A stale storm across both instances: the stale page served, one regeneration.
    a.get("/hot").await;
    b.get("/hot").await;
    let before = a.renders() + b.renders();
    a.isr
        .revalidator()
        .revalidate_tag_with("p:/hot", InvalidationMode::Stale)
        .await
        .unwrap();
    let stale_on = |site: &Site| {
        site.isr.revalidator().inspect(10).iter().any(|summary| {
            summary.entry.key() == "/hot"
                && summary.state == isr_layer::invalidate::EntryState::Stale
        })
    };
    eventually("B saw the stale purge", async || stale_on(&b)).await;
    let mut stale = 0;
    for visit in storm("/hot", 400) {
        let (cache, body) = visit.await.unwrap();
        assert!(cache == "STALE" || cache == "HIT", "{cache}");
        assert!(body.starts_with("/hot v"), "{body}");
        stale += usize::from(cache == "STALE");
    }
    assert!(stale >= 1, "the storm met the stale page");
    eventually("the regeneration landed on both", async || {
        let (on_a, on_b) = (a.get("/hot").await, b.get("/hot").await);
        on_a.0 == "HIT" && on_a == on_b
    })
    .await;
    assert_eq!(
        a.renders() + b.renders(),
        before + 1,
        "one regeneration in the fleet"
    );
}

async fn down_at_start_up(topology: Topology) {
    let mut fleet = Fleet::reserve(topology);
    let prefix = unique_prefix("fleet-down-at-start");
    let ((a, store_a), (b, store_b)) =
        two_sites(&fleet, &prefix, Duration::ZERO, Duration::from_millis(500)).await;
    assert!(!store_a.is_healthy(), "nothing answers yet");
    assert_eq!(a.get("/a").await.0, "MISS");
    assert_eq!(a.get("/a").await.0, "HIT", "served from memory");
    assert!(a.isr.stats().store_errors > 0, "counted");
    assert_eq!(store_a.status().outages, 1);

    fleet.create().await;
    isr_tests::eventually("both instances reach the fleet", SETTLE, async || {
        a.get("/probe-a").await;
        b.get("/probe-b").await;
        store_a.is_healthy() && store_b.is_healthy()
    })
    .await;
    // Shared from now on: a page rendered on A is a hit on B, whichever node holds it.
    isr_tests::eventually("pages are shared", SETTLE, async || {
        let page = format!("/shared-{}", a.renders());
        a.get(&page).await;
        b.get(&page).await.0 == "HIT"
    })
    .await;
    for n in 0..16 {
        let page = format!("/page-{n}");
        assert_eq!(a.get(&page).await.0, "MISS");
        assert_eq!(b.get(&page).await.0, "HIT", "{page}");
    }
}

async fn killed_and_restarted(topology: Topology) {
    let mut fleet = Fleet::start(topology).await;
    let prefix = unique_prefix("fleet-restart");
    let ((a, store_a), (b, store_b)) =
        two_sites(&fleet, &prefix, Duration::ZERO, Duration::from_millis(500)).await;
    healthy("both instances reach the fleet", &[&store_a, &store_b]).await;
    b.get("/first-on-b").await;
    a.get("/a").await;
    assert_eq!(b.get("/a").await, ("HIT".into(), "/a v1".into()));

    fleet.kill_all();
    for _ in 0..5 {
        assert!(["HIT", "MISS"].contains(&a.get("/a").await.0.as_str()));
        assert!(["HIT", "MISS"].contains(&b.get("/new").await.0.as_str()));
    }
    // A purge made while the fleet is down holds on A at once...
    a.isr.revalidator().revalidate_tag("p:/a").await.unwrap();
    assert_eq!(a.get("/a").await.0, "MISS");

    fleet.restart_all().await;
    healthy("both instances recovered", &[&store_a, &store_b]).await;
    // ...and is replayed into the fleet (which restarted empty: the stamp can only come from
    // A's queue of purges).
    isr_tests::eventually(
        "the purge made during the outage was replayed",
        SETTLE,
        async || fleet.stamps_hold(&prefix, "p:/a").await,
    )
    .await;
    // B, which lost its copies with the outage, never serves its copy from before it.
    assert_ne!(b.get("/a").await, ("HIT".into(), "/a v1".into()));
}

async fn paused(topology: Topology) {
    let fleet = Fleet::start(topology).await;
    let prefix = unique_prefix("fleet-pause");
    let ((a, store), _) =
        two_sites(&fleet, &prefix, Duration::ZERO, Duration::from_millis(300)).await;
    healthy("the instance reaches the fleet", &[&store]).await;
    a.get("/a").await;
    fleet.freeze();
    let within = |what: &'static str| {
        move |_| -> (String, String) { panic!("{what} waited for the paused fleet") }
    };
    let hit = tokio::time::timeout(Duration::from_secs(30), a.get("/a"))
        .await
        .unwrap_or_else(within("the hit"));
    assert_eq!(hit.0, "HIT", "from memory, Redis not asked");
    let fresh = tokio::time::timeout(Duration::from_secs(30), a.get("/fresh"))
        .await
        .unwrap_or_else(within("the miss"));
    assert_eq!(fresh.0, "MISS", "rendered locally");
    assert!(!store.is_healthy());
    fleet.thaw();
    isr_tests::eventually("recovered after the pause", SETTLE, async || {
        a.get("/y").await;
        store.is_healthy()
    })
    .await;
}

/// Visitors on both instances, until `stop`: every answer must be a page (bounded in count).
fn load(
    sites: [Arc<Site>; 2],
    stop: Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<(usize, Vec<String>)>> {
    (0..4)
        .map(|task| {
            let site = Arc::clone(&sites[task % 2]);
            let stop = Arc::clone(&stop);
            tokio::spawn(async move {
                let (mut answered, mut failed) = (0, Vec::new());
                while !stop.load(Ordering::Relaxed) && answered < 200_000 {
                    // Pages stored before the failover, and new ones.
                    let path = if answered % 3 == 0 {
                        format!("/new-{task}-{answered}")
                    } else {
                        format!("/p{}", answered % 20)
                    };
                    let res = site
                        .app
                        .clone()
                        .oneshot(Request::get(&path).body(Full::default()).unwrap())
                        .await
                        .unwrap();
                    let status = res.status();
                    let body = res.into_body().collect().await.unwrap().to_bytes();
                    if status != http::StatusCode::OK || !body.starts_with(path.as_bytes()) {
                        failed.push(format!("{path}: {status} {body:?}"));
                    }
                    answered += 1;
                    tokio::task::yield_now().await;
                }
                (answered, failed)
            })
        })
        .collect()
}

async fn failover_under_load(topology: Topology) {
    let mut fleet = Fleet::start(topology).await;
    let prefix = unique_prefix("fleet-failover");
    let ((a, store_a), (b, store_b)) =
        two_sites(&fleet, &prefix, Duration::ZERO, Duration::from_millis(500)).await;
    healthy("both instances reach the fleet", &[&store_a, &store_b]).await;
    // B's own renders are numbered from 2 on: a render of /p0 on B is never "/p0 v1".
    b.get("/first-on-b").await;
    for n in 0..20 {
        a.get(&format!("/p{n}")).await;
    }
    assert_eq!(b.get("/p0").await, ("HIT".into(), "/p0 v1".into()));

    let (a, b) = (Arc::new(a), Arc::new(b));
    let stop = Arc::new(AtomicBool::new(false));
    let visitors = load([Arc::clone(&a), Arc::clone(&b)], Arc::clone(&stop));
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The node holding the stamps dies; a purge is made while its replica takes over.
    let stamps = format!("{prefix}:stamps");
    let killed = fleet.kill_holder(&stamps).await;
    a.isr.revalidator().revalidate_tag("p:/p0").await.unwrap();
    fleet.wait_taken_over(&stamps, killed).await;
    healthy(
        "both instances follow the new primary",
        &[&store_a, &store_b],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let mut answered = 0;
    for visitor in visitors {
        let (n, failed) = visitor.await.unwrap();
        assert!(failed.is_empty(), "failed visitor requests: {failed:?}");
        answered += n;
    }
    assert!(answered > 0, "the visitors ran");

    // The purge made during the failover holds afterwards: replayed into the fleet, and B
    // never serves the copy from before it.
    isr_tests::eventually("the purge was replayed", SETTLE, async || {
        fleet.stamps_hold(&prefix, "p:/p0").await
    })
    .await;
    eventually("B dropped the purged copy", async || {
        b.get("/p0").await.1 != "/p0 v1"
    })
    .await;

    // Render locks still work: a cold storm on a new page renders it once in the fleet.
    let before = a.renders() + b.renders();
    let visits: Vec<_> = (0..100)
        .map(|i| {
            let site = Arc::clone(if i % 2 == 0 { &a } else { &b });
            tokio::spawn(async move { site.get("/after").await })
        })
        .collect();
    for visit in visits {
        assert!(visit.await.unwrap().1.starts_with("/after v"));
    }
    assert_eq!(a.renders() + b.renders(), before + 1, "no lock left behind");
}

/// What `tracing` writes on the recording thread: the test's own future runs there under
/// `#[tokio::test]`, and a purge shares its stamp inline in it.
#[derive(Clone, Default)]
struct Log(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    /// Records warnings and errors on this thread until the guard is dropped.
    fn record(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        tracing::subscriber::set_default(
            tracing_subscriber::fmt()
                .with_writer(move || writer.clone())
                .with_max_level(tracing::Level::WARN)
                .with_ansi(false)
                .finish(),
        )
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    fn count(&self, needle: &str) -> usize {
        self.text().matches(needle).count()
    }
}

/// A purge no replica acknowledges within the wait (the replica of the node holding the stamps
/// is stopped) is applied and shared all the same, and the log says, once, that a failover now
/// could lose it; the stopped replica, once running again, holds the stamp.
async fn replica_stopped(topology: Topology) {
    const WARNING: &str = "an invalidation stamp is on the primary but on no replica yet";
    let fleet = Fleet::start(topology).await;
    let prefix = unique_prefix("fleet-replica-stopped");
    let ((a, store_a), (b, store_b)) =
        two_sites(&fleet, &prefix, Duration::ZERO, Duration::from_secs(5)).await;
    healthy("both instances reach the fleet", &[&store_a, &store_b]).await;
    fleet.wait_subscribed(&prefix, 2).await;
    assert_eq!(a.get("/docs").await.0, "MISS");
    assert_eq!(b.get("/docs").await, ("HIT".into(), "/docs v1".into()));

    let stamps = format!("{prefix}:stamps");
    let replica = fleet.replica(&stamps).await;
    let log = Log::default();
    let recording = log.record();
    replica.freeze();
    let purged = a.isr.revalidator().revalidate_tag("p:/docs").await;
    replica.thaw();
    drop(recording);
    purged.unwrap();
    assert_eq!(log.count(WARNING), 1, "{}", log.text());
    eventually("the purge reached B", async || {
        b.get("/docs").await;
        b.renders() == 1
    })
    .await;
    assert_eq!(b.get("/docs").await, ("HIT".into(), "/docs v1".into()));
    isr_tests::eventually("the replica holds the stamp", SETTLE, async || {
        format!("{:?}", fleet.replica_stamps(&stamps).await).contains("p:/docs")
    })
    .await;
}

/// One test per scenario, in a module per topology.
macro_rules! scenarios {
    ($topology:ident: $($name:ident => $scenario:ident,)*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                super::$scenario(super::Topology::$topology).await;
            }
        )*
    };
}

/// What every topology must do.
macro_rules! shared_scenarios {
    ($topology:ident) => {
        scenarios! {
            $topology:
            pages_purges_and_storms_are_shared_by_two_instances => share_purge_and_storms,
            down_at_start_up_never_fails_a_request_and_recovers => down_at_start_up,
            killed_and_restarted_requests_keep_succeeding_and_purges_are_replayed => killed_and_restarted,
            paused_requests_keep_succeeding_within_the_op_timeout => paused,
        }
    };
}

mod single {
    shared_scenarios!(Single);
}

mod cluster {
    shared_scenarios!(Cluster);
    scenarios! {
        Cluster:
        a_failover_under_load_fails_no_request_and_loses_no_purge => failover_under_load,
        a_purge_no_replica_acknowledges_is_applied_shared_and_logged => replica_stopped,
    }
}

mod sentinel {
    shared_scenarios!(Sentinel);
    scenarios! {
        Sentinel:
        a_failover_under_load_fails_no_request_and_loses_no_purge => failover_under_load,
        a_purge_no_replica_acknowledges_is_applied_shared_and_logged => replica_stopped,
    }
}
