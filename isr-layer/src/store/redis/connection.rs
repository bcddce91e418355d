//! How the store reaches Redis in each of its three topologies: one node, a Redis Cluster, or
//! a primary with replicas behind Sentinel.
//!
//! - **One node**: the `redis` crate's `ConnectionManager`, which reconnects by itself.
//! - **Cluster**: its cluster client, which routes each command (or pipeline, or script) to
//!   the node that holds its keys' slot, follows `MOVED` and `ASK`, and refreshes its map of
//!   slots when a replica takes over from a master. Every command the store sends touches keys
//!   of one slot (see `keys`).
//! - **Sentinel**: the sentinels are asked for the primary, which is checked with `ROLE`; the
//!   connection to it is dropped on any failure, so the next command asks the sentinels again
//!   and follows a promoted replica.
//!
//! Invalidations are published with plain `PUBLISH`, which a Redis Cluster forwards to every
//! node, so one subscription to any node hears every instance (see `subscriber`); each instance
//! subscribes at the master of the channel's slot, where the `PUBLISH` goes, to spare the hop.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use redis::aio::{
    ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection,
};
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelServerType};
use redis::{AsyncConnectionConfig, Cmd, Pipeline, RedisFuture, RedisResult, Value};

use super::keys::cluster_slot;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where Redis is: what the builder was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Topology {
    /// One node at this URL.
    Single(String),
    /// A Redis Cluster reached through these seed nodes.
    Cluster(Vec<String>),
    /// The primary Sentinel knows as `master`, asked of these sentinels.
    Sentinel {
        /// The name the sentinels monitor the primary under.
        master: String,
        /// The sentinels' URLs.
        sentinels: Vec<String>,
    },
}

impl Topology {
    /// Whether a failover may promote a replica: a write is safe from it only once a replica
    /// has it.
    pub(super) fn is_replicated(&self) -> bool {
        !matches!(self, Self::Single(_))
    }

    /// The kind of store reported in its status.
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Self::Single(_) => "redis",
            Self::Cluster(_) => "redis-cluster",
            Self::Sentinel { .. } => "redis-sentinel",
        }
    }
}

/// A connection to Redis in any topology: what the store's commands are sent on.
#[derive(Clone)]
pub(super) enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
    Sentinel(MultiplexedConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
            Self::Sentinel(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Sentinel(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
            Self::Sentinel(c) => c.get_db(),
        }
    }
}

/// Makes connections in one topology: the command connection (shared, reconnecting) and the
/// subscription connections.
pub(super) struct Connector {
    topology: Topology,
    timeout: Duration,
    way: Way,
}

