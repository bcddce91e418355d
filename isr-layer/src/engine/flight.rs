//! Single-flight: one render per key, however many visitors ask for it.
//!
//! The first visitor of a key leads: it gets a [`FlightGuard`] that travels with the render task.
//! Everyone else waits for the flight to land. The guard lands the flight when the render is
//! stored, and when dropped without landing (the render failed, panicked, timed out or its task
//! was cancelled) it lands "nothing", so no key is ever left locked and no waiter waits forever.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tokio::sync::Notify;

use crate::entry::Entry;

/// What a finished flight hands its waiters.
#[derive(Clone, Debug)]
pub(crate) enum Landing {
    /// The render was stored: serve this entry.
    Entry(Arc<Entry>),
    /// Nothing to share (failed, or not cacheable): waiters fall back to their own answer.
    Nothing,
}

/// One render in flight: set once by its guard, awaited by everyone else.
#[derive(Debug, Default)]
struct Flight {
    landing: OnceLock<Landing>,
    landed: Notify,
}

type FlightMap = HashMap<Arc<str>, Arc<Flight>, ahash::RandomState>;

/// Renders in flight, by key.
#[derive(Clone, Debug, Default)]
pub(crate) struct Flights {
    map: Arc<Mutex<FlightMap>>,
}

/// Joining a flight: lead the render, or wait for someone else's.
#[derive(Debug)]
pub(crate) enum Join {
    Lead(FlightGuard),
    Wait(Waiter),
}

impl Flights {
    pub(crate) fn join(&self, key: &Arc<str>) -> Join {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(flight) = map.get(key) {
            return Join::Wait(Waiter {
                flight: Arc::clone(flight),
            });
        }
        Join::Lead(self.lead_locked(&mut map, key))
    }

    pub(crate) fn try_lead(&self, key: &Arc<str>) -> Option<FlightGuard> {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.contains_key(key) {
            return None;
        }
        Some(self.lead_locked(&mut map, key))
    }

    fn lead_locked(&self, map: &mut FlightMap, key: &Arc<str>) -> FlightGuard {
        let flight = Arc::new(Flight::default());
        map.insert(Arc::clone(key), Arc::clone(&flight));
        FlightGuard {
            flights: self.clone(),
            key: Arc::clone(key),
            flight,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.map.lock().unwrap().len()
    }
}

/// A visitor waiting for someone else's render.
#[derive(Debug)]
pub(crate) struct Waiter {
    flight: Arc<Flight>,
}

impl Waiter {
    /// Waits for the flight to land (the guard lands it when dropped, whatever happened).
    pub(crate) async fn landing(self) -> Landing {
        let flight = &*self.flight;
        let notified = flight.landed.notified();
        tokio::pin!(notified);
        loop {
            // Registered before the check, so a landing in between still wakes this waiter.
            notified.as_mut().enable();
            if let Some(landing) = flight.landing.get() {
                return landing.clone();
            }
            notified.as_mut().await;
            notified.set(flight.landed.notified());
        }
    }
}

/// The lead of one flight, owned by the render task.
#[derive(Debug)]
pub(crate) struct FlightGuard {
    flights: Flights,
    key: Arc<str>,
    flight: Arc<Flight>,
}

impl FlightGuard {
    /// Lands the flight: waiters get `landing`, and the key is free again.
    pub(crate) fn land(self, landing: Landing) {
        // The rest happens in `drop`, which also lands a guard dropped without a landing.
        let _ = self.flight.landing.set(landing);
    }
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        // Publish first, then free the key: a visitor arriving in between joins as a waiter
        // and sees the landing at once; one arriving after finds the stored entry.
        let _ = self.flight.landing.set(Landing::Nothing);
        self.flight.landed.notify_waiters();
        let mut map = self
            .flights
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if map
            .get(&self.key)
            .is_some_and(|flight| Arc::ptr_eq(flight, &self.flight))
        {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_dropped_guard_releases_the_key_and_its_waiters() {
        let flights = Flights::default();
        let key: Arc<str> = Arc::from("/a");
        let Join::Lead(guard) = flights.join(&key) else {
            panic!("first joins lead")
        };
        let Join::Wait(waiter) = flights.join(&key) else {
            panic!("second joins wait")
        };
        assert!(flights.try_lead(&key).is_none());
        drop(guard);
        assert!(matches!(waiter.landing().await, Landing::Nothing));
        assert_eq!(flights.len(), 0);
        assert!(flights.try_lead(&key).is_some());
    }

    #[tokio::test]
    async fn waiters_get_the_landed_entry_whenever_they_began_to_wait() {
        let flights = Flights::default();
        let key: Arc<str> = Arc::from("/a");
        let Join::Lead(guard) = flights.join(&key) else {
            panic!("first joins lead")
        };
        let Join::Wait(early) = flights.join(&key) else {
            panic!("second joins wait")
        };
        let early = tokio::spawn(early.landing());
        // The early waiter parks before the landing; the late one only checks after it.
        tokio::task::yield_now().await;
        let Join::Wait(late) = flights.join(&key) else {
            panic!("third joins wait")
        };
        let entry = Arc::new(Entry::fetched(
            Arc::clone(&key),
            http::StatusCode::OK,
            http::HeaderMap::new(),
            bytes::Bytes::from_static(b"page"),
            0,
            0,
            crate::Revalidate::Never,
            Box::default(),
        ));
        guard.land(Landing::Entry(Arc::clone(&entry)));
        for landing in [early.await.unwrap(), late.landing().await] {
            assert!(matches!(landing, Landing::Entry(landed) if Arc::ptr_eq(&landed, &entry)));
        }
        assert_eq!(flights.len(), 0);
    }
}
