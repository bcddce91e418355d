//! Serves the Leptos site on `PORT` (default 3000), cached by the ISR layer with a revalidate
//! of `REVALIDATE` seconds (default 10). `ISR_OFF=1` serves the same site uncached;
//! `ISR_DEBUG_CACHE=1` logs every cache decision.

use std::net::SocketAddr;

use isr_layer::{IsrLayer, Revalidate};
use leptos_site::Site;
use tracing_subscriber::EnvFilter;

fn var<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .map_err(|e| format!("{name}={v:?} is not valid: {e}")),
        Err(_) => Ok(default),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    let port: u16 = var("PORT", 3000)?;
    let revalidate: u64 = var("REVALIDATE", 10)?;
    if revalidate == 0 {
        return Err(
            "REVALIDATE must be at least 1 second (ISR_OFF=1 serves the site uncached)".into(),
        );
    }
    let cached = !matches!(std::env::var("ISR_OFF").as_deref(), Ok("1" | "true"));

    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let site = Site::new(addr);
    let isr = if cached {
        Some(
            IsrLayer::builder()
                .revalidate(Revalidate::secs(revalidate))
                .build()?,
        )
    } else {
        None
    };

    let listener = tokio::net::TcpListener::bind(addr).await?;
    match &isr {
        Some(_) => tracing::info!(
            "listening on http://{}, cached (revalidate {revalidate} s)",
            listener.local_addr()?
        ),
        None => tracing::info!(
            "listening on http://{}, uncached (ISR_OFF)",
            listener.local_addr()?
        ),
    }
    axum::serve(listener, site.app(isr.as_ref()))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
