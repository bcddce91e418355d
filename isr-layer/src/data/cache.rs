//! The data cache: cached, tagged fetches with stale-while-revalidate.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::options::FetchOptions;
use crate::catch_unwind::CatchUnwind;
use crate::engine::{Engine, Flights, Join, Landing, checked_tags};
use crate::entry::Entry;
use crate::invalidate::EntryState;
use crate::policy::{PolicySource, RenderContext, Revalidate};
use crate::status::CacheStatus;
use crate::store::Store;

/// What a fetch produced.
pub(crate) enum Fetched<P> {
    /// A value to store.
    Store {
        status: StatusCode,
        headers: HeaderMap,
        body: Bytes,
    },
    /// Something to hand back as is, never stored (a non-200 response, an oversized body).
    Pass(P),
    /// A failed answer (a 5xx): handed back when there is nothing older, otherwise the older
    /// value is kept and the retry backs off, as for an error.
    Failed(P),
}

/// What a caller gets.
pub(crate) enum Served<P> {
    /// A stored value (or, for `no_store`, a value fetched now), and how it was found.
    Entry(Arc<Entry>, CacheStatus),
    /// What the fetch handed back unstored.
    Passed(P),
}

/// Why [`DataCache::get_or_fetch`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError<E> {
    /// The fetch itself failed (and there was no older value to fall back on).
    #[error("fetch failed: {0}")]
    Fetch(E),
    /// The fetched value could not be serialised.
    #[error("the fetched value could not be encoded: {0}")]
    Encode(serde_json::Error),
    /// The cached value could not be read as the requested type (its type changed).
    #[error("the cached value could not be decoded: {0}")]
    Decode(serde_json::Error),
}

/// Counters of a [`DataCache`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DataStats {
    /// Answered from a fresh value.
    pub hits: u64,
    /// Answered from a stale value (a refresh was started or is backing off).
    pub stale: u64,
    /// Waited for a fetch (first time, or after an invalidation).
    pub misses: u64,
    /// Calls of the upstream (fetch closures run, requests sent).
    pub fetches: u64,
    /// Values held.
    pub entries: u64,
    /// Bytes held.
    pub bytes: u64,
}

#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    stale: AtomicU64,
    misses: AtomicU64,
    fetches: AtomicU64,
}

impl Counters {
    /// Counts a lookup (`hit`, `stale` or `miss`), also through the `metrics` facade.
    fn lookup(&self, counter: &AtomicU64, status: &'static str) {
        counter.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        metrics::counter!("isr_data_requests_total", "status" => status).increment(1);
        #[cfg(not(feature = "metrics"))]
        let _ = status;
    }

    /// Counts a call of a fetch, also through the `metrics` facade.
    fn fetch(&self) {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        metrics::counter!("isr_data_fetches_total").increment(1);
    }
}

struct Inner {
    engine: Arc<Engine>,
    store: Arc<dyn Store>,
    flights: Flights,
    counters: Counters,
}

/// Cached, tagged fetches — the handbook's second cache, next to the page cache.
///
/// Obtained from [`IsrLayer::data_cache`](crate::IsrLayer::data_cache), so one
/// [`Revalidator`](crate::Revalidator) reaches pages and data alike. Values live in a store of
/// their own (a 64 MiB [`MemoryStore`](crate::store::MemoryStore) by default, see
/// [`IsrBuilder::data_store`](crate::IsrBuilder::data_store)).
///
/// Semantics are the pages': a fresh value is returned at once; a stale one is returned at once
/// while **one** refresh runs in the background; a missing one is fetched by one caller while
/// concurrent callers of the same key wait for it; a failing refresh keeps the old value and
/// backs off; errors are never cached; [`FetchOptions::no_store`] skips the cache.
///
/// Inside a page render, every fetch adds its tags to the page and lowers the page's revalidate
/// to its own when that is lower (Next.js's "lowest revalidate wins" for fetches), found through
/// [`RenderContext::current`]. Inside a dynamic page the data cache keeps working: the page
/// renders every time, the upstream is called once per revalidate.
///
/// ```
/// use isr_layer::{FetchOptions, IsrLayer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let isr = IsrLayer::new();
/// let data = isr.data_cache();
/// let price: u64 = data
///     .get_or_fetch("price:blue-sneakers", FetchOptions::revalidate(300).tags(["product-blue-sneakers"]), || async {
///         Ok::<_, std::io::Error>(8900) // a call to the pricing API
///     })
///     .await
///     .unwrap();
/// assert_eq!(price, 8900);
/// # }
/// ```
#[derive(Clone)]
pub struct DataCache {
    inner: Arc<Inner>,
}

