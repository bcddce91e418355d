//! Runs the product API on `UPSTREAM_PORT` (default 3001) and the shop on `PORT` (default
//! 3000). `REVALIDATION_SECRET` guards the webhook (a development secret is generated without
//! it); `ISR_DEBUG_CACHE=1` logs every cache decision.

use std::time::Duration;

use store::Shop;
use store::upstream::Api;
use tracing_subscriber::EnvFilter;

fn port(var: &str, default: u16) -> Result<u16, String> {
    match std::env::var(var) {
        Ok(p) => p
            .parse()
            .map_err(|e| format!("{var}={p:?} is not a port number: {e}")),
        Err(_) => Ok(default),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let secret = match std::env::var("REVALIDATION_SECRET") {
        Ok(s) if !s.trim().is_empty() => s,
        _ => {
            let s = format!(
                "dev-{:x}",
                std::process::id() as u64 * 0x9E37_79B9_7F4A_7C15
            );
            tracing::warn!("REVALIDATION_SECRET is not set; using a development secret: {s}");
            s
        }
    };

    let api = Api::seeded(Duration::from_millis(30));
    let api_listener =
        tokio::net::TcpListener::bind(("127.0.0.1", port("UPSTREAM_PORT", 3001)?)).await?;
    let api_addr = api_listener.local_addr()?;
    tracing::info!("product API on http://{api_addr}");
    tokio::spawn(axum::serve(api_listener, api.router()).into_future());

    let shop = Shop::new(&format!("http://{api_addr}"), &secret)?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port("PORT", 3000)?)).await?;
    tracing::info!("shop on http://{}", listener.local_addr()?);
    axum::serve(listener, shop.router())
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
