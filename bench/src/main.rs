//! One server per benchmark mode, on 127.0.0.1:`PORT`. The first modes serve the same ~2 KB
//! page; the browser-traffic modes (`bench/browser.sh`) an ~8 KB HTML article, and the
//! streaming modes (`bench/ttfb.sh`) the article in two chunks.
//!
//! ```text
//! bench-server <mode> <port>
//!   static     the physical limit: a handler returning a fixed `Bytes` body
//!   nocache    the origin: a simulated 5 ms render, every request
//!   isr-hit    the origin behind IsrLayer, revalidate never: every request after the first HITs
//!   isr-stale  the origin behind IsrLayer, past its revalidate with regenerations failing and
//!              backed off: every request is served STALE
//!   isr-miss   the origin behind IsrLayer; the load generator asks for a new path every time
//!   arc-hit    the origin behind axum-response-cache (the nearest Rust peer), on HIT
//!   isr-fs-hit     isr-hit with an FsStore (hits come from its in-memory copies)
//!   isr-redis-hit  isr-hit with a RedisStore at ISR_REDIS_URL (hits come from its L1)
//!   isr-fs-l2      isr-fs-hit with no room in memory: every hit reads and decodes the file
//!   isr-redis-l2   isr-redis-hit with no room in memory: every hit is a GET from Redis
//!   actix-static   the physical limit on actix-web (one worker)
//!   actix-static-head  actix-static with the hit's seven headers (fixed values)
//!   actix-isr-hit  the origin on actix-web behind IsrActix, on HIT
//!
//!   static-br      the physical limit for compressed HTML: the article, Brotli (quality 5)
//!                  once at start-up, served as fixed bytes with `content-encoding: br`
//!   static-gzip    the same with gzip (level 6)
//!   origin-html    the article's origin: a simulated 5 ms render, every request (the
//!                  origin of nginx-gzip and varnish-gzip)
//!   isr-hit-html   origin-html behind IsrLayer, revalidate never: every request after the
//!                  first HITs, served from the representation the request accepts
//!   compress-outside           isr-hit-html inside tower-http's CompressionLayer
//!   compress-outside-identity  the same with the cache's compression off: the cache keeps
//!                              identity only and CompressionLayer compresses every hit
//!                              (zstd for a browser's Accept-Encoding: tower-http's choice)
//!   compress-outside-identity-br  the same with CompressionLayer's zstd off: Brotli per hit
//!   actix-isr-hit-html         origin-html on actix-web behind IsrActix, on HIT
//!   stream-nocache the article in two chunks: the first at once, the rest 200 ms later, every
//!                  request rendered
//!   stream-isr     stream-nocache behind IsrLayer (a new path per request: every one a MISS)
//!
//!   same-process   the article four ways in one process, for hits across cores
//!                  (`bench/cores.sh`): `/static` its fixed bytes, `/static-head` the same
//!                  with the hit's nine headers (a fixed map, copied per answer), `/hit`
//!                  origin-html behind IsrLayer on HIT, `/stale` the same past its revalidate
//!                  with regenerations failing and backed off (every request STALE)
//! ```

use std::convert::Infallible;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CONTENT_ENCODING, CONTENT_TYPE, VARY};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use futures_util::StreamExt;
use isr_layer::compression::Compression;
use isr_layer::{IsrLayer, Revalidate};

mod actix;

/// The environment variable `name`, a number of MiB, in bytes.
fn env_mib(name: &str) -> Option<u64> {
    std::env::var(name)
        .ok()?
        .parse::<u64>()
        .ok()
        .map(|mib| mib * 1024 * 1024)
}

