//! One server per benchmark mode, all serving the same ~2 KB page on 127.0.0.1:`PORT`.
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
//!   actix-isr-hit  the origin on actix-web behind IsrActix, on HIT
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use isr_layer::{IsrLayer, Revalidate};

mod actix;

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

async fn renders(State(origin): State<Origin>) -> String {
    origin.renders.load(Ordering::Relaxed).to_string()
}

const USAGE: &str = "usage: bench-server <static|nocache|isr-hit|isr-stale|isr-miss|arc-hit|isr-fs-hit|isr-redis-hit|isr-fs-l2|isr-redis-l2|actix-static|actix-isr-hit> <port>";

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
    let stats = Router::new()
        .route("/__renders", get(renders))
        .with_state(origin);

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
            if let Some(mb) = std::env::var("BENCH_STORE_MB")
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
            {
                builder = builder.store(isr_layer::MemoryStore::new(mb * 1024 * 1024));
            }
            let isr = builder.build()?;
            origin_router.layer(isr)
        }
        "isr-fs-hit" | "isr-fs-l2" => {
            let dir = std::env::temp_dir().join(format!("isr-bench-fs-{}", std::process::id()));
            let mut store = isr_layer::store::FsStore::builder(&dir);
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
