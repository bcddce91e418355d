//! Single-flight: one render per key, however many visitors ask for it.
//!
//! The first visitor of a key leads: it gets a [`FlightGuard`] that travels with the render task.
//! Everyone else waits on the flight's channel. The guard lands the flight when the render is
//! stored, and when dropped without landing (the render failed, panicked, timed out or its task
//! was cancelled) it lands "nothing", so no key is ever left locked and no waiter waits forever.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;

use crate::entry::Entry;

/// What a finished flight hands its waiters.
#[derive(Clone, Debug)]
pub(crate) enum Landing {
    /// The render was stored: serve this entry.
    Entry(Arc<Entry>),
    /// Nothing to share (failed, or not cacheable): waiters fall back to their own answer.
    Nothing,
}

type Slot = watch::Receiver<Option<Landing>>;

/// Renders in flight, by key.
#[derive(Clone, Debug, Default)]
pub(crate) struct Flights {
    map: Arc<Mutex<HashMap<Arc<str>, Slot, ahash::RandomState>>>,
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
        if let Some(rx) = map.get(key) {
            return Join::Wait(Waiter { rx: rx.clone() });
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

    fn lead_locked(
        &self,
        map: &mut HashMap<Arc<str>, Slot, ahash::RandomState>,
        key: &Arc<str>,
    ) -> FlightGuard {
        let (tx, rx) = watch::channel(None);
        map.insert(Arc::clone(key), rx);
        FlightGuard {
            flights: self.clone(),
            key: Arc::clone(key),
            tx,
            landed: false,
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
    rx: Slot,
}

impl Waiter {
    /// Waits for the flight to land. A closed channel (cannot happen while the guard's drop
    /// lands it) counts as nothing.
    pub(crate) async fn landing(mut self) -> Landing {
        match self.rx.wait_for(Option::is_some).await {
            Ok(value) => value.clone().unwrap_or(Landing::Nothing),
            Err(_) => Landing::Nothing,
        }
    }
}

/// The lead of one flight, owned by the render task.
#[derive(Debug)]
pub(crate) struct FlightGuard {
    flights: Flights,
    key: Arc<str>,
    tx: watch::Sender<Option<Landing>>,
    landed: bool,
}

impl FlightGuard {
    /// Lands the flight: waiters get `landing`, and the key is free again.
    pub(crate) fn land(mut self, landing: Landing) {
        self.finish(landing);
    }

    fn finish(&mut self, landing: Landing) {
        if self.landed {
            return;
        }
        self.landed = true;
        // Publish first, then free the key: a visitor arriving in between joins as a waiter
        // and sees the landing at once; one arriving after finds the stored entry.
        self.tx.send_replace(Some(landing));
        let mut map = self
            .flights
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if map
            .get(&self.key)
            .is_some_and(|rx| rx.same_channel(&self.tx.subscribe()))
        {
            map.remove(&self.key);
        }
    }
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        self.finish(Landing::Nothing);
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
}
