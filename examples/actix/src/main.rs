//! Runs the docs site on actix-web: `PORT` (default 3000), `REVALIDATION_SECRET`,
//! `DOCS_REVALIDATE`, `STATS_REVALIDATE`, `ISR_MAX_BYTES`, `ISR_REDIS_URL` or `ISR_FS_DIR` for a
//! shared or persistent store, `ISR_DEBUG_CACHE=1` for the cache debug log, and `ISR_METRICS=1`
//! for `GET /metrics`.

use actix_docs_site::{Site, app};
use actix_web::HttpServer;

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let (config, port) = docs_site::start_up()?;
    let site = Site::new(config).await?;
    let report = site.prerender().await;
    tracing::info!(
        rendered = report.rendered,
        failed = report.failed.len(),
        took_ms = report.took.as_millis() as u64,
        "prerendered the docs"
    );

    let workers = site.clone();
    let server = HttpServer::new(move || app(workers.clone())).bind(("127.0.0.1", port))?;
    tracing::info!("listening on http://{}", server.addrs()[0]);
    server.run().await?;
    Ok(())
}
