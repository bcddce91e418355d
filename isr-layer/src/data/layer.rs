//! The data cache as a tower layer around an outbound HTTP client.

use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode, Uri};
use http_body::Body;
use http_body_util::BodyExt;
use tower_layer::Layer;
use tower_service::Service;

use super::cache::{DataCache, Fetched, Served};
use super::options::FetchOptions;
use crate::body::IsrBody;
use crate::engine::{Buffered, buffer};
use crate::filters::strip_hop_by_hop;
use crate::key;
use crate::policy::{PolicySource, RenderContext, Revalidate};
use crate::status::CacheStatus;

/// The header on responses that went through a [`DataCacheLayer`]: `HIT`, `STALE`, `MISS` or
/// `BYPASS`.
pub const DATA_CACHE_HEADER: http::HeaderName = http::HeaderName::from_static("x-isr-data-cache");

/// Request headers left out of the key: tracing headers differ on every call (Next.js does the
/// same).
const UNKEYED: [&str; 2] = ["traceparent", "tracestate"];

/// The key of an outbound request: method, normalised URL, headers (but tracing ones), and a
/// hash of the body. Revalidate and tags are not part of it.
pub(crate) fn fetch_key(
    method: &http::Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> String {
    let mut key = String::with_capacity(128);
    key.push_str(method.as_str());
    key.push(' ');
    if let Some(scheme) = uri.scheme_str() {
        key.push_str(&scheme.to_ascii_lowercase());
        key.push_str("://");
    }
    if let Some(authority) = uri.authority() {
        key.push_str(&authority.as_str().to_ascii_lowercase());
    }
    match key::normalize_path(uri.path()) {
        Ok(path) => key.push_str(&path),
        Err(_) => key.push_str(uri.path()),
    }
    if let Some(query) = uri.query() {
        key.push('?');
        match key::normalize_escapes(query) {
            Ok(q) => key.push_str(&q),
            Err(_) => key.push_str(query),
        }
    }
    let mut pairs: Vec<(&str, &[u8])> = headers
        .iter()
        .filter(|(name, _)| !UNKEYED.contains(&name.as_str()))
        .map(|(name, value)| (name.as_str(), value.as_bytes()))
        .collect();
    pairs.sort();
    for (name, value) in pairs {
        key.push('\n');
        key.push_str(name);
        key.push(':');
        key.push_str(&String::from_utf8_lossy(value));
    }
    if !body.is_empty() {
        let _ = write!(key, "\nbody:{:032x}", xxhash_rust::xxh3::xxh3_128(body));
    }
    key
}

/// Caches the responses of an outbound HTTP client in a [`DataCache`].
///
/// Per-request options come from the request extensions (a [`FetchOptions`]); requests without
/// one use the layer's default, which is [`FetchOptions::no_store`] unless set with
/// [`default_options`](Self::default_options). Only `200` responses are stored, and only when
/// their body fits [`max_body_bytes`](Self::max_body_bytes); everything else passes through
/// untouched. Responses carry `x-isr-data-cache`.
///
/// The request body must be `Clone` (as `Full<Bytes>`, `Empty` and `String` are): it is hashed
/// into the key, and kept to refresh a stale value in the background.
///
/// ```
/// use isr_layer::{data::DataCacheLayer, FetchOptions, IsrLayer};
///
/// let isr = IsrLayer::new();
/// let layer = DataCacheLayer::new(isr.data_cache())
///     .default_options(FetchOptions::revalidate(60));
/// // tower::ServiceBuilder::new().layer(layer).service(hyper_util_client)
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct DataCacheLayer {
    cache: DataCache,
    default: FetchOptions,
    max_body_bytes: usize,
}

impl DataCacheLayer {
    /// A layer storing into `cache`.
    pub fn new(cache: DataCache) -> Self {
        Self {
            cache,
            default: FetchOptions::no_store(),
            max_body_bytes: 2 * 1024 * 1024,
        }
    }

    /// Options for requests that carry none in their extensions.
    pub fn default_options(mut self, options: FetchOptions) -> Self {
        self.default = options;
        self
    }

    /// The largest response body (and request body) that is cached. Default 2 MiB.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }
}

impl<S> Layer<S> for DataCacheLayer {
    type Service = DataCacheService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DataCacheService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service made by [`DataCacheLayer`].
#[derive(Clone, Debug)]
pub struct DataCacheService<S> {
    inner: S,
    layer: DataCacheLayer,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for DataCacheService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Body + Clone + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: Send,
    ResBody: Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Send + 'static,
{
    type Response = Response<IsrBody<ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let clone = self.inner.clone();
        let mut service = std::mem::replace(&mut self.inner, clone);
        let options = request
            .extensions()
            .get::<FetchOptions>()
            .cloned()
            .unwrap_or_else(|| self.layer.default.clone());
        let cache = self.layer.cache.clone();
        let limit = self.layer.max_body_bytes;

        let exact_small = request
            .body()
            .size_hint()
            .exact()
            .is_some_and(|n| n <= limit as u64);
        if options.no_store || !exact_small {
            if options.no_store
                && let Some(render) = RenderContext::current()
            {
                render.revalidate(Revalidate::Dynamic, PolicySource::Fetch);
            }
            let call = service.call(request);
            return Box::pin(async move { Ok(passed(call.await?, CacheStatus::Bypass)) });
        }

        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let bytes = match body.clone().collect().await {
                Ok(collected) => collected.to_bytes(),
                // The copy could not be read: send the original, uncached.
                Err(_) => {
                    let response = service.call(Request::from_parts(parts, body)).await?;
                    return Ok(passed(response, CacheStatus::Bypass));
                }
            };
            let key = fetch_key(&parts.method, &parts.uri, &parts.headers, &bytes);
            let served = cache
                .run(&key, &options, move || async move {
                    let response = tower_oneshot(service, Request::from_parts(parts, body)).await?;
                    Ok(admit_response(response, limit).await)
                })
                .await?;
            Ok(match served {
                Served::Entry(entry, status) => {
                    let mut response = Response::new(IsrBody::full(entry.body.clone()));
                    *response.status_mut() = entry.status;
                    *response.headers_mut() = entry.headers();
                    response
                        .headers_mut()
                        .insert(DATA_CACHE_HEADER, status.header_value());
                    response
                }
                Served::Passed(response) => response,
            })
        })
    }
}