enum Way {
    Single {
        client: redis::Client,
        manager: ConnectionManager,
    },
    Cluster {
        connection: ClusterConnection,
        /// The seed URLs (at least one: the cluster client refuses none).
        seeds: Vec<String>,
    },
    Sentinel {
        sentinels: tokio::sync::Mutex<SentinelClient>,
        primary: RwLock<Option<MultiplexedConnection>>,
    },
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("topology", &self.topology)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// A connector for `topology` whose connections and answers each take at most `timeout`.
    /// Nothing is connected yet: only an invalid URL is an error.
    pub(super) fn new(topology: Topology, timeout: Duration) -> RedisResult<Self> {
        let way = match &topology {
            Topology::Single(url) => {
                let client = redis::Client::open(url.as_str())?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(timeout))
                    .set_response_timeout(Some(timeout))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_secs(1));
                let manager = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
                Way::Single { client, manager }
            }
            Topology::Cluster(nodes) => {
                let client =
                    redis::cluster::ClusterClient::builder(nodes.iter().map(String::as_str))
                        .connection_timeout(timeout)
                        .response_timeout(timeout)
                        // A command that meets a failover waits for the new master only as long
                        // as the store's own timeout lets it; the engine renders locally meanwhile.
                        .retries(2)
                        .min_retry_wait(10)
                        .max_retry_wait(200)
                        .build()?;
                let config = redis::cluster::ClusterConfig::new()
                    .set_connection_timeout(timeout)
                    .set_response_timeout(timeout);
                Way::Cluster {
                    connection: client.get_pending_async_connection_with_config(config),
                    seeds: nodes.clone(),
                }
            }
            Topology::Sentinel { master, sentinels } => {
                let client = SentinelClient::build(
                    sentinels.iter().map(String::as_str).collect(),
                    master.clone(),
                    None,
                    SentinelServerType::Master,
                )?;
                Way::Sentinel {
                    sentinels: tokio::sync::Mutex::new(client),
                    primary: RwLock::new(None),
                }
            }
        };
        Ok(Self {
            topology,
            timeout,
            way,
        })
    }

    /// The topology this connector reaches.
    pub(super) fn topology(&self) -> &Topology {
        &self.topology
    }

    /// The connection to send a command on. Behind Sentinel, the first command after a failure
    /// asks the sentinels where the primary is.
    pub(super) async fn connection(&self) -> RedisResult<Connection> {
        match &self.way {
            Way::Single { manager, .. } => Ok(Connection::Single(manager.clone())),
            Way::Cluster { connection, .. } => Ok(Connection::Cluster(connection.clone())),
            Way::Sentinel { sentinels, primary } => match read(primary) {
                Some(connection) => Ok(Connection::Sentinel(connection)),
                None => self.find_primary(sentinels, primary).await,
            },
        }
    }

    /// Asks the sentinels for the primary and connects to it. Boxed: it runs only after a
    /// failure, and its future (the sentinel client's) is deep.
    fn find_primary<'a>(
        &'a self,
        sentinels: &'a tokio::sync::Mutex<SentinelClient>,
        primary: &'a RwLock<Option<MultiplexedConnection>>,
    ) -> BoxFuture<'a, RedisResult<Connection>> {
        Box::pin(async move {
            // One caller asks the sentinels; the others wait for its answer.
            let mut sentinels = sentinels.lock().await;
            if let Some(connection) = read(primary) {
                return Ok(Connection::Sentinel(connection));
            }
            let client = sentinels.async_get_client().await?;
            drop(sentinels);
            let connection = client
                .get_multiplexed_async_connection_with_config(&self.config())
                .await?;
            *primary.write().unwrap_or_else(PoisonError::into_inner) = Some(connection.clone());
            Ok(Connection::Sentinel(connection))
        })
    }

    /// A command failed: behind Sentinel, forget the primary (it may have been replaced), so
    /// the next command asks the sentinels again. The other topologies reconnect by themselves.
    pub(super) fn failed(&self) {
        if let Way::Sentinel { primary, .. } = &self.way {
            primary
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
        }
    }

    /// A new connection subscribed to `channel`, on the node, the primary, or in a cluster the
    /// master of the channel's slot — else the first seed that answers: a message published on
    /// any node of a Redis Cluster reaches the subscribers of every node.
    pub(super) fn subscribe<'a>(
        &'a self,
        channel: &'a str,
    ) -> BoxFuture<'a, RedisResult<redis::aio::PubSub>> {
        Box::pin(async move { self.subscribe_now(channel).await })
    }

    async fn subscribe_now(&self, channel: &str) -> RedisResult<redis::aio::PubSub> {
        match &self.way {
            Way::Single { client, .. } => subscribed(client, channel).await,
            Way::Cluster { connection, seeds } => {
                // Where `PUBLISH` of the channel goes: its slot's master. A subscriber there
                // hears a purge without the hop over the cluster bus (which added up to 40 ms
                // to one purge in fifty, measured); anywhere else it hears it all the same.
                let owner = tokio::time::timeout(
                    self.timeout,
                    subscribe_at_owner(connection.clone(), seeds, channel),
                );
                if let Ok(Ok(pubsub)) = owner.await {
                    return Ok(pubsub);
                }
                let mut last = None;
                for node in seeds {
                    let attempt = async {
                        let client = redis::Client::open(node.as_str())?;
                        subscribed(&client, channel).await
                    };
                    match tokio::time::timeout(self.timeout, attempt).await {
                        Ok(Ok(pubsub)) => return Ok(pubsub),
                        Ok(Err(error)) => last = Some(error),
                        Err(_) => {
                            last = Some(redis::RedisError::from((
                                redis::ErrorKind::Io,
                                "timed out subscribing",
                                node.clone(),
                            )));
                        }
                    }
                }
                Err(last.unwrap_or_else(no_seed))
            }
            Way::Sentinel { sentinels, .. } => {
                let client = sentinels.lock().await.async_get_client().await?;
                subscribed(&client, channel).await
            }
        }
    }

    fn config(&self) -> AsyncConnectionConfig {
        AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
    }
}

/// The primary's connection, if one is kept.
fn read(primary: &RwLock<Option<MultiplexedConnection>>) -> Option<MultiplexedConnection> {
    primary
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// The error of a cluster without seeds (which the cluster client refuses to build).
fn no_seed() -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::InvalidClientConfig,
        "no cluster node given",
    ))
}