impl fmt::Debug for DataCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataCache")
            .field("store", &self.inner.store)
            .finish_non_exhaustive()
    }
}

impl DataCache {
    pub(crate) fn new(engine: Arc<Engine>, store: Arc<dyn Store>) -> Self {
        Self {
            inner: Arc::new(Inner {
                engine,
                store,
                flights: Flights::default(),
                counters: Counters::default(),
            }),
        }
    }

    /// The counters so far, and what the data store holds.
    pub fn stats(&self) -> DataStats {
        let c = &self.inner.counters;
        let usage = self.inner.store.usage();
        DataStats {
            hits: c.hits.load(Ordering::Relaxed),
            stale: c.stale.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            fetches: c.fetches.load(Ordering::Relaxed),
            entries: usage.entries,
            bytes: usage.bytes,
        }
    }

    /// The value under `key`: cached, or fetched with `fetch` and cached as JSON.
    ///
    /// `fetch` runs at most once per call; it is not run at all on a hit, and on a stale hit it
    /// runs in the background (so it must be `Send + 'static`).
    ///
    /// # Concurrency
    ///
    /// Concurrent calls for the same `key` on clones of one data cache are coalesced into one
    /// evaluation of `fetch`: the first caller fetches, the others wait for its result and get
    /// the value it stored. A waiter whose wait passes the layer's
    /// [`waiter_timeout`](crate::IsrBuilder::waiter_timeout) fetches for itself (or gets the
    /// invalidated value it had, if there is one). On a stale value every caller gets it at
    /// once and at most one background refresh per key runs (none while the key backs off
    /// after failed fetches, or past the bound on background regenerations). A fetch that fails
    /// never replaces a stored value; only its own caller sees the error.
    pub async fn get_or_fetch<T, E, F, Fut>(
        &self,
        key: &str,
        options: FetchOptions,
        fetch: F,
    ) -> Result<T, DataError<E>>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        E: Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
    {
        let served = self
            .run::<Infallible, DataError<E>, _, _>(key, &options, move || async move {
                let value = fetch().await.map_err(DataError::Fetch)?;
                let body = serde_json::to_vec(&value).map_err(DataError::Encode)?;
                Ok(Fetched::Store {
                    status: StatusCode::OK,
                    headers: HeaderMap::new(),
                    body: Bytes::from(body),
                })
            })
            .await?;
        match served {
            Served::Entry(entry, _) => {
                serde_json::from_slice(&entry.body).map_err(DataError::Decode)
            }
            Served::Passed(never) => match never {},
        }
    }

    /// The raw bytes under `key`: cached, or fetched with `fetch`.
    pub async fn get_or_fetch_bytes<E, F, Fut>(
        &self,
        key: &str,
        options: FetchOptions,
        fetch: F,
    ) -> Result<Bytes, E>
    where
        E: Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Bytes, E>> + Send + 'static,
    {
        let served = self
            .run::<Infallible, E, _, _>(key, &options, move || async move {
                Ok(Fetched::Store {
                    status: StatusCode::OK,
                    headers: HeaderMap::new(),
                    body: fetch().await?,
                })
            })
            .await?;
        match served {
            Served::Entry(entry, _) => Ok(entry.body.clone()),
            Served::Passed(never) => match never {},
        }
    }