/// A page of about 2 KB (`BENCH_PAGE_BYTES` to change it, e.g. small pages for the memory run).
fn page(n: u64) -> String {
    static SIZE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let size = *SIZE.get_or_init(|| {
        std::env::var("BENCH_PAGE_BYTES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2000)
    });
    let mut html = String::from("<!doctype html><html><head><title>bench</title></head><body>");
    html.push_str(&format!("<h1>render {n}</h1>"));
    while html.len() < size {
        html.push_str("<p>Incremental Static Regeneration serves this from a cache.</p>");
    }
    html.push_str("</body></html>");
    html
}

/// The size the HTML article grows to before its closing tags (it ends a little above).
const HTML_PAGE_BYTES: usize = 8000;

/// Sentences the article's paragraphs are drawn from.
const SENTENCES: [&str; 32] = [
    "Incremental Static Regeneration keeps a rendered page and serves it to every visitor until it is due for a refresh.",
    "When the page goes stale, the next visitor still gets the stored copy while one regeneration runs in the background.",
    "A storm of concurrent requests for a cold page causes exactly one render; the others wait for its result.",
    "Tags let an editor purge every page that shows a product without knowing the paths that page appears under.",
    "The cache sits in front of the router, so a hit never reaches the handler, the template engine or the database.",
    "Compressed copies are made once per render, when the page is stored, and never again for each request.",
    "A browser that accepts Brotli receives the Brotli bytes; an old client that accepts nothing receives the page as rendered.",
    "Every answer names the representation it carries, so shared caches downstream keep them apart.",
    "Our spring catalogue lists four hundred titles, from field guides to translated poetry and a new series of atlases.",
    "Orders placed before noon leave the warehouse on the same day, and tracking numbers arrive by email within the hour.",
    "The reading room on the second floor is open from nine in the morning until eight in the evening, Monday to Saturday.",
    "Members may borrow up to twelve items at once and renew each of them twice, online or at any desk.",
    "Last year the archive digitised more than thirty thousand letters, maps and photographs from the harbour collection.",
    "Volunteers transcribe the handwritten ledgers, and every transcription is checked by a second reader before it is published.",
    "The exhibition closes on the last Sunday of the month; guided tours start at eleven and at three.",
    "Children under twelve enter free of charge when accompanied by an adult holding a valid ticket.",
    "Please note that the north entrance is closed for renovation; step-free access is available through the garden gate.",
    "Questions about accessibility, group bookings or school visits can be sent to the visitor services team.",
    "The weather station on the roof records temperature, humidity and wind speed every ten minutes.",
    "Readings are published as open data under a permissive licence and can be downloaded as CSV or JSON.",
    "A new release of the command-line client adds resumable downloads and a progress bar that respects narrow terminals.",
    "Deprecated options keep working for two minor versions and print a warning that names their replacement.",
    "Benchmarks run on a dedicated machine, interleaved in rounds, and every figure is the median of its rounds.",
    "Latency percentiles are reported alongside throughput, because a fast average can hide a slow tail.",
    "The editorial calendar for autumn includes a series on river restoration and an interview with the city architect.",
    "Comments are moderated and appear after review; we remove personal attacks, spam and off-topic advertising.",
    "Subscribers receive the weekly digest every Friday morning, with the most read stories and a short quiz.",
    "Our privacy notice explains which cookies we set, how long we keep server logs and how to ask for your data.",
    "The recipe serves four: roast the squash with garlic and thyme, then fold it into the risotto just before serving.",
    "Train services between the two stations are replaced by buses on weekends while the bridge is repaired.",
    "The council meets on the first Tuesday of every month, and its agendas are published a week in advance.",
    "Photographs in this article are reproduced with the permission of the photographers and may not be reused.",
];

/// The HTML article of the browser-traffic modes: head, navigation, about 8 KB of paragraphs
/// drawn from [`SENTENCES`] by a fixed sequence (the same page in every run), and a footer.
fn html_page(n: u64) -> String {
    let mut html = String::with_capacity(HTML_PAGE_BYTES + 1024);
    html.push_str(concat!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
        "<title>Notes from the harbour archive | The Quay Review</title>\n",
        "<meta name=\"description\" content=\"News, events and notes from the harbour archive ",
        "and reading room.\">\n<link rel=\"stylesheet\" href=\"/assets/site.css\">\n",
        "<link rel=\"icon\" href=\"/favicon.ico\">\n",
        "<script defer src=\"/assets/site.js\"></script>\n</head>\n<body class=\"article\">\n",
        "<header class=\"site-header\"><a class=\"logo\" href=\"/\">The Quay Review</a>\n",
        "<nav><ul><li><a href=\"/news\">News</a></li><li><a href=\"/events\">Events</a></li>",
        "<li><a href=\"/archive\">Archive</a></li><li><a href=\"/visit\">Visit</a></li>",
        "<li><a href=\"/about\">About</a></li></ul></nav></header>\n<main>\n<article>\n",
    ));
    html.push_str(&format!(
        "<h1>Notes from the harbour archive</h1>\n<p class=\"byline\">By the editors, \
         edition {n}</p>\n"
    ));
    // A fixed linear congruential sequence picks the sentences and the paragraph lengths.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |bound: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % bound
    };
    let mut section = 0;
    while html.len() < HTML_PAGE_BYTES {
        if section % 3 == 0 {
            html.push_str(&format!(
                "<h2 id=\"s{section}\">Section {}</h2>\n",
                section / 3 + 1
            ));
        }
        section += 1;
        html.push_str("<p>");
        for i in 0..2 + next(3) {
            if i > 0 {
                html.push(' ');
            }
            html.push_str(SENTENCES[next(SENTENCES.len() as u64) as usize]);
        }
        html.push_str("</p>\n");
    }
    html.push_str(concat!(
        "</article>\n</main>\n<footer class=\"site-footer\"><p>&copy; The Quay Review. ",
        "<a href=\"/privacy\">Privacy</a> &middot; <a href=\"/contact\">Contact</a></p>",
        "</footer>\n</body>\n</html>\n",
    ));
    html
}

