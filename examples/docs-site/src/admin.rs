//! Admin calls that change content and revalidate what shows it (the handbook's
//! `updateProductPrice` and "guide #81"). The logic is framework-agnostic: the axum app here and
//! the actix example call the same [`Admin`] methods and send the [`Reply`] they give.

use std::time::SystemTime;

use http::{HeaderMap, StatusCode};
use isr_layer::purge::PurgeAuth;
use isr_layer::{Revalidator, invalidate::InvalidationMode, invalidate::PathScope};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::content::{Content, Guide};

/// A status and a JSON body.
pub type Reply = (StatusCode, Value);

fn error(status: StatusCode, message: &str) -> Reply {
    (status, json!({ "error": message }))
}

/// Checks the admin secret (`Authorization: Bearer` or `x-revalidate-secret`).
pub fn authorized(auth: &PurgeAuth, headers: &HeaderMap) -> bool {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let header = headers
        .get(isr_layer::purge::SECRET_HEADER)
        .and_then(|v| v.to_str().ok());
    bearer.or(header).is_some_and(|given| auth.verify(given))
}

/// A JSON body, or a `400` saying what is wrong with it.
fn parse<'a, T: Deserialize<'a>>(headers: &HeaderMap, body: &'a [u8]) -> Result<T, Reply> {
    if !isr_layer::purge::is_json(headers) {
        return Err(error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected Content-Type: application/json",
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("malformed JSON: {e}")))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceChange {
    price: f64,
}

/// The admin calls of one site: its content, its cache's revalidator and its secret.
#[derive(Clone, Debug)]
pub struct Admin {
    /// The content the calls change.
    pub content: Content,
    /// What the calls revalidate through.
    pub revalidator: Revalidator,
    /// The secret the calls must carry.
    pub auth: PurgeAuth,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewGuide {
    slug: String,
    title: String,
    #[serde(default)]
    body: String,
}

impl Admin {
    /// `PATCH /api/products/{slug}` with `{"price": 79.5}`: changes the price, then revalidates
    /// the tag `product-{slug}` (the product page and the home page that features it).
    pub async fn update_price(&self, headers: &HeaderMap, slug: &str, body: &[u8]) -> Reply {
        if !authorized(&self.auth, headers) {
            return error(StatusCode::UNAUTHORIZED, "Unauthorized");
        }
        let change: PriceChange = match parse(headers, body) {
            Ok(change) => change,
            Err(reply) => return reply,
        };
        if !change.price.is_finite() || change.price < 0.0 || change.price > 1e9 {
            return error(
                StatusCode::BAD_REQUEST,
                "price must be a number from 0 to 1000000000",
            );
        }
        let cents = (change.price * 100.0).round() as u64;
        if !self.content.set_price(slug, cents) {
            return error(StatusCode::NOT_FOUND, "no such product");
        }
        let tag = format!("product-{slug}");
        match self.revalidator.revalidate_tag(&tag).await {
            Ok(_) => (
                StatusCode::OK,
                json!({ "updated": slug, "price_cents": cents, "revalidated": [tag] }),
            ),
            Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
        }
    }

    /// `POST /api/guides` with `{"slug": "...", "title": "...", "body": "..."}` (the body in
    /// Markdown): publishes a guide, then revalidates the `/docs` layout (every guide page lists
    /// the guides in its sidebar; this also refreshes a prerender list subscribed to it).
    pub async fn publish_guide(&self, headers: &HeaderMap, body: &[u8]) -> Reply {
        if !authorized(&self.auth, headers) {
            return error(StatusCode::UNAUTHORIZED, "Unauthorized");
        }
        let new: NewGuide = match parse(headers, body) {
            Ok(new) => new,
            Err(reply) => return reply,
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
        self.content.put_guide(Guide {
            slug: new.slug.clone(),
            title: new.title,
            body: new.body,
            updated: SystemTime::now(),
        });
        let revalidated = self
            .revalidator
            .revalidate_path_scoped("/docs", PathScope::Layout, InvalidationMode::Expire)
            .await;
        match revalidated {
            Ok(_) => (
                StatusCode::CREATED,
                json!({ "published": format!("/docs/{}", new.slug), "revalidated": "/docs" }),
            ),
            Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
        }
    }
}
