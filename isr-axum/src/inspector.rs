//! The cache inspector on an axum [`Router`] (see [`isr_layer::inspector`]).

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::any;
pub use isr_layer::inspector::{Inspector, InspectorError};

use crate::purge::read_body;

/// The inspector's routes (its page and actions under [`Inspector::path`]), to `.merge` into
/// an app beside the cache, not under it.
///
/// ```
/// use axum::{Router, routing::get};
/// use isr_axum::{Inspector, IsrLayer, PurgeAuth, inspector_router};
///
/// let isr = IsrLayer::new();
/// let auth = PurgeAuth::new("a-long-random-secret").unwrap();
/// let inspector = Inspector::new("/_isr", isr.revalidator(), auth).unwrap();
/// let app: Router = Router::new()
///     .route("/", get(|| async { "home" }))
///     .layer(isr)
///     .merge(inspector_router(inspector));
/// ```
pub fn inspector_router<S>(inspector: Inspector) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let base = inspector.path();
    let router = Router::new();
    let router = if base.is_empty() {
        router
            .route("/", any(dispatch))
            .route("/{*action}", any(dispatch))
    } else {
        // The page with and without its trailing `/`, and the actions under it.
        router
            .route(base, any(dispatch))
            .route(&format!("{base}/"), any(dispatch))
            .route(&format!("{base}/{{*action}}"), any(dispatch))
    };
    router.with_state(inspector)
}

async fn dispatch(State(inspector): State<Inspector>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let reply = inspector
        .answer(&parts.method, &parts.uri, &parts.headers, |limit| {
            read_body(body, limit)
        })
        .await;
    let mut response = Response::new(Body::from(reply.body));
    *response.status_mut() = reply.status;
    *response.headers_mut() = reply.headers;
    response
}
