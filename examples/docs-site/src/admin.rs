//! Admin calls that change content and revalidate what shows it (the handbook's
//! `updateProductPrice` and "guide #81").

use std::time::SystemTime;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use isr_axum::{InvalidationMode, PathScope};
use serde::Deserialize;
use serde_json::json;

use crate::Site;
use crate::content::Guide;

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// Checks the admin secret (`Authorization: Bearer` or `x-revalidate-secret`).
fn authorized(site: &Site, headers: &HeaderMap) -> bool {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let header = headers
        .get(isr_axum::SECRET_HEADER)
        .and_then(|v| v.to_str().ok());
    bearer
        .or(header)
        .is_some_and(|given| site.auth.verify(given))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PriceChange {
    price: f64,
}

/// `PATCH /api/products/{slug}` with `{"price": 79.5}`: changes the price, then revalidates
/// the tag `product-{slug}` (the product page and the home page that features it).
pub(crate) async fn update_price(
    State(site): State<Site>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Result<Json<PriceChange>, JsonRejection>,
) -> Response {
    if !authorized(&site, &headers) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let Json(change) = match body {
        Ok(body) => body,
        Err(rejection) => return error(StatusCode::BAD_REQUEST, &rejection.body_text()),
    };
    if !change.price.is_finite() || change.price < 0.0 || change.price > 1e9 {
        return error(
            StatusCode::BAD_REQUEST,
            "price must be a number from 0 to 1000000000",
        );
    }
    let cents = (change.price * 100.0).round() as u64;
    if !site.content.set_price(&slug, cents) {
        return error(StatusCode::NOT_FOUND, "no such product");
    }
    let tag = format!("product-{slug}");
    match site.isr.revalidator().revalidate_tag(&tag).await {
        Ok(_) => Json(json!({ "updated": slug, "price_cents": cents, "revalidated": [tag] }))
            .into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewGuide {
    slug: String,
    title: String,
    #[serde(default)]
    body: String,
}

/// `POST /api/guides` with `{"slug": "...", "title": "...", "body": "..."}`: publishes a guide,
/// then revalidates the `/docs` layout (which also refreshes the prerender list).
pub(crate) async fn publish_guide(
    State(site): State<Site>,
    headers: HeaderMap,
    body: Result<Json<NewGuide>, JsonRejection>,
) -> Response {
    if !authorized(&site, &headers) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let Json(new) = match body {
        Ok(body) => body,
        Err(rejection) => return error(StatusCode::BAD_REQUEST, &rejection.body_text()),
    };
    let slug_ok = !new.slug.is_empty()
        && new.slug.len() <= 100
        && new
            .slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !slug_ok {
        return error(
            StatusCode::BAD_REQUEST,
            "slug must be 1 to 100 characters of a-z, 0-9 and '-'",
        );
    }
    if new.title.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "title must not be empty");
    }
    site.content.put_guide(Guide {
        slug: new.slug.clone(),
        title: new.title,
        body: new.body,
        updated: SystemTime::now(),
    });
    let revalidated = site
        .isr
        .revalidator()
        .revalidate_path_scoped("/docs", PathScope::Layout, InvalidationMode::Expire)
        .await;
    match revalidated {
        Ok(_) => (
            StatusCode::CREATED,
            Json(json!({ "published": format!("/docs/{}", new.slug), "revalidated": "/docs" })),
        )
            .into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

/// `GET /api/render-audit`: renders per page per second so far (behind the admin secret).
pub(crate) async fn render_audit(State(site): State<Site>, headers: HeaderMap) -> Response {
    if !authorized(&site, &headers) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    Json(site.audit.report()).into_response()
}
