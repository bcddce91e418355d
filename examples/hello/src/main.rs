//! The smallest ISR app: one page, rendered at most once every 10 seconds.
//!
//! ```text
//! cargo run -p example-hello            # PORT=3000 by default
//! curl -si localhost:3000/ | grep -i -e x-isr-cache -e age -e render
//! ```
//!
//! The first request is a `MISS` (it waits ~200 ms for the render), the next ones are `HIT`
//! (instant). After 10 seconds the next visitor gets the old page at once as `STALE` while one
//! render runs in the background; the visitor after that gets the new page as `HIT`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use isr_axum::{IsrLayer, Revalidate};
use tracing_subscriber::EnvFilter;

#[derive(Clone)]
struct App {
    started: Instant,
    renders: Arc<AtomicU64>,
}

/// A page that is slow to render, as a real one that queries a database would be.
async fn home(State(app): State<App>) -> Html<String> {
    tokio::time::sleep(Duration::from_millis(200)).await;
    let n = app.renders.fetch_add(1, Ordering::Relaxed) + 1;
    let at = app.started.elapsed().as_secs_f64();
    Html(format!(
        "<!doctype html>\n<title>isr-rs hello</title>\n<h1>Hello from isr-rs</h1>\n\
         <p>render #{n}, rendered {at:.1} s after start-up</p>\n"
    ))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let isr = IsrLayer::builder()
        .revalidate(Revalidate::secs(10))
        .build()?;
    let state = App {
        started: Instant::now(),
        renders: Arc::new(AtomicU64::new(0)),
    };
    let app = Router::new()
        .route("/", get(home))
        .with_state(state)
        .layer(isr);

    let port: u16 = match std::env::var("PORT") {
        Ok(p) => p
            .parse()
            .map_err(|e| format!("PORT={p:?} is not a port number: {e}"))?,
        Err(_) => 3000,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
