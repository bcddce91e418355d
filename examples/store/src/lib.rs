//! A small shop whose pages fetch from an upstream HTTP API through the data cache.
//!
//! - `GET /` — every product with its price: one list fetch (tag `all-products`) and one fetch
//!   per product (tag `product-{slug}`).
//! - `GET /products/{slug}` — one product: one fetch (tag `product-{slug}`, revalidate 300 s).
//! - `POST /admin/price` — `{"slug", "price_cents", "secret"}`: changes the price upstream and
//!   calls `revalidate_tag("product-{slug}")`.
//!
//! The pages never tag themselves: the tags and the revalidate of the fetches they make flow
//! into the page (the lowest revalidate wins), so purging a product's tag reaches its data
//! entry and every page that showed it.

pub mod upstream;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use isr_axum::{DataCacheLayer, FetchOptions, IsrLayer, PurgeAuth, Revalidate};
use serde::Deserialize;
use serde_json::json;
use tower::{Service, ServiceExt};

use crate::upstream::Product;

type HttpClient = isr_axum::DataCacheService<Client<HttpConnector, Full<Bytes>>>;

/// The shop: its cache, its HTTP client to the API (through the data cache), its secret.
#[derive(Clone)]
pub struct Shop {
    /// The ISR layer and handle.
    pub isr: IsrLayer,
    client: HttpClient,
    api: String,
    auth: PurgeAuth,
}

/// Why a fetch from the API failed.
#[derive(Debug)]
struct FetchError(String);

impl Shop {
    /// A shop fetching from the API at `api` (e.g. `http://127.0.0.1:3001`).
    pub fn new(api: &str, secret: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let isr = IsrLayer::builder()
            .revalidate(Revalidate::secs(3600))
            .build()?;
        let http = Client::builder(TokioExecutor::new()).build_http();
        let client = tower::Layer::layer(&DataCacheLayer::new(isr.data_cache()), http);
        Ok(Self {
            isr,
            client,
            api: api.trim_end_matches('/').to_owned(),
            auth: PurgeAuth::new(secret)?,
        })
    }

    /// Fetches JSON from the API through the data cache.
    async fn fetch<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        options: FetchOptions,
    ) -> Result<Option<T>, FetchError> {
        let mut request = axum::http::Request::get(format!("{}{path}", self.api))
            .body(Full::new(Bytes::new()))
            .map_err(|e| FetchError(e.to_string()))?;
        request.extensions_mut().insert(options);
        let response = self
            .client
            .clone()
            .oneshot(request)
            .await
            .map_err(|e| FetchError(e.to_string()))?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(FetchError(format!(
                "the API answered {}",
                response.status()
            )));
        }
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| FetchError(e.to_string()))?
            .to_bytes();
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| FetchError(e.to_string()))
    }

    async fn product(&self, slug: &str) -> Result<Option<Product>, FetchError> {
        let options = FetchOptions::revalidate(300).tags([format!("product-{slug}")]);
        self.fetch(&format!("/api/products/{slug}"), options).await
    }

    /// The shop's routes, under the ISR layer, with the admin webhook beside them.
    pub fn router(&self) -> Router {
        let pages = Router::new()
            .route("/", get(home))
            .route("/products/{slug}", get(product_page))
            .layer(self.isr.clone());
        pages
            .route("/admin/price", post(change_price))
            .with_state(self.clone())
    }

    async fn call_api(&self, slug: &str, price_cents: u64) -> Result<StatusCode, String> {
        let mut client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
        let request = axum::http::Request::put(format!("{}/api/products/{slug}/price", self.api))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(
                json!({ "price_cents": price_cents }).to_string(),
            )))
            .map_err(|e| e.to_string())?;
        let response = client
            .ready()
            .await
            .map_err(|e| e.to_string())?
            .call(request)
            .await
            .map_err(|e| e.to_string())?;
        Ok(response.status())
    }
}

fn price(cents: u64) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}

fn unavailable(e: FetchError) -> Response {
    (
        StatusCode::BAD_GATEWAY,
        format!("the product API failed: {}", e.0),
    )
        .into_response()
}

async fn home(State(shop): State<Shop>) -> Response {
    let slugs: Vec<String> = match shop
        .fetch(
            "/api/products",
            FetchOptions::revalidate(600).tags(["all-products"]),
        )
        .await
    {
        Ok(list) => list.unwrap_or_default(),
        Err(e) => return unavailable(e),
    };
    let mut items = String::new();
    for slug in slugs {
        match shop.product(&slug).await {
            Ok(Some(p)) => items.push_str(&format!(
                "<li><a href=\"/products/{}\">{}</a> — {}</li>\n",
                p.slug,
                p.name,
                price(p.price_cents)
            )),
            Ok(None) => {}
            Err(e) => return unavailable(e),
        }
    }
    Html(format!(
        "<!doctype html>\n<h1>Shop</h1>\n<ul>\n{items}</ul>\n"
    ))
    .into_response()
}

async fn product_page(State(shop): State<Shop>, Path(slug): Path<String>) -> Response {
    match shop.product(&slug).await {
        Ok(Some(p)) => Html(format!(
            "<!doctype html>\n<h1>{}</h1>\n<p>price: {}</p>\n",
            p.name,
            price(p.price_cents)
        ))
        .into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "no such product").into_response(),
        Err(e) => unavailable(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceWebhook {
    slug: String,
    price_cents: u64,
    secret: String,
}

/// `POST /admin/price`: the CMS changed a price.
async fn change_price(
    State(shop): State<Shop>,
    body: Result<Json<PriceWebhook>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(hook) = match body {
        Ok(body) => body,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": e.body_text() })),
            )
                .into_response();
        }
    };
    if !shop.auth.verify(&hook.secret) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "Unauthorized" })),
        )
            .into_response();
    }
    match shop.call_api(&hook.slug, hook.price_cents).await {
        Ok(StatusCode::NO_CONTENT) => {}
        Ok(StatusCode::NOT_FOUND) => {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({ "error": "no such product" })),
            )
                .into_response();
        }
        Ok(status) => {
            let error = format!("the product API answered {status}");
            return (StatusCode::BAD_GATEWAY, Json(json!({ "error": error }))).into_response();
        }
        Err(e) => return (StatusCode::BAD_GATEWAY, Json(json!({ "error": e }))).into_response(),
    }
    let tag = format!("product-{}", hook.slug);
    match shop.isr.revalidator().revalidate_tag(&tag).await {
        Ok(_) => Json(json!({ "revalidated": true, "tag": tag })).into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": e.to_string() })),
        )
            .into_response(),
    }
}
