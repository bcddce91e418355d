//! Private Redis fleets for tests: a Redis Cluster of three masters and three replicas, and a
//! primary with a replica behind three sentinels, each a set of `redis-server` processes on
//! free ports of 127.0.0.1, stopped by PID when dropped.

use std::process::Command;
use std::time::Duration;

use crate::eventually_every;
use crate::redis_server::{PrivateRedis, free_port};

/// How often a fleet's state is asked for while waiting: each check opens connections to
/// several nodes.
const POLL: Duration = Duration::from_millis(50);

/// The text of a command's answer (an info page, a list of nodes), or an empty string.
async fn text(node: &PrivateRedis, args: &[&str]) -> String {
    match node.query(args).await {
        Ok(redis::Value::BulkString(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
        Ok(redis::Value::VerbatimString { text, .. }) => text,
        Ok(other) => format!("{other:?}"),
        Err(_) => String::new(),
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|arg| (*arg).to_owned()).collect()
}

/// A Redis Cluster of three masters, each with a replica; nodes fail over after one second.
#[derive(Debug)]
pub struct RedisCluster {
    /// The six nodes; the first three start as masters.
    pub nodes: Vec<PrivateRedis>,
    _dir: tempfile::TempDir,
}

impl RedisCluster {
    /// Six nodes chosen on free ports, none started yet (see [`start`](Self::start)): for an
    /// instance made while its cluster is down.
    pub fn reserve() -> Self {
        let dir = tempfile::tempdir().expect("a directory for the nodes' configuration");
        let nodes = (0..6)
            .map(|_| {
                let (port, bus) = (free_port(), free_port());
                let args = strings(&[
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--cluster-enabled",
                    "yes",
                    "--cluster-port",
                    &bus.to_string(),
                    "--cluster-config-file",
                    &format!("nodes-{port}.conf"),
                    "--cluster-node-timeout",
                    "1000",
                    // A replica takes over however long it was cut off from its master.
                    "--cluster-replica-validity-factor",
                    "0",
                    "--dir",
                    &dir.path().display().to_string(),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ]);
                PrivateRedis::stopped(port, args)
            })
            .collect();
        Self { nodes, _dir: dir }
    }

    /// Starts a cluster and waits until it serves every slot.
    pub async fn start() -> Self {
        let mut cluster = Self::reserve();
        cluster.create().await;
        cluster
    }

    /// Starts the reserved nodes, joins them into a cluster (`redis-cli --cluster create`) and
    /// waits until every node serves every slot.
    pub async fn create(&mut self) {
        for node in &mut self.nodes {
            node.restart().await;
        }
        let addresses: Vec<String> = self
            .nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port))
            .collect();
        let output = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .expect("redis-cli is installed (.ci/run installs it)");
        assert!(
            output.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        self.wait_ok().await;
    }

    /// The seed URLs of every node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(PrivateRedis::url).collect()
    }

    /// Waits until every running node says the cluster is up with all slots served, and every
    /// running replica follows its master.
    pub async fn wait_ok(&self) {
        eventually_every(
            "the cluster serves every slot",
            Duration::from_secs(30),
            POLL,
            async || {
                for node in self.nodes.iter().filter(|node| node.is_running()) {
                    let info = text(node, &["CLUSTER", "INFO"]).await;
                    if !info.contains("cluster_state:ok")
                        || !info.contains("cluster_slots_ok:16384")
                    {
                        return false;
                    }
                    // A replica counts once it has its master's data and follows it.
                    let replication = text(node, &["INFO", "replication"]).await;
                    if replication.contains("role:slave")
                        && !replication.contains("master_link_status:up")
                    {
                        return false;
                    }
                }
                true
            },
        )
        .await;
    }

    /// The index of the node that is master of `key`'s slot, as the running nodes see it.
    pub async fn master_of(&self, key: &str) -> Option<usize> {
        let asked = self.nodes.iter().find(|node| node.is_running())?;
        let slot: i64 = match asked.query(&["CLUSTER", "KEYSLOT", key]).await.ok()? {
            redis::Value::Int(slot) => slot,
            _ => return None,
        };
        let listing = text(asked, &["CLUSTER", "NODES"]).await;
        for line in listing.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 9 || !fields[2].contains("master") || fields[2].contains("fail") {
                continue;
            }
            let serves = fields[8..].iter().any(|range| {
                let (from, to) = range.split_once('-').unwrap_or((range, range));
                matches!((from.parse::<i64>(), to.parse::<i64>()), (Ok(from), Ok(to)) if from <= slot && slot <= to)
            });
            let port = fields[1].split(['@', ':']).nth(1)?.parse::<u16>().ok()?;
            if serves {
                return self.nodes.iter().position(|node| node.port == port);
            }
        }
        None
    }

    /// The index of a running replica of the master of `key`'s slot.
    pub async fn replica_of(&self, key: &str) -> Option<usize> {
        let master = &self.nodes[self.master_of(key).await?];
        let id = text(master, &["CLUSTER", "MYID"]).await;
        let listing = text(master, &["CLUSTER", "NODES"]).await;
        let port = listing.lines().find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.len() > 3 && fields[2].contains("slave") && fields[3] == id.trim())
                .then(|| fields[1].split(['@', ':']).nth(1)?.parse::<u16>().ok())
                .flatten()
        })?;
        self.nodes
            .iter()
            .position(|node| node.port == port && node.is_running())
    }

    /// Kills the master of `key`'s slot (as a crash would), without waiting.
    pub async fn kill_master_of(&mut self, key: &str) -> usize {
        let master = self.master_of(key).await.expect("the slot has a master");
        self.nodes[master].kill();
        master
    }

    /// Waits until a replica serves `key`'s slot in place of the killed `master`.
    pub async fn wait_taken_over(&self, key: &str, master: usize) {
        eventually_every(
            "a replica took over",
            Duration::from_secs(30),
            POLL,
            async || self.master_of(key).await.is_some_and(|now| now != master),
        )
        .await;
        self.wait_ok().await;
    }

    /// Kills every node.
    pub fn kill_all(&mut self) {
        self.nodes.iter_mut().for_each(PrivateRedis::kill);
    }

    /// Starts every node again (empty; each keeps its place in the cluster) and waits until
    /// the cluster serves every slot.
    pub async fn restart_all(&mut self) {
        for node in &mut self.nodes {
            node.restart().await;
        }
        self.wait_ok().await;
    }

    /// Stops every node without ending it (`SIGSTOP`).
    pub fn freeze_all(&self) {
        self.nodes.iter().for_each(PrivateRedis::freeze);
    }

    /// Lets every frozen node run again.
    pub fn thaw_all(&self) {
        self.nodes.iter().for_each(PrivateRedis::thaw);
    }
}

