//! The Redis store: entries shared by every instance, invalidations published to all of them,
//! one regeneration per cluster.
//!
//! One concern per file:
//!
//! - `store`: [`RedisStore`], its builder and its storage ([`Store`](super::Store)): entries in
//!   Redis with a byte-bounded copy in each instance's memory.
//! - `connection`: the three topologies (one node, Redis Cluster, Sentinel) and the
//!   connections each one makes.
//! - `keys`: the names of keys and of the channel; the keys asked together share a hash tag
//!   (one Redis Cluster slot).
//! - `lock`: the render lock ([`RenderLock`](super::RenderLock)): `SET NX PX`, released with a
//!   token check.
//! - `invalidation_log`: the invalidation log ([`InvalidationLog`](super::InvalidationLog)):
//!   stamps in a hash, published on a channel, queued while Redis does not answer.
//! - `subscriber`: the subscription to other instances' stamps, resubscribed and reloaded
//!   after a lost connection.
//! - `health`: whether Redis answers (each change logged once), outages, the queue of purges
//!   waiting for replay.
//! - `scripts`: the Lua scripts, each in `scripts/*.lua`.

mod connection;
mod health;
mod invalidation_log;
mod keys;
mod lock;
mod scripts;
mod store;
mod subscriber;
#[cfg(test)]
mod testing;

pub use self::store::{RedisStore, RedisStoreBuilder};