/// `body` compressed with Brotli at `quality` (the page given whole, as the cache does).
fn brotli(body: &[u8], quality: u32) -> Vec<u8> {
    let mut encoder = brotli::CompressorWriter::new(Vec::new(), 4096, quality, 22);
    encoder.write_all(body).expect("writing to a Vec");
    encoder.into_inner()
}

/// `body` compressed with gzip at `level`.
fn gzip(body: &[u8], level: u32) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    encoder.write_all(body).expect("writing to a Vec");
    encoder.finish().expect("writing to a Vec")
}

/// A router answering `/` with fixed `body` bytes encoded as `encoding`.
fn static_encoded(body: Vec<u8>, encoding: &'static str) -> Router {
    let body = Bytes::from(body);
    Router::new().route(
        "/",
        get(move || {
            let body = body.clone();
            async move {
                (
                    [
                        (
                            CONTENT_TYPE,
                            HeaderValue::from_static("text/html; charset=utf-8"),
                        ),
                        (CONTENT_ENCODING, HeaderValue::from_static(encoding)),
                        (VARY, HeaderValue::from_static("accept-encoding")),
                    ],
                    body,
                )
            }
        }),
    )
}

/// `BENCH_REVALIDATE_SECS` (default: never), so a storm can find the page stale.
fn revalidate_from_env() -> Revalidate {
    std::env::var("BENCH_REVALIDATE_SECS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(Revalidate::Never, Revalidate::secs)
}

#[derive(Clone, Default)]
struct Origin {
    renders: Arc<AtomicU64>,
    fail_after_first: bool,
}

async fn render(State(origin): State<Origin>) -> Response {
    tokio::time::sleep(Duration::from_millis(5)).await;
    let n = origin.renders.fetch_add(1, Ordering::Relaxed) + 1;
    if origin.fail_after_first && n > 1 {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    Html(page(n)).into_response()
}

/// The article's origin: a simulated 5 ms render, like [`render`].
async fn render_html(State(origin): State<Origin>) -> Response {
    tokio::time::sleep(Duration::from_millis(5)).await;
    let n = origin.renders.fetch_add(1, Ordering::Relaxed) + 1;
    if origin.fail_after_first && n > 1 {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    Html(html_page(n)).into_response()
}

/// The `same-process` mode: the article as fixed bytes (`/static`), as fixed bytes with the
/// hit's headers (`/static-head`), on HIT (`/hit`) and STALE (`/stale`), side by side in one
/// process and one runtime, so that the four are measured on the same threads. `/__renders` counts the renders of `/hit`; `/stale` has an
/// origin of its own, whose renders after the first fail.
fn same_process(origin: &Origin) -> Result<Router, Box<dyn std::error::Error>> {
    let failing = Origin {
        fail_after_first: true,
        ..Origin::default()
    };
    let body = Bytes::from(html_page(1));
    let hit = IsrLayer::builder().revalidate(Revalidate::Never).build()?;
    let stale = IsrLayer::builder()
        .revalidate(Revalidate::After(Duration::from_secs(1)))
        .retry_backoff(Duration::from_secs(3600), Duration::from_secs(3600))
        .build()?;
    // The hit's head as fixed values: what the hit answers, without the cache.
    let mut head = axum::http::HeaderMap::new();
    for (name, value) in [
        ("content-type", "text/html; charset=utf-8"),
        ("cache-control", "s-maxage=31536000"),
        ("vary", "accept-encoding"),
        ("etag", "\"7a5dc2cfa2f9e59e04a02860dc1443ab\""),
        ("last-modified", "Thu, 03 Dec 2026 10:49:27 GMT"),
        ("age", "0"),
        ("x-isr-cache", "HIT"),
    ] {
        head.insert(name, HeaderValue::from_static(value));
    }
    head.insert(
        axum::http::header::CONTENT_LENGTH,
        HeaderValue::from(body.len()),
    );
    let head_body = body.clone();
    Ok(Router::new()
        .route(
            "/static",
            get(move || {
                let body = body.clone();
                async move { Html(body) }
            }),
        )
        .route(
            "/static-head",
            get(move || {
                let mut response = Response::new(Body::from(head_body.clone()));
                *response.headers_mut() = head.clone();
                async move { response }
            }),
        )
        .merge(
            Router::new()
                .route("/hit", get(render_html))
                .with_state(origin.clone())
                .layer(hit),
        )
        .merge(
            Router::new()
                .route("/stale", get(render_html))
                .with_state(failing)
                .layer(stale),
        ))
}

/// How long the streaming origin waits between its first chunk and the rest.
const STREAM_PAUSE: Duration = Duration::from_millis(200);

/// The streaming origin: the article's head and first lines at once, the rest 200 ms later (a
/// page whose shell is ready before its data). No simulated render before the first chunk.
async fn render_stream(State(origin): State<Origin>) -> Response {
    let n = origin.renders.fetch_add(1, Ordering::Relaxed) + 1;
    let page = Bytes::from(html_page(n));
    let first = page.slice(..1024);
    let rest = page.slice(1024..);
    let chunks = futures_util::stream::iter([(first, Duration::ZERO), (rest, STREAM_PAUSE)]).then(
        |(chunk, pause)| async move {
            if !pause.is_zero() {
                tokio::time::sleep(pause).await;
            }
            Ok::<_, Infallible>(chunk)
        },
    );
    (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        Body::from_stream(chunks),
    )
        .into_response()
}

async fn renders(State(origin): State<Origin>) -> String {
    origin.renders.load(Ordering::Relaxed).to_string()
}

const USAGE: &str = "usage: bench-server <static|nocache|isr-hit|isr-stale|isr-miss|arc-hit|isr-fs-hit|isr-redis-hit|isr-fs-l2|isr-redis-l2|actix-static|actix-static-head|actix-isr-hit|static-br|static-gzip|origin-html|isr-hit-html|compress-outside|compress-outside-identity|compress-outside-identity-br|actix-isr-hit-html|stream-nocache|stream-isr|same-process> <port>";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mode = args.next().ok_or(USAGE)?;
    let port: u16 = args.next().ok_or(USAGE)?.parse()?;
    if mode.starts_with("actix-") {
        // actix-web runs its own system: one worker thread with a local runtime.
        return actix::serve(&mode, port);
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve(mode, port))
}

async fn serve(mode: String, port: u16) -> Result<(), Box<dyn std::error::Error>> {
    let origin = Origin {
        fail_after_first: mode == "isr-stale",
        ..Origin::default()
    };
    let origin_router = Router::new()
        .route("/", get(render))
        .route("/{*path}", get(render))
        .with_state(origin.clone());
    let html_router = Router::new()
        .route("/", get(render_html))
        .route("/{*path}", get(render_html))
        .with_state(origin.clone());
    let stream_router = Router::new()
        .route("/", get(render_stream))
        .route("/{*path}", get(render_stream))
        .with_state(origin.clone());
    let stats = Router::new()
        .route("/__renders", get(renders))
        .with_state(origin.clone());

    let app = match mode.as_str() {
        "static" => {
            let body = Bytes::from(page(1));
            Router::new().route(
                "/",
                get(move || {
                    let body = body.clone();
                    async move { Html(body) }
                }),
            )
        }
        "nocache" => origin_router,
        "arc-hit" => origin_router.layer(axum_response_cache::CacheLayer::with_lifespan(
            Duration::from_secs(3600),
        )),
        "isr-hit" | "isr-miss" => {
            let mut builder = IsrLayer::builder().revalidate(revalidate_from_env());
            // BENCH_STORE_MB bounds the memory store (default: the layer's 256 MiB).
            if let Some(bytes) = env_mib("BENCH_STORE_MB") {
                builder = builder.store(isr_layer::store::MemoryStore::new(bytes));
            }
            // BENCH_COMPRESSION=off: no encodings planned (identity bodies only).
            if std::env::var("BENCH_COMPRESSION").is_ok_and(|v| v == "off") {
                builder = builder.compression(isr_layer::compression::Compression::off());
            }
            let isr = builder.build()?;
            origin_router.layer(isr)
        }
        "isr-fs-hit" | "isr-fs-l2" => {
            // BENCH_FS_DIR: where the files go (default: a new directory under the temporary
            // directory); BENCH_STORE_MB bounds the files' bytes, BENCH_MEMORY_MB the copies
            // kept in memory.
            let dir = std::env::var_os("BENCH_FS_DIR").map_or_else(
                || std::env::temp_dir().join(format!("isr-bench-fs-{}", std::process::id())),
                std::path::PathBuf::from,
            );
            let mut store = isr_layer::store::FsStore::builder(&dir);
            if let Some(bytes) = env_mib("BENCH_STORE_MB") {
                store = store.max_bytes(bytes);
            }
            if let Some(bytes) = env_mib("BENCH_MEMORY_MB") {
                store = store.memory_bytes(bytes);
            }
            if mode == "isr-fs-l2" {
                // Smaller than any page: nothing stays in memory.
                store = store.memory_bytes(1);
            }
            let store = store.open()?;
            let isr = IsrLayer::builder()
                .revalidate(Revalidate::Never)
                .store(store)
                .build()?;
            origin_router.layer(isr)
        }
        "isr-redis-hit" | "isr-redis-l2" => {
            let url = std::env::var("ISR_REDIS_URL")
                .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
            // BENCH_REDIS_PREFIX: instances started with the same prefix share their pages.
            let prefix = std::env::var("BENCH_REDIS_PREFIX")
                .unwrap_or_else(|_| format!("isr-bench-{}", std::process::id()));
            let mut store = isr_layer::store::RedisStore::builder(url).prefix(prefix);
            if mode == "isr-redis-l2" {
                // Smaller than any page: nothing stays in memory.
                store = store.memory_bytes(1);
            }
            let store = store.connect().await?;
            let isr = IsrLayer::builder()
                .revalidate(revalidate_from_env())
                .store(store)
                .build()?;
            origin_router.layer(isr)
        }
        "isr-stale" => {
            let isr = IsrLayer::builder()
                .revalidate(Revalidate::After(Duration::from_secs(1)))
                .retry_backoff(Duration::from_secs(3600), Duration::from_secs(3600))
                .build()?;
            origin_router.layer(isr)
        }
        "static-br" => static_encoded(brotli(html_page(1).as_bytes(), 5), "br"),
        "static-gzip" => static_encoded(gzip(html_page(1).as_bytes(), 6), "gzip"),
        "origin-html" => html_router,
        "isr-hit-html" => {
            let isr = IsrLayer::builder().revalidate(Revalidate::Never).build()?;
            html_router.layer(isr)
        }
        "compress-outside" | "compress-outside-identity" | "compress-outside-identity-br" => {
            let mut builder = IsrLayer::builder().revalidate(Revalidate::Never);
            if mode != "compress-outside" {
                builder = builder.compression(Compression::off());
            }
            let mut compression = tower_http::compression::CompressionLayer::new();
            if mode == "compress-outside-identity-br" {
                // tower-http prefers zstd among equal q-values; without it, Brotli (quality 4).
                compression = compression.no_zstd();
            }
            html_router.layer(builder.build()?).layer(compression)
        }
        "same-process" => same_process(&origin)?,
        "stream-nocache" => stream_router,
        "stream-isr" => {
            let isr = IsrLayer::builder().revalidate(Revalidate::Never).build()?;
            stream_router.layer(isr)
        }
        other => return Err(format!("unknown mode {other:?}; {USAGE}").into()),
    }
    .merge(stats);

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("{mode} listening on {}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