/// Subscribes to `channel` on the master of its slot, as `CLUSTER SLOTS` names it, reached with
/// the settings (credentials, database) of the first seed URL.
async fn subscribe_at_owner(
    mut connection: ClusterConnection,
    seeds: &[String],
    channel: &str,
) -> RedisResult<redis::aio::PubSub> {
    let seed = seeds.first().ok_or_else(no_seed)?;
    use redis::{ConnectionAddr, IntoConnectionInfo};
    let slots: Value = redis::cmd("CLUSTER")
        .arg("SLOTS")
        .query_async(&mut connection)
        .await?;
    let (host, port) = slot_owner(&slots, cluster_slot(channel)).ok_or_else(|| {
        redis::RedisError::from((
            redis::ErrorKind::Client,
            "no master serves the channel's slot",
        ))
    })?;
    let info = seed
        .as_str()
        .into_connection_info()?
        .set_addr(ConnectionAddr::Tcp(host, port));
    subscribed(&redis::Client::open(info)?, channel).await
}

/// The address of the master serving `slot` in an answer to `CLUSTER SLOTS`: ranges of slots,
/// each `[first, last, [host, port, id, ...], replicas...]`.
fn slot_owner(slots: &Value, slot: u16) -> Option<(String, u16)> {
    let Value::Array(ranges) = slots else {
        return None;
    };
    ranges.iter().find_map(|range| {
        let Value::Array(range) = range else {
            return None;
        };
        let (Some(Value::Int(first)), Some(Value::Int(last)), Some(Value::Array(master))) =
            (range.first(), range.get(1), range.get(2))
        else {
            return None;
        };
        if !(*first..=*last).contains(&i64::from(slot)) {
            return None;
        }
        let host = match master.first()? {
            Value::BulkString(host) => String::from_utf8(host.clone()).ok()?,
            Value::SimpleString(host) => host.clone(),
            _ => return None,
        };
        let Value::Int(port) = master.get(1)? else {
            return None;
        };
        Some((host, u16::try_from(*port).ok()?))
    })
}

