//! Configuration of an [`IsrLayer`](crate::IsrLayer).

use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;

use crate::engine::{Config, Engine};
use crate::key::{KeyOptions, QueryMode};
use crate::layer::IsrLayer;
use crate::policy::Revalidate;
use crate::store::{MemoryStore, Store};

/// Invalid configuration, reported by [`IsrBuilder::build`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The default revalidate was [`Revalidate::Dynamic`]: nothing would ever be cached.
    #[error(
        "the layer's default revalidate cannot be dynamic (0): nothing would ever be cached; \
         use Revalidate::After(..) or Revalidate::Never, and make single routes dynamic instead"
    )]
    DynamicDefault,
    /// A size, count or duration that must be positive was zero.
    #[error("`{0}` must be greater than zero")]
    Zero(&'static str),
    /// The back-off's minimum was above its maximum.
    #[error("retry back-off minimum ({min:?}) is above its maximum ({max:?})")]
    BackoffOrder {
        /// The minimum given.
        min: Duration,
        /// The maximum given.
        max: Duration,
    },
    /// A query allow-list with no names would drop every query, like `QueryMode::Ignore`.
    #[error("the query allow-list is empty; use QueryMode::Ignore to drop all query parameters")]
    EmptyAllowList,
}

/// Builds an [`IsrLayer`](crate::IsrLayer).
///
/// ```
/// use std::time::Duration;
/// use isr_layer::{IsrLayer, store::MemoryStore, key::QueryMode, Revalidate};
///
/// let isr = IsrLayer::builder()
///     .revalidate(Revalidate::secs(1800))
///     .store(MemoryStore::new(64 * 1024 * 1024))
///     .max_body_bytes(2 * 1024 * 1024)
///     .query_mode(QueryMode::Sorted)
///     .regeneration_timeout(Duration::from_secs(10))
///     .build()
///     .expect("valid configuration");
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct IsrBuilder {
    config: Config,
    store: Option<Arc<dyn Store>>,
    data_store: Option<Arc<dyn Store>>,
}

impl Default for IsrBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl IsrBuilder {
    /// The environment variable that turns on the cache debug log (like Next.js's
    /// `NEXT_PRIVATE_DEBUG_CACHE`): `ISR_DEBUG_CACHE=1`.
    pub const DEBUG_ENV: &'static str = "ISR_DEBUG_CACHE";

    /// The defaults: revalidate 1 hour, 256 MiB memory store, 8 MiB body limit, full query in
    /// the key, no host, 30 s regeneration timeout, 64 background regenerations at once, 10 s
    /// waiter timeout, downstream `Cache-Control` on with a one-day stale window, and the debug
    /// log on if `ISR_DEBUG_CACHE` is `1` or `true`.
    pub fn new() -> Self {
        let debug = std::env::var(Self::DEBUG_ENV)
            .map(|v| matches!(v.trim(), "1" | "true" | "TRUE" | "yes"))
            .unwrap_or(false);
        Self {
            config: Config {
                revalidate: Revalidate::secs(3600),
                max_body_bytes: 8 * 1024 * 1024,
                key: KeyOptions::default(),
                regeneration_timeout: Duration::from_secs(30),
                waiter_timeout: Duration::from_secs(10),
                max_background_regenerations: 64,
                downstream_swr: Some(Duration::from_secs(86_400)),
                debug,
                retry_backoff: (Duration::from_secs(3), Duration::from_secs(30)),
                max_tag_stamps: 100_000,
                uncacheable_memory: Duration::from_secs(30),
                compression: crate::compression::Compression::new(),
            },
            store: None,
            data_store: None,
        }
    }

    /// The default revalidate of every page (the lowest of all levels wins).
    pub fn revalidate(mut self, revalidate: impl Into<Revalidate>) -> Self {
        self.config.revalidate = revalidate.into();
        self
    }

    /// Where entries are kept. Default: a [`MemoryStore`] of 256 MiB.
    pub fn store(mut self, store: impl Store) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Where the [`DataCache`](crate::DataCache) keeps values. Default: a [`MemoryStore`] of
    /// 64 MiB, apart from the pages' budget.
    pub fn data_store(mut self, store: impl Store) -> Self {
        self.data_store = Some(Arc::new(store));
        self
    }

