//! The upstream product API the shop fetches from: a separate HTTP server.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

/// One product as the API serves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// URL slug.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Price in cents.
    pub price_cents: u64,
}

/// The API's data and call counters.
#[derive(Clone, Debug)]
pub struct Api {
    products: Arc<Mutex<BTreeMap<String, Product>>>,
    calls: Arc<Mutex<BTreeMap<String, u64>>>,
    total: Arc<AtomicU64>,
    latency: Duration,
}

impl Api {
    /// Four products, answering after `latency`.
    pub fn seeded(latency: Duration) -> Self {
        let products = [
            ("blue-sneakers", "Blue Sneakers", 8900),
            ("red-hat", "Red Hat", 2500),
            ("green-jacket", "Green Jacket", 12900),
            ("black-boots", "Black Boots", 15900),
        ]
        .into_iter()
        .map(|(slug, name, price_cents)| {
            (
                slug.to_owned(),
                Product {
                    slug: slug.to_owned(),
                    name: name.to_owned(),
                    price_cents,
                },
            )
        })
        .collect();
        Self {
            products: Arc::new(Mutex::new(products)),
            calls: Arc::new(Mutex::new(BTreeMap::new())),
            total: Arc::new(AtomicU64::new(0)),
            latency,
        }
    }

    /// Calls made to `path` so far (e.g. `/api/products/blue-sneakers`).
    pub fn calls(&self, path: &str) -> u64 {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// Calls made in all.
    pub fn total_calls(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    async fn count(&self, path: String) {
        self.total.fetch_add(1, Ordering::Relaxed);
        *self
            .calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(path)
            .or_default() += 1;
        tokio::time::sleep(self.latency).await;
    }

    /// The API's routes: `GET /api/products`, `GET /api/products/{slug}`,
    /// `PUT /api/products/{slug}/price` with `{"price_cents": n}`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/api/products", get(list))
            .route("/api/products/{slug}", get(one))
            .route("/api/products/{slug}/price", put(set_price))
            .with_state(self.clone())
    }
}

async fn list(State(api): State<Api>) -> Json<Vec<String>> {
    api.count("/api/products".to_owned()).await;
    let products = api.products.lock().unwrap_or_else(PoisonError::into_inner);
    Json(products.keys().cloned().collect())
}

async fn one(State(api): State<Api>, Path(slug): Path<String>) -> Response {
    api.count(format!("/api/products/{slug}")).await;
    let product = api
        .products
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&slug)
        .cloned();
    match product {
        Some(p) => Json(p).into_response(),
        None => (StatusCode::NOT_FOUND, "no such product").into_response(),
    }
}

#[derive(Deserialize)]
struct PriceChange {
    price_cents: u64,
}

async fn set_price(
    State(api): State<Api>,
    Path(slug): Path<String>,
    Json(change): Json<PriceChange>,
) -> StatusCode {
    let mut products = api.products.lock().unwrap_or_else(PoisonError::into_inner);
    match products.get_mut(&slug) {
        Some(p) => {
            p.price_cents = change.price_cents;
            StatusCode::NO_CONTENT
        }
        None => StatusCode::NOT_FOUND,
    }
}