async fn subscribed(client: &redis::Client, channel: &str) -> RedisResult<redis::aio::PubSub> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_millis(200);

    #[tokio::test]
    async fn behind_sentinel_the_primary_found_is_reused_until_a_command_fails() {
        // No sentinel listens there: asking the sentinels fails.
        let topology = Topology::Sentinel {
            master: "m".into(),
            sentinels: vec!["redis://127.0.0.1:1".into()],
        };
        let connector = Connector::new(topology, TIMEOUT).unwrap();
        assert!(
            connector.connection().await.is_err(),
            "no primary known yet"
        );
        let Way::Sentinel { primary, .. } = &connector.way else {
            unreachable!("a Sentinel topology")
        };
        // As if the sentinels had named the test's Redis.
        *primary.write().unwrap() = Some(crate::store::redis::testing::raw().await);
        let mut connection = connector.connection().await.expect("the primary kept");
        let pong: String = redis::cmd("PING")
            .query_async(&mut connection)
            .await
            .unwrap();
        assert_eq!(pong, "PONG");
        connector.failed();
        assert!(
            connector.connection().await.is_err(),
            "forgotten: the sentinels are asked again"
        );
    }

    #[test]
    fn the_owner_of_a_slot_is_read_from_cluster_slots() {
        let bulk = |s: &str| Value::BulkString(s.as_bytes().to_vec());
        let range = |first, last, host: &str, port| {
            Value::Array(vec![
                Value::Int(first),
                Value::Int(last),
                Value::Array(vec![bulk(host), Value::Int(port), bulk("id")]),
                Value::Array(vec![bulk("10.0.0.9"), Value::Int(7009), bulk("replica")]),
            ])
        };
        let slots = Value::Array(vec![
            range(0, 5460, "10.0.0.1", 7001),
            range(5461, 10922, "10.0.0.2", 7002),
            range(10923, 16383, "10.0.0.3", 7003),
        ]);
        assert_eq!(slot_owner(&slots, 0), Some(("10.0.0.1".into(), 7001)));
        assert_eq!(slot_owner(&slots, 5461), Some(("10.0.0.2".into(), 7002)));
        assert_eq!(slot_owner(&slots, 16383), Some(("10.0.0.3".into(), 7003)));
        let partial = Value::Array(vec![range(0, 100, "10.0.0.1", 7001)]);
        assert_eq!(slot_owner(&partial, 101), None, "a slot no master serves");
        assert_eq!(slot_owner(&Value::Nil, 1), None);
        let garbage = Value::Array(vec![Value::Array(vec![Value::Int(0)]), bulk("x")]);
        assert_eq!(slot_owner(&garbage, 0), None);
        // A host may come as a simple string too.
        let simple = Value::Array(vec![Value::Array(vec![
            Value::Int(0),
            Value::Int(16383),
            Value::Array(vec![
                Value::SimpleString("10.0.0.4".into()),
                Value::Int(7004),
            ]),
        ])]);
        assert_eq!(slot_owner(&simple, 9), Some(("10.0.0.4".into(), 7004)));
    }

    #[test]
    fn each_topology_names_its_kind_and_whether_a_replica_may_take_over() {
        // Only where a failover may promote a replica does a purge wait for one (`WAIT`).
        let single = Topology::Single("redis://h".into());
        assert_eq!((single.kind(), single.is_replicated()), ("redis", false));
        let cluster = Topology::Cluster(vec!["redis://h:7000".into()]);
        assert_eq!(
            (cluster.kind(), cluster.is_replicated()),
            ("redis-cluster", true)
        );
        let sentinel = Topology::Sentinel {
            master: "mymaster".into(),
            sentinels: vec!["redis://h:26379".into()],
        };
        assert_eq!(
            (sentinel.kind(), sentinel.is_replicated()),
            ("redis-sentinel", true)
        );
    }

    #[tokio::test]
    async fn only_an_invalid_url_is_an_error_nothing_is_connected_yet() {
        for topology in [
            Topology::Single("redis://127.0.0.1:1".into()),
            Topology::Cluster(vec![
                "redis://127.0.0.1:1".into(),
                "redis://127.0.0.1:2".into(),
            ]),
            Topology::Sentinel {
                master: "m".into(),
                sentinels: vec!["redis://127.0.0.1:1".into()],
            },
        ] {
            let connector = Connector::new(topology.clone(), TIMEOUT).expect("valid URLs");
            assert_eq!(connector.topology(), &topology);
            let debug = format!("{connector:?}");
            assert!(
                debug.contains(&format!("{topology:?}")) && debug.contains("timeout: 200ms"),
                "{debug}"
            );
        }
        for topology in [
            Topology::Single("not a url".into()),
            Topology::Cluster(vec!["redis://127.0.0.1:1".into(), "http://x".into()]),
            Topology::Cluster(Vec::new()),
            Topology::Sentinel {
                master: "m".into(),
                sentinels: vec!["nope".into()],
            },
        ] {
            assert!(
                Connector::new(topology.clone(), TIMEOUT).is_err(),
                "{topology:?}"
            );
        }
    }

    #[tokio::test]
    async fn without_a_reachable_sentinel_there_is_no_primary_and_no_subscription() {
        let port = std::net::TcpListener::bind(("127.0.0.1", 0))
            .and_then(|listener| listener.local_addr())
            .unwrap()
            .port();
        let connector = Connector::new(
            Topology::Sentinel {
                master: "m".into(),
                sentinels: vec![format!("redis://127.0.0.1:{port}")],
            },
            TIMEOUT,
        )
        .unwrap();
        assert!(connector.connection().await.is_err());
        assert!(connector.subscribe("c").await.is_err());
        connector.failed();
        assert!(
            connector.connection().await.is_err(),
            "asked again, still none"
        );
    }

    #[tokio::test]
    async fn a_cluster_subscription_tries_every_seed_in_turn() {
        let free = || {
            std::net::TcpListener::bind(("127.0.0.1", 0))
                .and_then(|listener| listener.local_addr())
                .unwrap()
                .port()
        };
        let url = crate::store::redis::testing::redis_url();
        // A seed nothing listens on, then a Redis that answers: the second is subscribed to.
        let connector = Connector::new(
            Topology::Cluster(vec![format!("redis://127.0.0.1:{}", free()), url]),
            Duration::from_secs(2),
        )
        .unwrap();
        assert!(connector.subscribe("isr-unit:seeds").await.is_ok());
        let dead = Connector::new(
            Topology::Cluster(vec![format!("redis://127.0.0.1:{}", free())]),
            TIMEOUT,
        )
        .unwrap();
        assert!(dead.subscribe("isr-unit:seeds").await.is_err());
    }
}
