//! A real HTTP upstream API for data-cache tests: counts its calls, can fail on demand.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::Server;

#[derive(Default)]
struct UpstreamState {
    calls: AtomicUsize,
    fail: AtomicBool,
    prices: Mutex<HashMap<String, u64>>,
    traceparents: Mutex<Vec<String>>,
}

/// An upstream pricing API on an ephemeral port: `GET /prices/{slug}` answers the price as
/// text after 50 ms; unknown slugs get 404; `fail(true)` makes it answer 503.
#[derive(Clone)]
pub struct Upstream {
    state: Arc<UpstreamState>,
}

impl Upstream {
    /// Starts the upstream with the given prices.
    pub async fn start(prices: &[(&str, u64)]) -> (Self, Server) {
        let state = Arc::new(UpstreamState::default());
        {
            let mut map = state.prices.lock().unwrap();
            for (slug, price) in prices {
                map.insert((*slug).to_owned(), *price);
            }
        }
        let app = Router::new()
            .route("/prices/{slug}", get(price))
            .with_state(Arc::clone(&state));
        (Self { state }, Server::start(app).await)
    }

    /// Calls answered so far.
    pub fn calls(&self) -> usize {
        self.state.calls.load(Ordering::SeqCst)
    }

    /// Makes every call fail (503) or succeed again.
    pub fn fail(&self, fail: bool) {
        self.state.fail.store(fail, Ordering::SeqCst);
    }

    /// Changes a price.
    pub fn set_price(&self, slug: &str, price: u64) {
        self.state
            .prices
            .lock()
            .unwrap()
            .insert(slug.to_owned(), price);
    }

    /// The `traceparent` headers seen.
    pub fn traceparents(&self) -> Vec<String> {
        self.state.traceparents.lock().unwrap().clone()
    }
}

async fn price(
    State(state): State<Arc<UpstreamState>>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Response {
    state.calls.fetch_add(1, Ordering::SeqCst);
    if let Some(tp) = headers.get("traceparent").and_then(|v| v.to_str().ok()) {
        state.traceparents.lock().unwrap().push(tp.to_owned());
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    if state.fail.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "upstream down").into_response();
    }
    let price = state.prices.lock().unwrap().get(&slug).copied();
    match price {
        Some(p) => p.to_string().into_response(),
        None => (StatusCode::NOT_FOUND, "no such product").into_response(),
    }
}
