//! The purge router: on-demand revalidation over HTTP, for a CMS webhook.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use isr_layer::{
    InvalidationMode, Origin, PathScope, Revalidate, RevalidateError, Revalidation, Revalidator,
};
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

/// The largest purge request body accepted; larger bodies get `413`.
pub const MAX_PURGE_BODY: usize = 64 * 1024;

/// The header a secret may come in besides `Authorization: Bearer`.
pub const SECRET_HEADER: &str = "x-revalidate-secret";

/// The secret that guards the purge router.
///
/// Compared in constant time. An empty secret is refused when the router is built, so a
/// missing configuration never becomes an open door.
///
/// ```
/// use isr_axum::PurgeAuth;
///
/// let auth = PurgeAuth::new("s3cr3t-from-config").unwrap();
/// assert!(PurgeAuth::new("").is_err());
/// ```
#[derive(Clone)]
pub struct PurgeAuth {
    secret: Arc<[u8]>,
}

/// Why a [`PurgeAuth`] could not be made.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PurgeAuthError {
    /// The secret was empty (or only white space).
    #[error("the revalidation secret is empty: set a long random secret")]
    Empty,
    /// The environment variable was not set.
    #[error("environment variable {0} is not set")]
    Missing(String),
}

impl PurgeAuth {
    /// Guards the router with `secret`.
    pub fn new(secret: impl AsRef<str>) -> Result<Self, PurgeAuthError> {
        let secret = secret.as_ref();
        if secret.trim().is_empty() {
            return Err(PurgeAuthError::Empty);
        }
        Ok(Self {
            secret: Arc::from(secret.as_bytes()),
        })
    }

    /// Reads the secret from an environment variable, e.g. `REVALIDATION_SECRET`.
    pub fn from_env(var: &str) -> Result<Self, PurgeAuthError> {
        let secret = std::env::var(var).map_err(|_| PurgeAuthError::Missing(var.to_owned()))?;
        Self::new(secret)
    }

    /// Whether `given` is the secret, in constant time for secrets of the same length.
    pub fn verify(&self, given: &str) -> bool {
        bool::from(self.secret.ct_eq(given.as_bytes()))
    }
}

impl fmt::Debug for PurgeAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PurgeAuth").finish_non_exhaustive()
    }
}

#[derive(Clone)]
struct Purge {
    revalidator: Revalidator,
    auth: PurgeAuth,
}

/// The purge router, to `.nest` or `.merge` anywhere in an app.
///
/// - `POST` with a JSON body revalidates: `{"path": "/docs/a"}`, `{"path": "/docs", "type":
///   "layout"}`, `{"tag": "product-1"}` or `{"tags": ["a", "b"]}`, optionally with
///   `"mode": "stale"` (serve the old page while one regeneration runs, Next.js 16's `'max'`).
///   Answers `200 {"revalidated": true, "now": <unix ms>, ...}`.
/// - `GET` lists cached entries (`?limit=N`, default 100): key, route, status, age, revalidate,
///   state, tags, bytes.
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
    let purge = Purge {
        revalidator: revalidator.with_origin(Origin::PurgeRouter),
        auth,
    };
    Router::new()
        .route("/", any(dispatch))
        .with_state(purge)
        // Never cached by anything, even when mounted under an `IsrLayer` or behind a CDN.
        .layer(axum::middleware::map_response(
            |mut response: Response| async move {
                response.headers_mut().insert(
                    header::CACHE_CONTROL,
                    header::HeaderValue::from_static("no-store, private"),
                );
                response
            },
        ))
}

async fn dispatch(State(purge): State<Purge>, request: Request) -> Response {
    match *request.method() {
        Method::POST => revalidate(&purge, request).await,
        Method::GET => inspect(&purge, request),
        _ => {
            let mut response = error(
                StatusCode::METHOD_NOT_ALLOWED,
                "use POST to revalidate or GET to inspect",
            );
            response
                .headers_mut()
                .insert(header::ALLOW, header::HeaderValue::from_static("GET, POST"));
            response
        }
    }
}

/// The body of a purge request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PurgeRequest {
    path: Option<String>,
    #[serde(rename = "type")]
    scope: Option<String>,
    tag: Option<String>,
    tags: Option<Vec<String>>,
    mode: Option<String>,
    secret: Option<String>,
}

/// What a valid purge request revalidates.
enum Target {
    Path(String, PathScope),
    Tags(Vec<String>),
}

