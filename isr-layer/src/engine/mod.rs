//! The framework-agnostic engine: lookup states, single-flight, admission, responses.
//!
//! Adapters (the tower service in this crate, the actix middleware elsewhere) translate requests
//! and own the task that calls the inner service; every decision about what is served, stored
//! and regenerated is made here.

mod admit;
mod backoff;
#[cfg(feature = "inspector")]
mod bypass_log;
mod cluster_lock;
mod encode;
mod executor;
mod flight;
mod invalidation;
mod lookup;
mod negotiate;
mod regenerate;
mod render_job;
mod request_head;
mod respond;
mod store_trouble;
mod tag_clock;
mod tee;
mod variance;
mod visit;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;
use tokio::sync::Semaphore;

pub(crate) use self::admit::{
    Admission, Buffered, PendingEntry, RenderTarget, Streaming, admit, buffer, checked_tags, concat,
};
use self::backoff::Backoff;
#[cfg(feature = "inspector")]
use self::bypass_log::BypassLog;
#[cfg(feature = "inspector")]
pub(crate) use self::bypass_log::BypassRecord;
pub(crate) use self::executor::Threaded;
pub(crate) use self::flight::{FlightGuard, Flights, Join, Landing};
pub use self::lookup::Lookup;
pub(crate) use self::lookup::lookup;
pub use self::regenerate::Regeneration;
pub use self::request_head::RequestHead;
pub use self::respond::{Answer, Page};
use self::store_trouble::StoreTrouble;
pub(crate) use self::tag_clock::TagClock;
pub(crate) use self::variance::Variance;
use self::variance::VaryIndex;
pub use self::visit::{Served, Visit};
use crate::clock::{Clock, Micros};
use crate::entry::Entry;
use crate::filters::BypassReason;
use crate::invalidate::EntryState;
use crate::key::KeyOptions;
use crate::policy::Revalidate;
use crate::stats::Counters;
use crate::status::CacheStatus;
use crate::store::{LockToken, Store};

/// The layer's configuration, fixed at build time.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) revalidate: Revalidate,
    pub(crate) max_body_bytes: usize,
    pub(crate) key: KeyOptions,
    pub(crate) regeneration_timeout: Duration,
    pub(crate) waiter_timeout: Duration,
    pub(crate) max_background_regenerations: usize,
    /// `stale-while-revalidate` window of the downstream `Cache-Control`; `None`: not emitted.
    pub(crate) downstream_swr: Option<Duration>,
    pub(crate) debug: bool,
    pub(crate) retry_backoff: (Duration, Duration),
    pub(crate) max_tag_stamps: usize,
    pub(crate) uncacheable_memory: Duration,
    pub(crate) compression: crate::compression::Compression,
}