    /// The one flow behind every entry point.
    ///
    /// A page rendered with a value that is stale (or kept because its refresh failed) must not
    /// be stored as fresh for its whole revalidate: its revalidate is lowered to the first retry
    /// delay, so it is rendered again soon, with the refreshed value.
    pub(crate) async fn run<P, E, F, Fut>(
        &self,
        key: &str,
        options: &FetchOptions,
        fetch: F,
    ) -> Result<Served<P>, E>
    where
        P: Send + 'static,
        E: Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Fetched<P>, E>> + Send + 'static,
    {
        let served = self.serve(key, options, fetch).await;
        if let Ok(Served::Entry(_, CacheStatus::Stale)) = &served
            && let Some(render) = RenderContext::current()
        {
            let soon = Revalidate::After(self.inner.engine.config().retry_backoff.0);
            render.revalidate(soon, PolicySource::Fetch);
        }
        served
    }

    async fn serve<P, E, F, Fut>(
        &self,
        key: &str,
        options: &FetchOptions,
        fetch: F,
    ) -> Result<Served<P>, E>
    where
        P: Send + 'static,
        E: Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Fetched<P>, E>> + Send + 'static,
    {
        if let Some(render) = RenderContext::current() {
            if let Some(revalidate) = options.revalidate {
                render.revalidate(revalidate, PolicySource::Fetch);
            }
            render.add_tags(options.tags.iter());
        }
        let inner = &self.inner;
        let key: Arc<str> = Arc::from(key);
        if options.no_store {
            inner.counters.fetch();
            return Ok(match fetch().await? {
                Fetched::Store {
                    status,
                    headers,
                    body,
                } => {
                    let now = inner.engine.clock().now();
                    let entry = Entry::fetched(
                        key,
                        status,
                        headers,
                        body,
                        now,
                        now,
                        Revalidate::Dynamic,
                        Box::new([]),
                    );
                    Served::Entry(Arc::new(entry), CacheStatus::Bypass)
                }
                Fetched::Pass(p) | Fetched::Failed(p) => Served::Passed(p),
            });
        }

        let engine = &inner.engine;
        let found = match inner.store.get_local(&key) {
            Some(entry) => Some(entry),
            None if !inner.store.is_local_only() => match inner.store.get(&key).await {
                Ok(found) => found,
                Err(error) => {
                    engine.store_failed(&key, &error, "data store read failed; fetching instead");
                    None
                }
            },
            None => None,
        };
        let mut fallback = None;
        if let Some(entry) = found {
            match engine.freshness(&entry, engine.clock().now()) {
                EntryState::Fresh => {
                    inner.counters.lookup(&inner.counters.hits, "hit");
                    return Ok(Served::Entry(entry, CacheStatus::Hit));
                }
                EntryState::Stale => {
                    inner.counters.lookup(&inner.counters.stale, "stale");
                    self.refresh_in_background(&entry, options, fetch);
                    return Ok(Served::Entry(entry, CacheStatus::Stale));
                }
                EntryState::Invalidated => fallback = Some(entry),
            }
        }
        inner.counters.lookup(&inner.counters.misses, "miss");
        if let Some(old) = &fallback
            && engine.is_backing_off(old)
        {
            return Ok(Served::Entry(Arc::clone(old), CacheStatus::Stale));
        }
        match inner.flights.join(&key) {
            Join::Lead(guard) => {
                self.fetch_and_store(key, options, fetch, Some(guard), fallback)
                    .await
            }
            Join::Wait(waiter) => {
                let landing =
                    tokio::time::timeout(engine.config().waiter_timeout, waiter.landing()).await;
                match (landing, fallback) {
                    (Ok(Landing::Entry(entry)), _) => Ok(Served::Entry(entry, CacheStatus::Miss)),
                    (_, Some(old)) => Ok(Served::Entry(old, CacheStatus::Stale)),
                    (_, None) => self.fetch_and_store(key, options, fetch, None, None).await,
                }
            }
        }
    }