async fn revalidate(purge: &Purge, request: Request) -> Response {
    let header_secret = header_secret(request.headers());
    if let Some(given) = &header_secret
        && !purge.auth.verify(given)
    {
        return unauthorized();
    }
    if !is_json(request.headers()) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be JSON (Content-Type: application/json)",
        );
    }
    let body = match axum::body::to_bytes(request.into_body(), MAX_PURGE_BODY).await {
        Ok(body) => body,
        Err(_) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the body is larger than 64 KiB",
            );
        }
    };
    let parsed: PurgeRequest = match serde_json::from_slice(&body) {
        Ok(parsed) => parsed,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("malformed JSON: {e}")),
    };
    match (&header_secret, &parsed.secret) {
        (Some(_), _) => {} // checked above
        (None, Some(given)) if purge.auth.verify(given) => {}
        _ => return unauthorized(),
    }
    let (target, mode) = match validate(parsed) {
        Ok(valid) => valid,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let result = match &target {
        Target::Path(path, scope) => {
            purge
                .revalidator
                .revalidate_path_scoped(path, *scope, mode)
                .await
        }
        Target::Tags(tags) => revalidate_tags(&purge.revalidator, tags, mode).await,
    };
    match result {
        Ok(revalidation) => revalidated(&target, mode, revalidation),
        Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

async fn revalidate_tags(
    revalidator: &Revalidator,
    tags: &[String],
    mode: InvalidationMode,
) -> Result<Revalidation, RevalidateError> {
    if mode == InvalidationMode::Expire {
        return revalidator.revalidate_tags(tags).await;
    }
    let mut last = None;
    for tag in tags {
        last = Some(revalidator.revalidate_tag_with(tag, mode).await?);
    }
    last.ok_or(RevalidateError::EmptyTag)
}

fn validate(request: PurgeRequest) -> Result<(Target, InvalidationMode), String> {
    let mode = match request.mode.as_deref() {
        None | Some("expire") => InvalidationMode::Expire,
        Some("stale" | "max") => InvalidationMode::Stale,
        Some(other) => {
            return Err(format!(
                "unknown mode {other:?}: expected \"expire\" or \"stale\""
            ));
        }
    };
    let target = match (request.path, request.tag, request.tags) {
        (Some(path), None, None) => {
            if !path.starts_with('/') {
                return Err(format!("path must start with '/': {path:?}"));
            }
            let scope = match request.scope.as_deref() {
                None | Some("page") => PathScope::Page,
                Some("layout") => PathScope::Layout,
                Some(other) => {
                    return Err(format!(
                        "unknown type {other:?}: expected \"page\" or \"layout\""
                    ));
                }
            };
            Target::Path(path, scope)
        }
        (None, Some(tag), None) => Target::Tags(vec![tag]),
        (None, None, Some(tags)) if tags.is_empty() => {
            return Err("tags must not be empty".to_owned());
        }
        (None, None, Some(tags)) => Target::Tags(tags),
        (None, None, None) => {
            return Err("nothing to revalidate: give \"path\", \"tag\" or \"tags\"".to_owned());
        }
        _ => return Err("give only one of \"path\", \"tag\" or \"tags\"".to_owned()),
    };
    if request.scope.is_some() && !matches!(target, Target::Path(..)) {
        return Err("\"type\" goes with \"path\" only".to_owned());
    }
    if let Target::Tags(tags) = &target {
        for tag in tags {
            if tag.is_empty() {
                return Err(RevalidateError::EmptyTag.to_string());
            }
            if tag.len() > isr_layer::MAX_TAG_LEN {
                // By characters, not bytes: a byte index could fall inside one.
                let start: String = tag.chars().take(32).collect();
                return Err(format!("{}: {start:?}…", RevalidateError::TagTooLong));
            }
        }
    }
    Ok((target, mode))
}

fn revalidated(target: &Target, mode: InvalidationMode, revalidation: Revalidation) -> Response {
    let mut body = json!({
        "revalidated": true,
        "now": unix_ms(SystemTime::now()),
        "at": unix_ms(revalidation.at),
        "mode": match mode { InvalidationMode::Stale => "stale", _ => "expire" },
        "affected": revalidation.affected,
    });
    match target {
        Target::Path(path, scope) => {
            body["path"] = json!(path);
            body["type"] = json!(match scope {
                PathScope::Layout => "layout",
                _ => "page",
            });
        }
        Target::Tags(tags) => body["tags"] = json!(tags),
    }
    (StatusCode::OK, axum::Json(body)).into_response()
}

#[derive(Debug, Deserialize)]
struct InspectQuery {
    limit: Option<usize>,
    secret: Option<String>,
}

fn inspect(purge: &Purge, request: Request) -> Response {
    let query = match Query::<InspectQuery>::try_from_uri(request.uri()) {
        Ok(Query(query)) => query,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("bad query: {e}")),
    };
    let given = header_secret(request.headers()).or(query.secret);
    if !given.is_some_and(|g| purge.auth.verify(&g)) {
        return unauthorized();
    }
    let limit = query.limit.unwrap_or(100).min(10_000);
    let entries: Vec<Value> = purge
        .revalidator
        .inspect(limit)
        .into_iter()
        .map(|summary| {
            let entry = &summary.entry;
            json!({
                "key": entry.key(),
                "route": entry.route(),
                "status": entry.status().as_u16(),
                "age": summary.age.as_secs(),
                "revalidate": match entry.revalidate() {
                    Revalidate::After(d) => json!(d.as_secs()),
                    Revalidate::Never => json!(false),
                    Revalidate::Dynamic => json!(0),
                },
                "state": summary.state.as_str(),
                "tags": entry.tags().collect::<Vec<_>>(),
                "bytes": summary.bytes,
            })
        })
        .collect();
    axum::Json(json!({ "count": entries.len(), "entries": entries })).into_response()
}

fn header_secret(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers.get(SECRET_HEADER) {
        return Some(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim();
            mime.eq_ignore_ascii_case("application/json")
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({ "error": "Unauthorized" })),
    )
        .into_response()
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_secret_verifies() {
        let auth = PurgeAuth::new("correct horse").unwrap();
        assert!(auth.verify("correct horse"));
        for wrong in [
            "",
            "correct",
            "correct horse ",
            "Correct horse",
            "correct horsf",
        ] {
            assert!(!auth.verify(wrong), "{wrong:?}");
        }
    }

    #[test]
    fn the_secret_is_never_printed() {
        let auth = PurgeAuth::new("do-not-log-me").unwrap();
        assert!(!format!("{auth:?}").contains("do-not-log-me"));
    }

    #[test]
    fn secrets_come_from_bearer_or_the_secret_header() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "bearer abc".parse().unwrap());
        assert_eq!(header_secret(&headers).as_deref(), Some("abc"));
        headers.insert(SECRET_HEADER, "xyz".parse().unwrap());
        assert_eq!(header_secret(&headers).as_deref(), Some("xyz"));
        let mut basic = HeaderMap::new();
        basic.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(header_secret(&basic), None);
    }
}