/// A primary and its replica, watched by three sentinels under the name
/// [`MASTER`](Self::MASTER) (quorum two, down after one second).
#[derive(Debug)]
pub struct RedisSentinel {
    /// The primary (first) and the replica, as started.
    pub data: Vec<PrivateRedis>,
    /// The three sentinels.
    pub sentinels: Vec<PrivateRedis>,
    dir: tempfile::TempDir,
}

impl RedisSentinel {
    /// The name the sentinels monitor the primary under.
    pub const MASTER: &'static str = "isr";

    /// Five processes chosen on free ports, none started yet (see [`create`](Self::create)).
    pub fn reserve() -> Self {
        let dir = tempfile::tempdir().expect("a directory for the sentinels' configuration");
        let primary = free_port();
        let data_args = |port: u16, replica_of: Option<u16>| {
            let mut args = strings(&[
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                // The snapshot a replica's first sync writes goes here, not in the working
                // directory.
                "--dir",
                &dir.path().display().to_string(),
            ]);
            if let Some(of) = replica_of {
                args.extend(strings(&["--replicaof", "127.0.0.1", &of.to_string()]));
            }
            args
        };
        let replica = free_port();
        let data = vec![
            PrivateRedis::stopped(primary, data_args(primary, None)),
            PrivateRedis::stopped(replica, data_args(replica, Some(primary))),
        ];
        let sentinels = (0..3)
            .map(|_| {
                let port = free_port();
                let conf = dir.path().join(format!("sentinel-{port}.conf"));
                PrivateRedis::stopped(
                    port,
                    vec![conf.display().to_string(), "--sentinel".to_owned()],
                )
            })
            .collect();
        Self {
            data,
            sentinels,
            dir,
        }
    }

    /// Starts a primary, its replica and three sentinels, and waits until the sentinels can
    /// fail over.
    pub async fn start() -> Self {
        let mut sentinel = Self::reserve();
        sentinel.create().await;
        sentinel
    }

