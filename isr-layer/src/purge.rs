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
//!   state, tags, bytes. Answers `200 {"count": N, "entries": [...]}`.
//! - `GET` with filters lists the entries that pass all of them: `?state=fresh|stale|invalid`,
//!   `?tag=T` (entries carrying the tag), `?route=P` (entries whose route name or path starts
//!   with `P`), and `?sort=age` (youngest first) or `?sort=bytes` (largest first). Such an
//!   answer also says how many entries matched before the limit: `{"count": N, "matched": M,
//!   "entries": [...]}`. Filters look at up to a million entries held in this process.
//! - `GET ?view=stats` answers the cache's counters (see [`IsrStats`]):
//!   `{"entries", "bytes", "hits", "stale", "misses", "bypasses", "hit_ratio", "renders",
//!   "failed_renders", "regenerations_deferred", "invalidations", "invalidation_stamps",
//!   "store_errors", "store"}`, where `hit_ratio` is `(hits + stale) / (hits + stale + misses)`
//!   (`null` before the first lookup; bypasses are not lookups) and `store` is `{"kind",
//!   "max_bytes", "reachable", "since", "outages"}` (`since`: unix ms of the last change of
//!   `reachable`, or `null`). Requests are not counted per entry:
//!   that would add a shared write to every cache hit.
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
    EntryState, EntrySummary, InvalidationMode, Origin, PathScope, RevalidateError, Revalidation,
    validate_tag,
};
use crate::store::{Entry, StoreStatus};
use crate::{IsrStats, Revalidate, Revalidator};

/// The largest purge request body accepted; larger bodies get `413`.
pub const MAX_PURGE_BODY: usize = 64 * 1024;

/// The header a secret may come in besides `Authorization: Bearer`.
pub const SECRET_HEADER: &str = "x-revalidate-secret";

/// The most entries a filtered or sorted listing looks at.
pub(crate) const MAX_SCANNED: usize = 1_000_000;

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

    /// The secret's bytes, for keys derived from it (the inspector's session signatures).
    #[cfg(feature = "inspector")]
    pub(crate) fn secret_bytes(&self) -> &[u8] {
        &self.secret
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
        never_cached(&mut headers);
        headers
    }
}

/// `Cache-Control: no-store, private`: an operator's answer is never cached by anything, even
/// when mounted under the cache or behind a CDN.
pub(crate) fn never_cached(headers: &mut HeaderMap) {
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, private"),
    );
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

/// The query of a `GET`. Unknown parameters are ignored, as they always were.
#[derive(Debug, Deserialize)]
struct InspectQuery {
    limit: Option<usize>,
    secret: Option<String>,
    view: Option<String>,
    state: Option<String>,
    tag: Option<String>,
    route: Option<String>,
    sort: Option<String>,
}

/// What a `GET` asks for.
enum View {
    /// Entries, up to a limit, all of them or those passing a filter.
    Entries(Listing),
    /// The counters.
    Stats,
}

/// Which entries a listing shows, in what order.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    pub(crate) limit: usize,
    pub(crate) state: Option<EntryState>,
    pub(crate) tag: Option<String>,
    pub(crate) route: Option<String>,
    pub(crate) sort: Option<SortBy>,
}

/// The order of a sorted listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SortBy {
    /// Youngest first: the latest renders.
    Age,
    /// Largest first.
    Bytes,
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
        let given = header_secret(headers).or_else(|| query.secret.clone());
        if !given.is_some_and(|g| self.auth.verify(&g)) {
            return PurgeReply::unauthorized();
        }
        match view_of(query) {
            Ok(View::Stats) => {
                let mut stats = stats_json(&self.revalidator.stats());
                stats["store"] = store_json(&self.revalidator.store_status());
                PurgeReply::new(StatusCode::OK, stats)
            }
            Ok(View::Entries(listing)) => self.list(&listing),
            Err(message) => PurgeReply::error(StatusCode::BAD_REQUEST, &message),
        }
    }

    fn list(&self, listing: &Listing) -> PurgeReply {
        if !listing.is_filtered() {
            // The plain listing: the first entries the store yields, as it always answered.
            let entries: Vec<Value> = self
                .revalidator
                .inspect(listing.limit)
                .iter()
                .map(entry_json)
                .collect();
            return PurgeReply::new(
                StatusCode::OK,
                json!({ "count": entries.len(), "entries": entries }),
            );
        }
        let mut summaries = self.revalidator.inspect(MAX_SCANNED);
        summaries.retain(|summary| listing.admits(&summary.entry, || summary.state));
        let matched = summaries.len();
        match listing.sort {
            None => {}
            Some(SortBy::Age) => {
                summaries.sort_by(|a, b| (a.age, a.entry.key()).cmp(&(b.age, b.entry.key())))
            }
            Some(SortBy::Bytes) => {
                summaries.sort_by(|a, b| (b.bytes, a.entry.key()).cmp(&(a.bytes, b.entry.key())))
            }
        }
        summaries.truncate(listing.limit);
        let entries: Vec<Value> = summaries.iter().map(entry_json).collect();
        PurgeReply::new(
            StatusCode::OK,
            json!({ "count": entries.len(), "matched": matched, "entries": entries }),
        )
    }
}

