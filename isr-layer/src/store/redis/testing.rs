//! What the tests of this store share: the Redis they talk to and keys of their own.

use std::time::Duration;

use super::RedisStore;

/// The Redis of the test run: `ISR_REDIS_URL`, else the default port on this host.
pub(super) fn redis_url() -> String {
    std::env::var("ISR_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A key prefix no other test (or test run) uses.
pub(super) fn unique_prefix(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("isr-unit:{test}:{}:{nanos}", std::process::id())
}

/// A store on the test Redis under `prefix`, checked to be reachable.
pub(super) async fn store(prefix: &str) -> RedisStore {
    let store = RedisStore::builder(redis_url())
        .prefix(prefix)
        .op_timeout(Duration::from_secs(2))
        // What the tests leave behind goes away by itself.
        .entry_ttl(Duration::from_secs(60))
        .connect()
        .await
        .unwrap();
    assert!(store.is_healthy(), "Redis answers at {}", redis_url());
    store
}

/// A store whose Redis never answers: a port of this host nothing listens on.
pub(super) async fn unreachable_store(prefix: &str) -> RedisStore {
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .unwrap()
        .port();
    RedisStore::builder(format!("redis://127.0.0.1:{port}"))
        .prefix(prefix)
        .op_timeout(Duration::from_millis(200))
        .connect()
        .await
        .unwrap()
}

/// A plain connection to the test Redis, to look at what the store wrote.
pub(super) async fn raw() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}