    /// Starts the reserved processes and waits until the replica follows the primary and the
    /// sentinels know both and each other.
    pub async fn create(&mut self) {
        let primary = self.data[0].port;
        for sentinel in &self.sentinels {
            let conf = format!(
                "port {port}\nbind 127.0.0.1\ndir {dir}\n\
                 sentinel monitor {name} 127.0.0.1 {primary} 2\n\
                 sentinel down-after-milliseconds {name} 1000\n\
                 sentinel failover-timeout {name} 10000\n\
                 sentinel parallel-syncs {name} 1\n",
                port = sentinel.port,
                dir = self.dir.path().display(),
                name = Self::MASTER,
            );
            std::fs::write(
                self.dir
                    .path()
                    .join(format!("sentinel-{}.conf", sentinel.port)),
                conf,
            )
            .expect("the sentinel's configuration is written");
        }
        for node in self.data.iter_mut().chain(&mut self.sentinels) {
            node.restart().await;
        }
        self.wait_replica_follows().await;
        eventually_every(
            "the sentinels can fail over",
            Duration::from_secs(60),
            POLL,
            async || {
                for sentinel in &self.sentinels {
                    let quorum = text(sentinel, &["SENTINEL", "CKQUORUM", Self::MASTER]).await;
                    let replicas = sentinel
                        .query(&["SENTINEL", "REPLICAS", Self::MASTER])
                        .await
                        .map(|v| format!("{v:?}"))
                        .unwrap_or_default();
                    let sentinels = sentinel
                        .query(&["SENTINEL", "SENTINELS", Self::MASTER])
                        .await
                        .map(|v| match v {
                            redis::Value::Array(known) => known.len(),
                            _ => 0,
                        })
                        .unwrap_or(0);
                    if !quorum.contains("OK") || !replicas.contains("flags") || sentinels < 2 {
                        return false;
                    }
                }
                true
            },
        )
        .await;
    }

    /// The sentinels' URLs.
    pub fn sentinel_urls(&self) -> Vec<String> {
        self.sentinels.iter().map(PrivateRedis::url).collect()
    }

    /// The index in [`data`](Self::data) of the node every running sentinel names primary.
    pub async fn primary(&self) -> Option<usize> {
        let mut agreed = None;
        for sentinel in self.sentinels.iter().filter(|s| s.is_running()) {
            let answer = sentinel
                .query(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", Self::MASTER])
                .await
                .ok()?;
            let redis::Value::Array(address) = answer else {
                return None;
            };
            let port: u16 = match address.get(1)? {
                redis::Value::BulkString(port) => std::str::from_utf8(port).ok()?.parse().ok()?,
                _ => return None,
            };
            let index = self.data.iter().position(|node| node.port == port)?;
            if agreed.replace(index).is_some_and(|before| before != index) {
                return None;
            }
        }
        agreed
    }

    /// Kills the primary (as a crash would), without waiting; returns its index.
    pub async fn kill_primary(&mut self) -> usize {
        let primary = self
            .primary()
            .await
            .expect("the sentinels agree on a primary");
        self.data[primary].kill();
        primary
    }

    /// Waits until the sentinels have promoted another node in place of `old`, and it says
    /// it is a master.
    pub async fn wait_promoted(&self, old: usize) {
        eventually_every(
            "the sentinels promoted the replica",
            Duration::from_secs(60),
            POLL,
            async || match self.primary().await {
                Some(now) if now != old => {
                    text(&self.data[now], &["ROLE"]).await.contains("master")
                }
                _ => false,
            },
        )
        .await;
    }

    /// Kills the primary and the replica.
    pub fn kill_data(&mut self) {
        self.data.iter_mut().for_each(PrivateRedis::kill);
    }

    /// Starts the killed primary and replica again (empty, in their first roles) and waits
    /// until the replica follows.
    pub async fn restart_data(&mut self) {
        for node in &mut self.data {
            node.restart().await;
        }
        self.wait_replica_follows().await;
    }

    async fn wait_replica_follows(&self) {
        eventually_every(
            "the replica follows the primary",
            Duration::from_secs(30),
            POLL,
            async || {
                text(&self.data[1], &["INFO", "replication"])
                    .await
                    .contains("master_link_status:up")
            },
        )
        .await;
    }

    /// Stops the primary and the replica without ending them (`SIGSTOP`).
    pub fn freeze_data(&self) {
        self.data.iter().for_each(PrivateRedis::freeze);
    }

    /// Lets the frozen primary and replica run again.
    pub fn thaw_data(&self) {
        self.data.iter().for_each(PrivateRedis::thaw);
    }
}
