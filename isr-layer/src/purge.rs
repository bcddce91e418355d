//! The purge endpoint's protocol, shared by the axum router and the actix scope: on-demand
//! revalidation over HTTP, for a CMS webhook.
//!
//! [`PurgeEndpoint::answer`] takes a request's method, URI and headers and a way to read its
//! body, and gives the [`PurgeReply`] to send. The frameworks' routers only translate, so both
//! answer the same JSON with the same status codes:
//!
//! - `POST` with a JSON body revalidates: `{"path": "/docs/a"}`, `{"path": "/docs", "type":
//!   "layout"}`, `{"tag": "product-1"}` or `{"tags": ["a", "b"]}`, optionally with
//!   `"mode": "stale"` (serve the old page while one regeneration runs, Next.js 16's `'max'`).
//!   Answers `200 {"revalidated": true, "now": <unix ms>, ...}`.
//! - `GET` lists cached entries (`?limit=N`, default 100): key, route, status, age, revalidate,
//!   state, tags, bytes.
//!
//! The secret may come as the JSON field `secret`, as `Authorization: Bearer <secret>`, as the
//! header `x-revalidate-secret`, or (for `GET`) as the query parameter `secret`. Errors:
//! `401 {"error":"Unauthorized"}` for a missing or wrong secret, `400` with a message for
//! malformed JSON or a bad target, `413` for a body over 64 KiB, `415` for a body that is not
//! JSON, `405` for other methods. Every answer carries `Cache-Control: no-store, private`.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, StatusCode, Uri};
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::invalidate::{
    InvalidationMode, Origin, PathScope, RevalidateError, Revalidation, validate_tag,
};
use crate::{Revalidate, Revalidator};

/// The largest purge request body accepted; larger bodies get `413`.
pub const MAX_PURGE_BODY: usize = 64 * 1024;

/// The header a secret may come in besides `Authorization: Bearer`.
pub const SECRET_HEADER: &str = "x-revalidate-secret";

/// The secret that guards the purge endpoint.
///
/// Compared in constant time. An empty secret is refused when the endpoint is built, so a
/// missing configuration never becomes an open door.
///
/// ```
/// use isr_layer::purge::PurgeAuth;
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
    /// Guards the endpoint with `secret`.
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

/// Why a purge request's body could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// Larger than the limit given to the reader.
    #[error("the body is larger than the limit")]
    TooLarge,
    /// The connection failed while the body was read.
    #[error("the body could not be read")]
    Broken,
}

/// The answer to a purge request: a status, a JSON body and extra headers.
#[derive(Clone, Debug)]
pub struct PurgeReply {
    /// The status code.
    pub status: StatusCode,
    /// The JSON body.
    pub body: Value,
    /// Headers to send besides `Content-Type: application/json` and
    /// `Cache-Control: no-store, private` (e.g. `Allow` with a `405`).
    pub headers: HeaderMap,
}

impl PurgeReply {
    fn new(status: StatusCode, body: Value) -> Self {
        Self {
            status,
            body,
            headers: HeaderMap::new(),
        }
    }

    fn error(status: StatusCode, message: &str) -> Self {
        Self::new(status, json!({ "error": message }))
    }

    fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, json!({ "error": "Unauthorized" }))
    }

    /// The body as bytes.
    pub fn body_bytes(&self) -> Bytes {
        Bytes::from(self.body.to_string())
    }

    /// All headers of the answer: the extra ones, the content type and `no-store`.
    pub fn all_headers(&self) -> HeaderMap {
        let mut headers = self.headers.clone();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        // Never cached by anything, even when mounted under the cache or behind a CDN.
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store, private"),
        );
        headers
    }
}

/// The purge endpoint of one cache: its revalidator and secret.
#[derive(Clone, Debug)]
pub struct PurgeEndpoint {
    revalidator: Revalidator,
    auth: PurgeAuth,
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

#[derive(Debug, Deserialize)]
struct InspectQuery {
    limit: Option<usize>,
    secret: Option<String>,
}

impl PurgeEndpoint {
    /// An endpoint revalidating through `revalidator` (its invalidations are logged with the
    /// origin `purge-router`), guarded by `auth`.
    pub fn new(revalidator: Revalidator, auth: PurgeAuth) -> Self {
        Self {
            revalidator: revalidator.with_origin(Origin::PurgeRouter),
            auth,
        }
    }

    /// Answers one request. `read_body(limit)` reads the body, failing with
    /// [`BodyError::TooLarge`] past `limit` bytes; it is only called for a `POST` whose
    /// headers passed the checks.
    pub async fn answer<F, Fut>(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        read_body: F,
    ) -> PurgeReply
    where
        F: FnOnce(usize) -> Fut,
        Fut: Future<Output = Result<Bytes, BodyError>>,
    {
        match *method {
            Method::POST => self.revalidate(headers, read_body).await,
            Method::GET => self.inspect(uri, headers),
            _ => {
                let mut reply = PurgeReply::error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "use POST to revalidate or GET to inspect",
                );
                reply
                    .headers
                    .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
                reply
            }
        }
    }

