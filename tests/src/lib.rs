//! Helpers shared by the cross-crate suites: a real HTTP server on an ephemeral port, a small
//! HTTP/1 client, an upstream API that counts its calls, and a headless browser.

pub mod browser;
pub mod conformance;
mod redis_fleet;
mod redis_server;
mod upstream;

pub use self::redis_fleet::{RedisCluster, RedisSentinel};
pub use self::redis_server::{PrivateRedis, free_port, redis_url, unique_prefix};
pub use self::upstream::Upstream;

use std::net::SocketAddr;

use axum::Router;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::task::JoinHandle;

/// Waits until `done` holds, checking every 10 ms for at most `within`: for what travels
/// through another process. Panics naming `what` otherwise.
pub async fn eventually(what: &str, within: std::time::Duration, done: impl AsyncFnMut() -> bool) {
    eventually_every(what, within, std::time::Duration::from_millis(10), done).await;
}

/// [`eventually`], checking every `every` (for checks that are costly themselves).
pub async fn eventually_every(
    what: &str,
    within: std::time::Duration,
    every: std::time::Duration,
    mut done: impl AsyncFnMut() -> bool,
) {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if done().await {
            return;
        }
        tokio::time::sleep(every).await;
    }
    panic!("{what} did not happen within {within:?}");
}

/// An app served on `127.0.0.1` at an ephemeral port, stopped when dropped.
#[derive(Debug)]
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    task: JoinHandle<()>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a client got back.
#[derive(Debug)]
pub struct Got {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body, as text.
    pub body: String,
    /// The body's bytes as they came (still encoded if `Content-Encoding` says so).
    pub bytes: Bytes,
}

impl Got {
    /// The `x-isr-cache` header, or `-`.
    pub fn cache(&self) -> &str {
        self.header("x-isr-cache").unwrap_or("-")
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body decoded from its `Content-Encoding` (gzip, br, zstd or none).
    pub fn decoded(&self) -> Vec<u8> {
        decode(self.header("content-encoding"), &self.bytes)
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

impl Server {
    /// Serves `app` over real HTTP/1.1.
    pub async fn start(app: Router) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind an ephemeral port");
        let addr = listener.local_addr().expect("local address");
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        let client = Client::builder(TokioExecutor::new()).build_http();
        Self { addr, task, client }
    }

    /// Serves an actix-web `app` over real HTTP/1.1, on the current thread's `LocalSet` (so
    /// it runs on the test's runtime and its clock). Connections are not kept alive: a paused
    /// clock that jumps would otherwise expire them between requests.
    pub async fn start_actix<T, B>(app: actix_web::App<T>) -> Self
    where
        T: actix_service::ServiceFactory<
                actix_web::dev::ServiceRequest,
                Config = (),
                Response = actix_web::dev::ServiceResponse<B>,
                Error = actix_web::Error,
                InitError = (),
            > + 'static,
        B: actix_web::body::MessageBody + 'static,
    {
        use actix_service::{Service as _, ServiceFactory as _};

        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind an ephemeral port");
        let addr = listener.local_addr().expect("local address");
        let factory = actix_http::HttpService::build()
            .keep_alive(actix_http::KeepAlive::Disabled)
            .client_request_timeout(std::time::Duration::ZERO)
            .h1(actix_service::map_config(app, |()| {
                actix_web::dev::AppConfig::default()
            }))
            .tcp();
        let service = std::rc::Rc::new(factory.new_service(()).await.expect("the app starts"));
        let task = tokio::task::spawn_local(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let service = std::rc::Rc::clone(&service);
                tokio::task::spawn_local(async move {
                    let _ = service.call(stream).await;
                });
            }
        });
        let client = Client::builder(TokioExecutor::new()).build_http();
        Self { addr, task, client }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Got {
        self.send(Method::GET, path, &[], "").await
    }

    /// Sends a request with headers and a body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Got {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(Full::new(Bytes::from(body.to_owned())))
            .expect("a valid request");
        let response = self
            .client
            .request(request)
            .await
            .expect("the server answers");
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("a whole body").to_bytes();
        Got {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&body).into_owned(),
            bytes: body,
        }
    }

    /// Sends `GET path` with `headers` and returns as soon as the answer's head arrives, its
    /// body still streaming.
    pub async fn open(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> http::Response<hyper::body::Incoming> {
        let mut builder = Request::builder().uri(format!("http://{}{path}", self.addr));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(Full::new(Bytes::new()))
            .expect("a valid request");
        self.client
            .request(request)
            .await
            .expect("the server answers")
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(&self, path: &str, headers: &[(&str, &str)], json: &str) -> Got {
        let mut all = vec![("content-type", "application/json")];
        all.extend_from_slice(headers);
        self.send(Method::POST, path, &all, json).await
    }
}

/// `bytes` decoded from `content_encoding` (`gzip`, `br`, `zstd`, or none): how a browser reads
/// the answer.
pub fn decode(content_encoding: Option<&str>, bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    match content_encoding {
        None | Some("identity") => out.extend_from_slice(bytes),
        Some("gzip") => {
            flate2::read::GzDecoder::new(bytes)
                .read_to_end(&mut out)
                .expect("valid gzip");
        }
        Some("br") => {
            brotli::Decompressor::new(bytes, 4096)
                .read_to_end(&mut out)
                .expect("valid brotli");
        }
        Some("zstd") => out = zstd::stream::decode_all(bytes).expect("valid zstd"),
        Some(other) => panic!("unexpected content-encoding {other}"),
    }
    out
}

/// The value of the series `name` (with its labels, as Prometheus prints them) in a scrape of
/// `/metrics`, 0 if absent.
pub fn prometheus_series(scrape: &str, name: &str) -> f64 {
    scrape
        .lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            (series == name).then(|| value.parse().expect("a number"))
        })
        .unwrap_or(0.0)
}

/// Asserts every `(series, value)` of `expected` in a scrape of `/metrics`.
pub fn assert_counted(scrape: &str, expected: &[(&str, f64)]) {
    for (name, value) in expected {
        assert_eq!(
            prometheus_series(scrape, name),
            *value,
            "{name} in {scrape}"
        );
    }
}

/// `GET /metrics` of `server`: the scrape, after checking it is answered beside the cache and
/// never stored.
pub async fn scrape_metrics(server: &Server) -> String {
    let scrape = server.get("/metrics").await;
    assert_eq!(scrape.status, 200);
    assert_eq!(scrape.header("cache-control"), Some("no-store"));
    assert!(
        scrape.headers.get("x-isr-cache").is_none(),
        "/metrics is beside the cache"
    );
    scrape.body
}