impl Listing {
    /// Whether anything beyond the limit was asked for.
    fn is_filtered(&self) -> bool {
        self.state.is_some() || self.tag.is_some() || self.route.is_some() || self.sort.is_some()
    }

    /// Whether `entry` passes every filter; `state` is asked only when a state is filtered.
    pub(crate) fn admits(&self, entry: &Entry, state: impl FnOnce() -> EntryState) -> bool {
        // The state last: it is the one filter that reads the tag clock.
        self.tag
            .as_deref()
            .is_none_or(|tag| entry.tags().any(|t| t == tag))
            && self.route.as_deref().is_none_or(|prefix| {
                entry.route().is_some_and(|route| route.starts_with(prefix))
                    || entry.path().starts_with(prefix)
            })
            && self.state.is_none_or(|wanted| state() == wanted)
    }
}

/// The view a `GET` query asks for, or why it cannot be answered.
fn view_of(query: InspectQuery) -> Result<View, String> {
    let empty = |value: Option<String>, name: &str| match value {
        Some(value) if value.is_empty() => Err(format!("{name} must not be empty")),
        value => Ok(value),
    };
    let state = match query.state.as_deref() {
        None => None,
        Some(name) => Some(EntryState::from_name(name).ok_or_else(|| {
            format!("unknown state {name:?}: expected \"fresh\", \"stale\" or \"invalid\"")
        })?),
    };
    let sort = match query.sort.as_deref() {
        None => None,
        Some("age") => Some(SortBy::Age),
        Some("bytes") => Some(SortBy::Bytes),
        Some(name) => {
            return Err(format!(
                "unknown sort {name:?}: expected \"age\" (youngest first) or \"bytes\" (largest first)"
            ));
        }
    };
    let listing = Listing {
        limit: query.limit.unwrap_or(100).min(10_000),
        state,
        tag: empty(query.tag, "tag")?,
        route: empty(query.route, "route")?,
        sort,
    };
    match query.view.as_deref() {
        None | Some("entries") => Ok(View::Entries(listing)),
        Some("stats") if listing.is_filtered() || query.limit.is_some() => {
            Err("state, tag, route, sort and limit go with the entries view only".to_owned())
        }
        Some("stats") => Ok(View::Stats),
        Some(name) => Err(format!(
            "unknown view {name:?}: expected \"entries\" or \"stats\""
        )),
    }
}

/// One entry of a listing.
fn entry_json(summary: &EntrySummary) -> Value {
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
}

/// The counters of `?view=stats`.
fn stats_json(stats: &IsrStats) -> Value {
    let served = stats.hits.saturating_add(stats.stale);
    let lookups = served.saturating_add(stats.misses);
    // Precision lost above 2^53 lookups does not matter to a ratio.
    #[allow(clippy::cast_precision_loss)]
    let hit_ratio = (lookups > 0).then(|| served as f64 / lookups as f64);
    json!({
        "entries": stats.entries,
        "bytes": stats.bytes,
        "hits": stats.hits,
        "stale": stats.stale,
        "misses": stats.misses,
        "bypasses": stats.bypasses,
        "hit_ratio": hit_ratio,
        "renders": stats.renders,
        "failed_renders": stats.failed_renders,
        "regenerations_deferred": stats.regenerations_deferred,
        "invalidations": stats.invalidations,
        "invalidation_stamps": stats.invalidation_stamps,
        "store_errors": stats.store_errors,
    })
}