    async fn revalidate<F, Fut>(&self, headers: &HeaderMap, read_body: F) -> PurgeReply
    where
        F: FnOnce(usize) -> Fut,
        Fut: Future<Output = Result<Bytes, BodyError>>,
    {
        let header_secret = header_secret(headers);
        if let Some(given) = &header_secret
            && !self.auth.verify(given)
        {
            return PurgeReply::unauthorized();
        }
        if !is_json(headers) {
            return PurgeReply::error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the body must be JSON (Content-Type: application/json)",
            );
        }
        let body = match read_body(MAX_PURGE_BODY).await {
            Ok(body) => body,
            Err(BodyError::TooLarge) => {
                return PurgeReply::error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "the body is larger than 64 KiB",
                );
            }
            Err(BodyError::Broken) => {
                return PurgeReply::error(StatusCode::BAD_REQUEST, "the body could not be read");
            }
        };
        let parsed: PurgeRequest = match serde_json::from_slice(&body) {
            Ok(parsed) => parsed,
            Err(e) => {
                return PurgeReply::error(StatusCode::BAD_REQUEST, &format!("malformed JSON: {e}"));
            }
        };
        match (&header_secret, &parsed.secret) {
            (Some(_), _) => {} // checked above
            (None, Some(given)) if self.auth.verify(given) => {}
            _ => return PurgeReply::unauthorized(),
        }
        let (target, mode) = match validate(parsed) {
            Ok(valid) => valid,
            Err(message) => return PurgeReply::error(StatusCode::BAD_REQUEST, &message),
        };
        let result = match &target {
            Target::Path(path, scope) => {
                self.revalidator
                    .revalidate_path_scoped(path, *scope, mode)
                    .await
            }
            Target::Tags(tags) => revalidate_tags(&self.revalidator, tags, mode).await,
        };
        match result {
            Ok(revalidation) => revalidated(&target, mode, revalidation),
            Err(e) => PurgeReply::error(StatusCode::BAD_REQUEST, &e.to_string()),
        }
    }

    fn inspect(&self, uri: &Uri, headers: &HeaderMap) -> PurgeReply {
        let query = match serde_urlencoded::from_str::<InspectQuery>(uri.query().unwrap_or("")) {
            Ok(query) => query,
            Err(e) => {
                return PurgeReply::error(StatusCode::BAD_REQUEST, &format!("bad query: {e}"));
            }
        };
        let given = header_secret(headers).or(query.secret);
        if !given.is_some_and(|g| self.auth.verify(&g)) {
            return PurgeReply::unauthorized();
        }
        let limit = query.limit.unwrap_or(100).min(10_000);
        let entries: Vec<Value> = self
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
        PurgeReply::new(
            StatusCode::OK,
            json!({ "count": entries.len(), "entries": entries }),
        )
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
        None => InvalidationMode::Expire,
        Some(name) => InvalidationMode::from_name(name)
            .ok_or_else(|| format!("unknown mode {name:?}: expected \"expire\" or \"stale\""))?,
    };
    let target = match (request.path, request.tag, request.tags) {
        (Some(path), None, None) => {
            if !path.starts_with('/') {
                return Err(format!("path must start with '/': {path:?}"));
            }
            let scope = match request.scope.as_deref() {
                None => PathScope::Page,
                Some(name) => PathScope::from_name(name).ok_or_else(|| {
                    format!("unknown type {name:?}: expected \"page\" or \"layout\"")
                })?,
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
            match validate_tag(tag) {
                Ok(()) => {}
                Err(error @ RevalidateError::TagTooLong) => {
                    // By characters, not bytes: a byte index could fall inside one.
                    let start: String = tag.chars().take(32).collect();
                    return Err(format!("{error}: {start:?}…"));
                }
                Err(error) => return Err(error.to_string()),
            }
        }
    }
    Ok((target, mode))
}

fn revalidated(target: &Target, mode: InvalidationMode, revalidation: Revalidation) -> PurgeReply {
    let mut body = json!({
        "revalidated": true,
        "now": unix_ms(SystemTime::now()),
        "at": unix_ms(revalidation.at),
        "mode": mode.as_str(),
        "affected": revalidation.affected,
    });
    match target {
        Target::Path(path, scope) => {
            body["path"] = json!(path);
            body["type"] = json!(scope.as_str());
        }
        Target::Tags(tags) => body["tags"] = json!(tags),
    }
    PurgeReply::new(StatusCode::OK, body)
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

/// Whether `Content-Type` says JSON (`application/json` or `application/*+json`, any case,
/// with or without parameters).
pub fn is_json(headers: &HeaderMap) -> bool {
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
