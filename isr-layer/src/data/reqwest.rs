//! The data cache as a `reqwest-middleware` middleware (feature `reqwest`).

use std::fmt;

use bytes::Bytes;
use http::{Extensions, Uri};
use reqwest::{Client, Request, Response, StatusCode};
use reqwest_middleware::{Middleware, Next};

use super::cache::{DataCache, Fetched, Served};
use super::layer::{DATA_CACHE_HEADER, fetch_key};
use super::options::FetchOptions;
use crate::policy::{PolicySource, RenderContext, Revalidate};
use crate::status::CacheStatus;

/// Caches `reqwest` responses in a [`DataCache`], as a `reqwest-middleware` middleware.
///
/// Options come per request from the middleware extensions
/// (`client.get(url).with_extension(FetchOptions::revalidate(60))`), else from
/// [`default_options`](Self::default_options) (default: [`FetchOptions::no_store`]). Only `200`
/// responses with a known `Content-Length` within the limit are stored; the rest pass through.
///
/// Cacheable requests are sent with the `Client` given here (so a stale value can be refreshed
/// in the background after the caller has its answer): put this middleware **last** in the
/// chain. Requests with a streaming body are never cached.
///
/// ```no_run
/// use isr_layer::{data::DataCacheMiddleware, FetchOptions, IsrLayer};
///
/// # async fn run() -> Result<(), reqwest_middleware::Error> {
/// let isr = IsrLayer::new();
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(DataCacheMiddleware::new(isr.data_cache(), reqwest::Client::new()))
///     .build();
/// let products = client
///     .get("http://127.0.0.1:4000/products")
///     .with_extension(FetchOptions::revalidate(300).tags(["all-products"]))
///     .send()
///     .await?
///     .text()
///     .await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct DataCacheMiddleware {
    cache: DataCache,
    client: Client,
    default: FetchOptions,
    max_body_bytes: usize,
}

impl fmt::Debug for DataCacheMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataCacheMiddleware")
            .field("default", &self.default)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

impl DataCacheMiddleware {
    /// A middleware storing into `cache` and sending cacheable requests with `client`.
    pub fn new(cache: DataCache, client: Client) -> Self {
        Self {
            cache,
            client,
            default: FetchOptions::no_store(),
            max_body_bytes: 2 * 1024 * 1024,
        }
    }

    /// Options for requests that carry none.
    #[must_use]
    pub fn default_options(mut self, options: FetchOptions) -> Self {
        self.default = options;
        self
    }

    /// The largest response body that is cached. Default 2 MiB.
    #[must_use]
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }
}

#[async_trait::async_trait]
impl Middleware for DataCacheMiddleware {
    async fn handle(
        &self,
        request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let options = extensions
            .get::<FetchOptions>()
            .cloned()
            .unwrap_or_else(|| self.default.clone());
        if options.no_store {
            if let Some(render) = RenderContext::current() {
                render.revalidate(Revalidate::Dynamic, PolicySource::Fetch);
            }
            return next.run(request, extensions).await;
        }
        let body: Option<Bytes> = match request.body() {
            None => Some(Bytes::new()),
            Some(body) => body.as_bytes().map(Bytes::copy_from_slice),
        };
        let (Some(body), Ok(uri)) = (body, request.url().as_str().parse::<Uri>()) else {
            return next.run(request, extensions).await;
        };
        let key = fetch_key(request.method(), &uri, request.headers(), &body);
        let client = self.client.clone();
        let limit = self.max_body_bytes as u64;
        let served = self
            .cache
            .run(&key, &options, move || async move {
                let response = client.execute(request).await?;
                if response.status().is_server_error() {
                    return Ok(Fetched::Failed(response));
                }
                let fits = response.content_length().is_some_and(|n| n <= limit);
                if response.status() != StatusCode::OK || !fits {
                    return Ok::<_, reqwest_middleware::Error>(Fetched::Pass(response));
                }
                let status = response.status();
                let mut headers = response.headers().clone();
                crate::filters::strip_hop_by_hop(&mut headers);
                let body = response.bytes().await?;
                Ok(Fetched::Store {
                    status,
                    headers,
                    body,
                })
            })
            .await?;
        Ok(match served {
            Served::Entry(entry, status) => {
                let mut response = http::Response::new(entry.body.clone());
                *response.status_mut() = entry.status;
                *response.headers_mut() = entry.headers();
                response
                    .headers_mut()
                    .insert(DATA_CACHE_HEADER, status.header_value());
                Response::from(response)
            }
            Served::Passed(mut response) => {
                response
                    .headers_mut()
                    .insert(DATA_CACHE_HEADER, CacheStatus::Bypass.header_value());
                response
            }
        })
    }
}