/// The store of `?view=stats`: kind, bound, and whether it answers since when.
fn store_json(status: &StoreStatus) -> Value {
    json!({
        "kind": status.kind,
        "max_bytes": status.max_bytes,
        "reachable": status.reachable,
        "since": status.since.map(unix_ms),
        "outages": status.outages,
    })
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
    media_type(headers).is_some_and(|mime| {
        mime.eq_ignore_ascii_case("application/json")
            || (mime.starts_with("application/") && mime.ends_with("+json"))
    })
}

/// The media type of `Content-Type`, without its parameters.
pub(crate) fn media_type(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    value.split(';').next().map(str::trim)
}

fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::convert::Infallible;
    use std::time::Duration;

    use http::{Request, Response};
    use http_body_util::Full;
    use tower::{Layer, ServiceExt, service_fn};

    use crate::{IsrLayer, RenderContext};

    const SECRET: &str = "unit-test-secret";

    /// A cache over a small site: two docs (route `/docs/{slug}`, tag `docs`), a product
    /// (route `/products/{slug}`, tags `product-x` and `all-products`, the largest page) and
    /// `/about` (no route, no tag), visited in that order a second apart, each once.
    async fn site() -> (IsrLayer, PurgeEndpoint) {
        let isr = IsrLayer::builder()
            .revalidate(Revalidate::Never)
            .build()
            .unwrap();
        let app = isr
            .clone()
            .layer(service_fn(|req: Request<Full<Bytes>>| async move {
                let path = req.uri().path().to_owned();
                let cx = RenderContext::current().expect("rendered under the layer");
                let body = if let Some(slug) = path.strip_prefix("/docs/") {
                    cx.set_route("/docs/{slug}");
                    cx.tag("docs");
                    format!("doc {slug}")
                } else if let Some(slug) = path.strip_prefix("/products/") {
                    cx.set_route("/products/{slug}");
                    cx.add_tags([format!("product-{slug}"), "all-products".to_owned()]);
                    format!("product {slug} {}", "x".repeat(4096))
                } else {
                    format!("page {path}")
                };
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
            }));
        for path in ["/docs/a", "/docs/b", "/products/x", "/about"] {
            let request = Request::get(path).body(Full::default()).unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            assert_eq!(response.headers()["x-isr-cache"], "MISS", "{path}");
            tokio::time::advance(Duration::from_secs(1)).await;
        }
        let endpoint = PurgeEndpoint::new(isr.revalidator(), PurgeAuth::new(SECRET).unwrap());
        (isr, endpoint)
    }

    async fn get(endpoint: &PurgeEndpoint, query: &str) -> PurgeReply {
        let uri: Uri = format!("/api/revalidate?secret={SECRET}&{query}")
            .parse()
            .unwrap();
        let no_body = |_| async { Ok::<_, BodyError>(Bytes::new()) };
        endpoint
            .answer(&Method::GET, &uri, &HeaderMap::new(), no_body)
            .await
    }

    /// The keys of a listing, in its order.
    fn keys(reply: &PurgeReply) -> Vec<&str> {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["key"].as_str().unwrap())
            .collect()
    }

    fn sorted(mut keys: Vec<&str>) -> Vec<&str> {
        keys.sort_unstable();
        keys
    }

    #[tokio::test(start_paused = true)]
    async fn the_stats_view_answers_the_counters_and_the_hit_ratio() {
        let (isr, endpoint) = site().await;
        let reply = get(&endpoint, "view=stats").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let stats = isr.stats();
        assert_eq!(reply.body["entries"], 4);
        assert_eq!(reply.body["bytes"], stats.bytes);
        assert_eq!(reply.body["misses"], 4);
        assert_eq!(reply.body["renders"], 4);
        assert_eq!(reply.body["hits"], 0);
        assert_eq!(reply.body["hit_ratio"], 0.0);
        for name in [
            "stale",
            "bypasses",
            "failed_renders",
            "regenerations_deferred",
            "invalidations",
            "invalidation_stamps",
            "store_errors",
        ] {
            assert_eq!(reply.body[name], 0, "{name}");
        }
        assert!(reply.body.get("count").is_none(), "not a listing");
    }

    #[tokio::test]
    async fn the_hit_ratio_is_null_before_any_lookup() {
        let isr = IsrLayer::new();
        let endpoint = PurgeEndpoint::new(isr.revalidator(), PurgeAuth::new(SECRET).unwrap());
        let reply = get(&endpoint, "view=stats").await;
        assert_eq!(reply.body["hit_ratio"], Value::Null);
        let hits = IsrStats {
            hits: 3,
            stale: 1,
            misses: 4,
            bypasses: 100,
            ..IsrStats::default()
        };
        assert_eq!(
            stats_json(&hits)["hit_ratio"],
            0.5,
            "bypasses are not lookups"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn listings_filter_by_state_tag_and_route_and_say_how_many_matched() {
        let (isr, endpoint) = site().await;
        isr.revalidator().revalidate_tag("docs").await.unwrap();

        let reply = get(&endpoint, "state=invalid").await;
        assert_eq!(sorted(keys(&reply)), ["/docs/a", "/docs/b"]);
        assert_eq!(reply.body["matched"], 2);
        let reply = get(&endpoint, "state=fresh").await;
        assert_eq!(sorted(keys(&reply)), ["/about", "/products/x"]);
        assert!(keys(&get(&endpoint, "state=stale").await).is_empty());

        let reply = get(&endpoint, "tag=all-products").await;
        assert_eq!(keys(&reply), ["/products/x"]);
        // By route name or by path.
        let reply = get(&endpoint, "route=/docs/%7B").await;
        assert_eq!(sorted(keys(&reply)), ["/docs/a", "/docs/b"]);
        let reply = get(&endpoint, "route=/ab").await;
        assert_eq!(keys(&reply), ["/about"]);
        // Filters add up.
        let reply = get(&endpoint, "route=/docs&state=fresh").await;
        assert!(keys(&reply).is_empty());
        assert_eq!(reply.body["matched"], 0);

        // The limit applies after the filters; `matched` counts before it.
        let reply = get(&endpoint, "route=/&limit=1").await;
        assert_eq!(keys(&reply).len(), 1);
        assert_eq!(
            (reply.body["count"].clone(), reply.body["matched"].clone()),
            (json!(1), json!(4))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn listings_sort_by_age_or_bytes() {
        let (_isr, endpoint) = site().await;
        let reply = get(&endpoint, "sort=age").await;
        assert_eq!(
            keys(&reply),
            ["/about", "/products/x", "/docs/b", "/docs/a"]
        );
        let ages: Vec<u64> = reply.body["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["age"].as_u64().unwrap())
            .collect();
        assert_eq!(ages, [1, 2, 3, 4]);
        let reply = get(&endpoint, "sort=bytes&limit=1").await;
        assert_eq!(keys(&reply), ["/products/x"]);
        assert_eq!(reply.body["matched"], 4);
    }

    #[tokio::test(start_paused = true)]
    async fn the_plain_listing_is_unchanged() {
        let (_isr, endpoint) = site().await;
        let reply = get(&endpoint, "limit=2").await;
        assert_eq!(keys(&reply).len(), 2);
        let object = reply.body.as_object().unwrap();
        assert_eq!(object.keys().collect::<Vec<_>>(), ["count", "entries"]);
        let reply = get(&endpoint, "view=entries").await;
        assert_eq!(keys(&reply).len(), 4);
        assert!(reply.body.get("matched").is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn bad_views_and_filters_get_400_and_the_secret_is_checked_first() {
        let (_isr, endpoint) = site().await;
        for (query, expect) in [
            ("view=graph", "unknown view"),
            ("state=old", "unknown state"),
            ("sort=name", "unknown sort"),
            ("tag=", "tag must not be empty"),
            ("route=", "route must not be empty"),
            ("view=stats&state=fresh", "entries view only"),
            ("view=stats&limit=3", "entries view only"),
            ("limit=many", "bad query"),
        ] {
            let reply = get(&endpoint, query).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
            let message = reply.body["error"].as_str().unwrap();
            assert!(message.contains(expect), "{query}: {message}");
        }
        let uri: Uri = "/api/revalidate?view=stats&secret=wrong".parse().unwrap();
        let no_body = |_| async { Ok::<_, BodyError>(Bytes::new()) };
        let reply = endpoint
            .answer(&Method::GET, &uri, &HeaderMap::new(), no_body)
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        let uri: Uri = "/api/revalidate?view=nonsense".parse().unwrap();
        let reply = endpoint
            .answer(&Method::GET, &uri, &HeaderMap::new(), no_body)
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "no hints without the secret"
        );
    }

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