    /// The largest body that is cached; larger bodies stream through untouched. Default 8 MiB.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.config.max_body_bytes = bytes;
        self
    }

    /// Treats `name` as a tracking parameter too: it never enters a key and the inner service
    /// never sees it (see [`TRACKING_PARAMS`](crate::key::TRACKING_PARAMS) for the built-in
    /// list).
    pub fn tracking_param(mut self, name: impl Into<String>) -> Self {
        self.config.key.tracking.push(name.into());
        self
    }

    /// How the query string takes part in the key. Default [`QueryMode::Ignore`]: only the
    /// parameters a route declares (none unless declared) are keyed and reach the render; use
    /// [`QueryMode::Full`] for API-like services whose every parameter matters.
    pub fn query_mode(mut self, mode: QueryMode) -> Self {
        self.config.key.query = mode;
        self
    }

    /// Whether the `Host` is part of the key (for services answering several sites). Default off.
    pub fn include_host(mut self, include: bool) -> Self {
        self.config.key.include_host = include;
        self
    }

    /// Request headers that are always part of the key, e.g. `x-forwarded-host` when the
    /// application builds links from it (otherwise one visitor could change the page everyone
    /// gets).
    pub fn key_header(mut self, name: HeaderName) -> Self {
        self.config.key.headers.push(name);
        self
    }

    /// The longest cache key; requests with longer keys bypass the cache. Default 4096 bytes.
    pub fn max_key_bytes(mut self, bytes: usize) -> Self {
        self.config.key.max_len = bytes;
        self
    }

    /// How long a regeneration may take before it is abandoned and the last good page kept.
    /// Default 30 s.
    pub fn regeneration_timeout(mut self, timeout: Duration) -> Self {
        self.config.regeneration_timeout = timeout;
        self
    }

    /// How long a visitor waits for another visitor's render of the same page before rendering
    /// on its own. Default 10 s.
    pub fn waiter_timeout(mut self, timeout: Duration) -> Self {
        self.config.waiter_timeout = timeout;
        self
    }

    /// The most background regenerations running at once; past it, stale pages are still
    /// served and the next visitor tries again. Default 64.
    pub fn max_background_regenerations(mut self, n: usize) -> Self {
        self.config.max_background_regenerations = n;
        self
    }

    /// Whether cached responses carry `Cache-Control: s-maxage=<ttl>, stale-while-revalidate=<w>`
    /// so a CDN in front behaves the same. Default on. Off keeps the service's own header.
    pub fn downstream_cache_control(mut self, emit: bool) -> Self {
        self.config.downstream_swr = emit.then(|| {
            self.config
                .downstream_swr
                .unwrap_or(Duration::from_secs(86_400))
        });
        self
    }

    /// The `stale-while-revalidate` window of the downstream `Cache-Control` (turns it on).
    pub fn stale_while_revalidate(mut self, window: Duration) -> Self {
        self.config.downstream_swr = Some(window);
        self
    }

    /// Which pages are kept compressed, in which encodings and levels (default:
    /// [`Compression::new`](crate::compression::Compression::new), every encoding this build
    /// has; [`Compression::off`](crate::compression::Compression::off) for none). Each encoding
    /// is made at most once per render, by the first visitor whose `Accept-Encoding` prefers it,
    /// and served to the next ones.
    pub fn compression(mut self, compression: crate::compression::Compression) -> Self {
        self.config.compression = compression;
        self
    }

    /// Logs every HIT / STALE / MISS / BYPASS and every revalidation at INFO (target `isr`).
    /// Default: from the `ISR_DEBUG_CACHE` environment variable.
    pub fn debug_cache(mut self, on: bool) -> Self {
        self.config.debug = on;
        self
    }

    /// The back-off between retries of a page whose regeneration fails: it doubles from `min`
    /// to `max`. Default 3 s to 30 s.
    pub fn retry_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.config.retry_backoff = (min, max);
        self
    }

    /// How many tag and path invalidation stamps are kept before the oldest half is folded
    /// into one (which can make older pages render once more, never serve stale as fresh).
    /// Default 100,000.
    pub fn max_invalidation_stamps(mut self, n: usize) -> Self {
        self.config.max_tag_stamps = n;
        self
    }

    /// Checks the configuration and builds the layer.
    pub fn build(self) -> Result<IsrLayer, BuildError> {
        let c = &self.config;
        if c.revalidate.is_dynamic() {
            return Err(BuildError::DynamicDefault);
        }
        let zero = [
            (c.max_body_bytes == 0, "max_body_bytes"),
            (c.key.max_len == 0, "max_key_bytes"),
            (c.regeneration_timeout.is_zero(), "regeneration_timeout"),
            (c.waiter_timeout.is_zero(), "waiter_timeout"),
            (
                c.max_background_regenerations == 0,
                "max_background_regenerations",
            ),
            (c.retry_backoff.0.is_zero(), "retry_backoff"),
            (c.max_tag_stamps == 0, "max_invalidation_stamps"),
        ];
        if let Some((_, name)) = zero.iter().find(|(is_zero, _)| *is_zero) {
            return Err(BuildError::Zero(name));
        }
        if c.retry_backoff.0 > c.retry_backoff.1 {
            return Err(BuildError::BackoffOrder {
                min: c.retry_backoff.0,
                max: c.retry_backoff.1,
            });
        }
        if matches!(&c.key.query, QueryMode::AllowList(names) if names.is_empty()) {
            return Err(BuildError::EmptyAllowList);
        }
        let store = self
            .store
            .unwrap_or_else(|| Arc::new(MemoryStore::default()));
        let data_store = self
            .data_store
            .unwrap_or_else(|| Arc::new(MemoryStore::new(64 * 1024 * 1024)));
        let engine = Engine::new(self.config, Arc::clone(&store));
        let sink = engine.stamp_sink();
        if let Some(log) = store.invalidation_log() {
            log.attach(sink.clone());
        }
        if let Some(log) = data_store.invalidation_log() {
            log.attach(sink);
        }
        Ok(IsrLayer::from_engine(engine, data_store))
    }
}