async fn tower_oneshot<S, R>(mut service: S, request: R) -> Result<S::Response, S::Error>
where
    S: Service<R>,
{
    std::future::poll_fn(|cx| service.poll_ready(cx)).await?;
    service.call(request).await
}

fn passed<B: Body>(response: Response<B>, status: CacheStatus) -> Response<IsrBody<B>> {
    let (mut parts, body) = response.into_parts();
    parts
        .headers
        .insert(DATA_CACHE_HEADER, status.header_value());
    Response::from_parts(parts, IsrBody::inner(body))
}

/// Stores `200` responses that fit the limit; passes everything else through.
async fn admit_response<B>(response: Response<B>, limit: usize) -> Fetched<Response<IsrBody<B>>>
where
    B: Body<Data = Bytes>,
{
    if response.status().is_server_error() {
        return Fetched::Failed(passed(response, CacheStatus::Bypass));
    }
    if response.status() != StatusCode::OK {
        return Fetched::Pass(passed(response, CacheStatus::Bypass));
    }
    let (mut parts, body) = response.into_parts();
    match buffer(body, limit).await {
        Buffered::Complete(body) => {
            strip_hop_by_hop(&mut parts.headers);
            Fetched::Store {
                status: parts.status,
                headers: parts.headers,
                body,
            }
        }
        Buffered::Overflow(replay) | Buffered::Failed(replay) => {
            parts
                .headers
                .insert(DATA_CACHE_HEADER, CacheStatus::Bypass.header_value());
            Fetched::Pass(Response::from_parts(parts, replay))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(uri: &str, headers: &[(&'static str, &'static str)], body: &[u8]) -> String {
        let mut map = HeaderMap::new();
        for (n, v) in headers {
            map.append(*n, v.parse().unwrap());
        }
        fetch_key(&http::Method::GET, &uri.parse().unwrap(), &map, body)
    }

    #[test]
    fn tracing_headers_are_not_keyed() {
        let a = key(
            "http://api.test/p",
            &[("traceparent", "00-a-b-01"), ("accept", "json")],
            b"",
        );
        let b = key(
            "http://api.test/p",
            &[("traceparent", "00-c-d-01"), ("accept", "json")],
            b"",
        );
        assert_eq!(a, b);
        assert_ne!(a, key("http://api.test/p", &[("accept", "html")], b""));
    }

    #[test]
    fn urls_normalise_and_bodies_key() {
        assert_eq!(
            key("HTTP://API.test/a/../p", &[], b""),
            key("http://api.test/p", &[], b"")
        );
        assert_ne!(
            key("http://api.test/p", &[], b"1"),
            key("http://api.test/p", &[], b"2")
        );
    }
}