    async fn fetch_and_store<P, E, F, Fut>(
        &self,
        key: Arc<str>,
        options: &FetchOptions,
        fetch: F,
        guard: Option<crate::engine::FlightGuard>,
        fallback: Option<Arc<Entry>>,
    ) -> Result<Served<P>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Fetched<P>, E>>,
    {
        let inner = &self.inner;
        let engine = &inner.engine;
        let started = engine.clock().stamp();
        inner.counters.fetch();
        let outcome = match &fallback {
            // With an older value to fall back on, a fetch is bounded and its panics caught.
            Some(old) => {
                let bounded = tokio::time::timeout(
                    engine.config().regeneration_timeout,
                    CatchUnwind::new(fetch()),
                );
                match bounded.await {
                    Ok(Ok(outcome)) => outcome,
                    Ok(Err(_panic)) => {
                        engine.render_failed(&key, Some(old), &"the data fetch panicked");
                        return Ok(Served::Entry(Arc::clone(old), CacheStatus::Stale));
                    }
                    Err(_) => {
                        engine.render_failed(&key, Some(old), &"the data fetch timed out");
                        return Ok(Served::Entry(Arc::clone(old), CacheStatus::Stale));
                    }
                }
            }
            None => fetch().await,
        };
        match outcome {
            Ok(Fetched::Store {
                status,
                headers,
                body,
            }) => {
                let entry = Arc::new(Entry::fetched(
                    Arc::clone(&key),
                    status,
                    headers,
                    body,
                    started,
                    engine.clock().now(),
                    options.effective_revalidate(),
                    checked_tags(options.tags.clone(), &key),
                ));
                if let Err(error) = inner.store.put(Arc::clone(&entry)).await {
                    engine.store_failed(
                        &key,
                        &error,
                        "data store write failed; the value is used but not kept",
                    );
                }
                if let Some(guard) = guard {
                    guard.land(Landing::Entry(Arc::clone(&entry)));
                }
                Ok(Served::Entry(entry, CacheStatus::Miss))
            }
            Ok(Fetched::Pass(passed)) => {
                if let Some(guard) = guard {
                    guard.land(Landing::Nothing);
                }
                Ok(Served::Passed(passed))
            }
            Ok(Fetched::Failed(failed)) => match fallback {
                Some(old) => {
                    engine.render_failed(
                        &key,
                        Some(&old),
                        &"the upstream answered with an error status",
                    );
                    Ok(Served::Entry(old, CacheStatus::Stale))
                }
                None => Ok(Served::Passed(failed)),
            },
            Err(error) => match fallback {
                Some(old) => {
                    engine.render_failed(&key, Some(&old), &"the data fetch failed");
                    Ok(Served::Entry(old, CacheStatus::Stale))
                }
                None => Err(error),
            },
        }
    }

    /// Starts one background refresh of a stale value (unless backing off, over the bound, or
    /// already refreshing).
    fn refresh_in_background<P, E, F, Fut>(
        &self,
        stale: &Arc<Entry>,
        options: &FetchOptions,
        fetch: F,
    ) where
        P: Send + 'static,
        E: Send + 'static,
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Fetched<P>, E>> + Send + 'static,
    {
        let engine = &self.inner.engine;
        if engine.is_backing_off(stale) {
            return;
        }
        let Some(permit) = engine.regeneration_permit() else {
            return;
        };
        let Some(guard) = self.inner.flights.try_lead(&stale.key) else {
            return;
        };
        let cache = self.clone();
        let key = Arc::clone(&stale.key);
        let options = options.clone();
        let fallback = Some(Arc::clone(stale));
        tokio::spawn(async move {
            let _permit = permit;
            let _ = cache
                .fetch_and_store(key, &options, fetch, Some(guard), fallback)
                .await;
        });
    }
}