/// The shared state behind an [`IsrLayer`](crate::IsrLayer) handle.
pub(crate) struct Engine {
    config: Config,
    store: Arc<dyn Store>,
    clock: Arc<Clock>,
    tags: Arc<TagClock>,
    stats: Counters,
    flights: Flights,
    backoff: Backoff,
    vary: VaryIndex,
    /// Keys whose last response could not be cached; their requests skip single-flight, so a
    /// dynamic route under load is not serialised behind one render (pingora's "predictor").
    uncacheable: moka::sync::Cache<Arc<str>, BypassReason, ahash::RandomState>,
    regenerations: Arc<Semaphore>,
    /// The downstream `Cache-Control` made last: most pages share a revalidate time, so most
    /// stored renders reuse it instead of formatting a new one.
    last_cache_control: std::sync::Mutex<Option<(Revalidate, HeaderValue)>>,
    store_trouble: StoreTrouble,
    invalidations: tokio::sync::broadcast::Sender<crate::invalidate::Invalidation>,
    /// The answers that bypassed the cache lately, for the inspector.
    #[cfg(feature = "inspector")]
    bypasses: BypassLog,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl Engine {
    pub(crate) fn new(config: Config, store: Arc<dyn Store>) -> Self {
        let uncacheable = moka::sync::Cache::builder()
            .max_capacity(100_000)
            .time_to_live(config.uncacheable_memory)
            .build_with_hasher(ahash::RandomState::new());
        Self {
            tags: Arc::new(TagClock::new(config.max_tag_stamps)),
            backoff: Backoff::new(config.retry_backoff.0, config.retry_backoff.1),
            regenerations: Arc::new(Semaphore::new(config.max_background_regenerations)),
            flights: Flights::default(),
            vary: VaryIndex::default(),
            clock: Arc::new(Clock::new()),
            stats: Counters::default(),
            uncacheable,
            last_cache_control: std::sync::Mutex::new(None),
            store_trouble: StoreTrouble::default(),
            invalidations: tokio::sync::broadcast::channel(1024).0,
            #[cfg(feature = "inspector")]
            bypasses: BypassLog::default(),
            store,
            config,
        }
    }

    /// The layer's configuration.
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// The clock every stamp and age is read from.
    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The counters so far, and what the store and the tag clock hold.
    pub(crate) fn stats(&self) -> crate::IsrStats {
        self.stats.snapshot(self.store.usage(), self.tags.len())
    }

    /// The answers that bypassed the cache lately, by route (or path) and reason, most
    /// recently seen first.
    #[cfg(feature = "inspector")]
    pub(crate) fn recent_bypasses(&self) -> Vec<BypassRecord> {
        self.bypasses.recent()
    }

    /// Which store keeps the entries, and whether it answers.
    pub(crate) fn store_status(&self) -> crate::store::StoreStatus {
        self.store.status()
    }

    /// How `entry` stands at `now`: invalidations first, then its revalidate time.
    pub(crate) fn freshness(&self, entry: &Entry, now: Micros) -> EntryState {
        match self.tags.state(entry) {
            EntryState::Fresh if !entry.is_fresh_at_micros(now) => EntryState::Stale,
            state => state,
        }
    }

    /// The key to look up for a request: the primary key, or the variant key when responses
    /// for this primary key named headers in `Vary`.
    pub(crate) fn lookup_key<'k>(
        &self,
        primary: &'k str,
        query: Option<&str>,
        headers: &http::HeaderMap,
    ) -> std::borrow::Cow<'k, str> {
        self.vary.lookup_key(primary, query, headers)
    }

    /// What the page of `primary` is known to vary on; `None` when it does not vary.
    pub(crate) fn variance(&self, primary: &str) -> Option<Arc<Variance>> {
        self.vary.variance(primary)
    }

    pub(crate) fn learn_vary(&self, primary: &Arc<str>, variance: Option<Arc<Variance>>) {
        self.vary.learn(primary, variance);
    }

    /// Starts or joins the render of `key`.
    pub(crate) fn join_flight(&self, key: &Arc<str>) -> Join {
        self.flights.join(key)
    }

    /// Leads the render of `key` only if nobody else is rendering it.
    pub(crate) fn try_lead_flight(&self, key: &Arc<str>) -> Option<FlightGuard> {
        self.flights.try_lead(key)
    }

    /// Whether regenerations of `entry` failed recently and the next retry is not due yet.
    pub(crate) fn is_backing_off(&self, entry: &Entry) -> bool {
        entry.failures.is_backing_off(self.clock.now())
    }

    /// A permit for one background regeneration, if the bound allows one more.
    pub(crate) fn regeneration_permit(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let permit = Arc::clone(&self.regenerations).try_acquire_owned().ok();
        if permit.is_none() {
            self.stats.inc_regenerations_deferred();
        }
        permit
    }

    /// The downstream `Cache-Control` for `revalidate` (see [`admit::downstream_cache_control`]).
    pub(crate) fn downstream_cache_control(
        &self,
        revalidate: Revalidate,
        window: Duration,
    ) -> HeaderValue {
        let mut last = self
            .last_cache_control
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((made_for, value)) = &*last
            && *made_for == revalidate
        {
            return value.clone();
        }
        let value = admit::downstream_cache_control(revalidate, window);
        *last = Some((revalidate, value.clone()));
        value
    }

    pub(crate) fn is_known_uncacheable(&self, key: &str) -> bool {
        self.uncacheable.contains_key(key)
    }

    /// Why the last response for `key` could not be cached, if it is remembered.
    pub(crate) fn uncacheable_reason(&self, key: &str) -> Option<BypassReason> {
        self.uncacheable.get(key)
    }

    pub(crate) fn remember_uncacheable(&self, key: &Arc<str>, reason: BypassReason) {
        self.uncacheable.insert(Arc::clone(key), reason);
    }

    /// Stores a freshly rendered entry. Store failures are logged, never returned: the entry
    /// is still served to everyone waiting for this render.
    ///
    /// A render that started before the one already stored for the key (a leader whose waiters
    /// gave up and rendered for themselves, then landed last) does not replace it: the newer
    /// render stays, and is what this one hands to its waiters.
    pub(crate) async fn commit(&self, primary: &Arc<str>, entry: &Arc<Entry>) -> Arc<Entry> {
        self.uncacheable.invalidate(&**primary);
        if let Some(current) = self.store.get_local(&entry.key)
            && current.rendered_at > entry.rendered_at
        {
            tracing::debug!(target: "isr", key = %entry.key, "a newer render is stored already; this older one is not kept");
            return current;
        }
        if let Err(error) = self.store.put(Arc::clone(entry)).await {
            self.store_failed(
                &entry.key,
                &error,
                "store write failed; the page is served but not kept",
            );
        }
        self.stats.record_usage(self.store.usage());
        Arc::clone(entry)
    }

    /// A stored render: kept in the store and handed to the visitors waiting for it.
    pub(crate) async fn land_stored(
        &self,
        primary: &Arc<str>,
        guard: Option<FlightGuard>,
        entry: &Arc<Entry>,
    ) {
        let kept = self.commit(primary, entry).await;
        if let Some(guard) = guard {
            guard.land(Landing::Entry(kept));
        }
    }

    /// A render that cannot be cached: the key is remembered as uncacheable (unless only this
    /// visitor's request kept it out: `Authorization`, a path spelled differently), the entry
    /// it was to replace is removed (unless only the spelling kept it out), and the visitors
    /// waiting for it render for themselves.
    pub(crate) async fn land_passed(
        &self,
        primary: &Arc<str>,
        guard: Option<FlightGuard>,
        replaces: Option<&Entry>,
        reason: BypassReason,
    ) {
        // Only this visitor's request kept the page out: the page itself stays cacheable.
        let visitor_only = matches!(
            reason,
            BypassReason::Authorization | BypassReason::NonCanonicalPath
        );
        if !visitor_only {
            self.remember_uncacheable(primary, reason);
        }
        if let Some(old) = replaces
            && reason != BypassReason::NonCanonicalPath
        {
            self.discard(&old.key).await;
        }
        if let Some(guard) = guard {
            guard.land(Landing::Nothing);
        }
    }

    /// Gives back the shared store's render lock of `lookup`.
    pub(crate) async fn release_lock(&self, lookup: &str, token: LockToken) {
        // A token comes from the store's lock, so the store has one.
        let Some(lock) = self.store.render_lock() else {
            return;
        };
        if let Err(error) = lock.unlock(lookup, token).await {
            self.store_failed(
                lookup,
                &error,
                "store unlock failed; the lock expires by itself",
            );
        }
    }

    /// Counts a failed store operation and logs it, at WARN at most once a second (see
    /// [`StoreTrouble`]): `consequence` says what failed and what the engine does instead.
    pub(crate) fn store_failed(
        &self,
        key: &str,
        error: &dyn fmt::Display,
        consequence: &'static str,
    ) {
        self.stats.inc_store_errors();
        self.store_trouble
            .report(self.clock.now(), key, error, consequence);
    }

    /// Removes an entry whose page is no longer cacheable.
    pub(crate) async fn discard(&self, key: &str) {
        if let Err(error) = self.store.remove(key).await {
            self.store_failed(key, &error, "store remove failed");
        }
        self.stats.record_usage(self.store.usage());
    }

    /// Counts and logs how one request was answered.
    pub(crate) fn trace_request(
        &self,
        status: CacheStatus,
        key: &str,
        route: Option<&str>,
        reason: Option<&dyn fmt::Display>,
    ) {
        self.stats.count(status);
        #[cfg(feature = "inspector")]
        if status == CacheStatus::Bypass
            && let Some(reason) = reason
        {
            self.bypasses
                .record(route.unwrap_or(key), reason, self.clock.now());
        }
        let route = route.unwrap_or("-");
        if self.config.debug {
            match reason {
                Some(reason) => {
                    tracing::info!(target: "isr", cache = status.as_str(), key, route, %reason)
                }
                None => tracing::info!(target: "isr", cache = status.as_str(), key, route),
            }
        } else {
            match reason {
                Some(reason) => {
                    tracing::debug!(target: "isr", cache = status.as_str(), key, route, %reason)
                }
                None => tracing::debug!(target: "isr", cache = status.as_str(), key, route),
            }
        }
    }

    /// Counts and logs a failed render, and backs off the next retry of the entry it was to
    /// replace (a first render has none: its visitor gets the failure).
    pub(crate) fn render_failed(
        &self,
        key: &str,
        replacing: Option<&Entry>,
        why: &dyn fmt::Display,
    ) {
        self.stats.inc_failed_renders();
        let retry_in = replacing.map_or(Duration::ZERO, |old| {
            self.backoff.failed(&old.failures, self.clock.now())
        });
        tracing::warn!(
            target: "isr",
            key,
            reason = %why,
            retry_in_secs = retry_in.as_secs_f64(),
            "render failed; the last good page is kept"
        );
    }
}
