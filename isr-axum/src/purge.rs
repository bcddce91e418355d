//! The purge router: on-demand revalidation over HTTP, for a CMS webhook.
//!
//! The protocol is [`isr_layer::purge`]'s, shared with the actix scope; this module mounts it on
//! an axum [`Router`].

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::any;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use isr_layer::Revalidator;
use isr_layer::purge::{BodyError, PurgeEndpoint};
pub use isr_layer::purge::{MAX_PURGE_BODY, PurgeAuth, PurgeAuthError, SECRET_HEADER};

/// The purge router, to `.nest` or `.merge` anywhere in an app.
///
/// - `POST` with a JSON body revalidates: `{"path": "/docs/a"}`, `{"path": "/docs", "type":
///   "layout"}`, `{"tag": "product-1"}` or `{"tags": ["a", "b"]}`, optionally with
///   `"mode": "stale"` (serve the old page while one regeneration runs, Next.js 16's `'max'`).
///   Answers `200 {"revalidated": true, "now": <unix ms>, ...}`.
/// - `GET` lists cached entries (`?limit=N`, default 100): key, route, status, age, revalidate,
///   state, tags, bytes; `?state=`, `?tag=`, `?route=` and `?sort=` filter and order the list,
///   and `?view=stats` answers the cache's counters (see [`isr_layer::purge`]).
///
/// The secret may come as the JSON field `secret`, as `Authorization: Bearer <secret>`, as the
/// header `x-revalidate-secret`, or (for `GET`) as the query parameter `secret`. Errors:
/// `401 {"error":"Unauthorized"}` for a missing or wrong secret, `400` with a message for
/// malformed JSON or a bad target, `413` for a body over 64 KiB, `415` for a body that is not
/// JSON, `405` for other methods.
///
/// ```
/// use axum::{Router, routing::get};
/// use isr_axum::{IsrLayer, PurgeAuth, purge_router};
///
/// let isr = IsrLayer::new();
/// let auth = PurgeAuth::new("a-long-random-secret").unwrap();
/// let app: Router = Router::new()
///     .route("/", get(|| async { "home" }))
///     .layer(isr.clone())
///     .nest("/api/revalidate", purge_router(isr.revalidator(), auth));
/// ```
pub fn purge_router<S>(revalidator: Revalidator, auth: PurgeAuth) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/", any(dispatch))
        .with_state(PurgeEndpoint::new(revalidator, auth))
}

async fn dispatch(State(endpoint): State<PurgeEndpoint>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    // Under the cache, the query (`secret`, `limit`) is not sent to renders: take it back.
    let uri = isr_layer::adapter::visitor_uri(&parts.uri, parts.extensions.get());
    let reply = endpoint
        .answer(&parts.method, &uri, &parts.headers, |limit| {
            read_body(body, limit)
        })
        .await;
    let mut response = Response::new(Body::from(reply.body_bytes()));
    *response.status_mut() = reply.status;
    *response.headers_mut() = reply.all_headers();
    response
}

/// Reads a request body of at most `limit` bytes.
pub(crate) async fn read_body(body: Body, limit: usize) -> Result<bytes::Bytes, BodyError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(BodyError::TooLarge),
        Err(_) => Err(BodyError::Broken),
    }
}
