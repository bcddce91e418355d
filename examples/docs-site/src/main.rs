//! Runs the docs site: `PORT` (default 3000), `REVALIDATION_SECRET`, `DOCS_REVALIDATE`,
//! `STATS_REVALIDATE`, `ISR_REDIS_URL` or `ISR_FS_DIR` for a shared or persistent store, and
//! `ISR_DEBUG_CACHE=1` for the cache debug log, `ISR_METRICS=1` for `GET /metrics`.

use docs_site::Site;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let (config, port) = docs_site::start_up()?;
    let site = Site::new(config).await?;
    let router = site.router();
    let report = site.prerender(router.clone()).await;
    tracing::info!(
        rendered = report.rendered,
        failed = report.failed.len(),
        took_ms = report.took.as_millis() as u64,
        "prerendered the docs"
    );

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
